"""The numpy WARS reference against closed forms and PBS's published figures.

The reference is what the simulator is checked against (tests/integration/
test_pbs.py), so it is checked first against what can be computed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.distributions import Constant, Exponential
from sim.metrics.visibility import first_reaching
from tests.reference.wars import k_staleness, k_staleness_bound, t_visibility, wars

TRIALS = 200_000
TOLERANCE = 4 * math.sqrt(0.25 / TRIALS)  # four standard errors of a share, at worst


def dists(write_mean: float, other: float | None = 1.0) -> dict:
    """PBS's synthetic profile: W exponential; A, R, S exponential (or zero when None)."""
    rest = Constant(0.0) if other is None else Exponential(other)
    return {"write": Exponential(write_mean), "ack": rest, "read": rest, "response": rest}


@pytest.mark.parametrize("n", [3, 5])
def test_one_replica_each_way_with_instant_acks_and_reads_is_a_closed_form(n: int) -> None:
    """A = R = S = 0, R = W = 1: the write commits at the fastest W_i; the read asks one
    replica, which has the write iff W_j <= min W + t: by memorylessness,
    P = 1 - (n - 1) / n * exp(-t / mean)."""
    offsets = np.array([0.0, 2.0, 5.0, 10.0, 30.0])
    got = t_visibility(n, 1, 1, dists(10.0, None), offsets, TRIALS, np.random.default_rng(1))
    expected = 1 - (n - 1) / n * np.exp(-offsets / 10.0)
    assert np.abs(got - expected).max() < TOLERANCE


@pytest.mark.parametrize(("r", "w"), [(1, 3), (2, 2), (3, 1), (3, 3)])
def test_overlapping_quorums_are_always_consistent(r: int, w: int) -> None:
    """R + W > N: every read quorum meets the commit quorum, at t = 0 and after."""
    got = t_visibility(3, r, w, dists(10.0), [0.0, 1.0], 20_000, np.random.default_rng(2))
    assert got.tolist() == [1.0, 1.0]


def test_pbs_synthetic_figures() -> None:
    """PBS §5 (N = 3, R = W = 1; A = R = S exp mean 1 ms): W mean 0.25 ms gives about 94%
    at t = 0; W mean 10 ms about 41% at t = 0 and 99.9% after about 65 ms."""
    fast = t_visibility(3, 1, 1, dists(0.25), [0.0], TRIALS, np.random.default_rng(3))
    assert fast[0] == pytest.approx(0.94, abs=0.01)
    offsets = np.arange(0.0, 120.0, 1.0)
    slow = wars(3, 1, 1, dists(10.0), offsets, TRIALS, np.random.default_rng(4))
    assert slow.p_consistent[0] == pytest.approx(0.42, abs=0.015)
    t_999 = first_reaching(offsets.tolist(), slow.p_consistent.tolist(), 0.999)
    assert t_999 == pytest.approx(65.0, rel=0.1)
    assert np.all(np.diff(slow.p_consistent) > -TOLERANCE)  # visibility only grows with t


def test_latencies_are_what_the_quorums_wait_for() -> None:
    """Constant latencies: the commit takes W + A, a read R + S, whatever the quorum."""
    kinds = {"write": 4.0, "ack": 1.0, "read": 2.0, "response": 3.0}
    constant = {kind: Constant(ms) for kind, ms in kinds.items()}
    result = wars(3, 2, 2, constant, [0.0], 10, np.random.default_rng(5))
    assert result.commit_latency_ms.tolist() == [5.0] * 10
    assert result.read_latency_ms.tolist() == [[5.0] * 10]


def test_k_staleness_closed_form_and_the_reference_against_it() -> None:
    """PBS §3.2: 1 - (C(N-W, R) / C(N, R))^k; WARS is never below it (every version has
    reached at least its commit quorum), and equals it at k = 1 when only W is slow."""
    assert k_staleness_bound(3, 1, 1, 1) == pytest.approx(1 / 3)
    assert k_staleness_bound(5, 2, 2, 2) == pytest.approx(1 - 0.3**2)
    assert k_staleness_bound(3, 2, 2, 1) == 1.0  # R + W > N
    got = k_staleness(3, 1, 1, dists(10.0, None), 4, 0.0, TRIALS, np.random.default_rng(6))
    bound = np.array([k_staleness_bound(3, 1, 1, k) for k in range(1, 5)])
    assert got[0] == pytest.approx(bound[0], abs=TOLERANCE)
    assert np.all(got >= bound - TOLERANCE)
    assert np.all(np.diff(got) >= 0)
    spaced = k_staleness(3, 1, 1, dists(10.0), 3, 10_000.0, 20_000, np.random.default_rng(7))
    assert spaced[1:].tolist() == [1.0, 1.0]  # 10 s apart, the previous version is everywhere


def test_bad_arguments_are_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="r, w <= n"):
        wars(3, 4, 1, dists(1.0), [0.0], 10, rng)
    with pytest.raises(ValueError, match="trials"):
        wars(3, 1, 1, dists(1.0), [0.0], 0, rng)
    with pytest.raises(ValueError, match="lacks"):
        wars(3, 1, 1, {"write": Constant(1.0)}, [0.0], 10, rng)
