"""An independent numpy reference of PBS's WARS model (Bailis et al., VLDB 2012).

capsim's probe is checked against it (tests/integration/test_pbs.py).

WARS, as in PBS §4.1: a coordinator sends a write to all N replicas at time
0; replica i's write request takes W_i and its ack A_i, and the write commits
at the W-th smallest W_i + A_i. A read is sent t ms after the commit to all N
replicas; replica i's request takes R_i and its response S_i, the read
returns with the R fastest responses (smallest R_i + S_i), and it is
consistent when one of those R replicas had the write when the read request
reached it: W_i <= commit + t + R_i. Every replica, the coordinator's own
included, pays all four latencies; W, A, R and S are drawn independently per
message, i.i.d. across replicas, versions and trials.

Everything is vectorised over trials; the only Python loop is over read
offsets (one (trials, N) block of fresh read draws each), which bounds memory.
Ties between equal R_i + S_i (constant latencies) are broken by an arbitrary
but deterministic rule that never looks at the write: since replicas are
exchangeable, that is the same in distribution as breaking them at random.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sim.distributions import Distribution

KINDS: tuple[str, ...] = ("write", "ack", "read", "response")
"""The message kinds a `dists` mapping must cover: PBS's W, A, R and S."""


@dataclass(frozen=True, slots=True)
class WarsResult:
    """What `wars` measured: consistency per offset and the latencies a notebook quotes.

    Attributes:
        offsets_ms: the read offsets t after the commit, shape (m,).
        p_consistent: the fraction of consistent reads at each offset, shape (m,).
        commit_latency_ms: each trial's write latency (send to commit), shape (trials,).
        read_latency_ms: each read's latency (send to R-th response), shape (m, trials).
    """

    offsets_ms: np.ndarray
    p_consistent: np.ndarray
    commit_latency_ms: np.ndarray
    read_latency_ms: np.ndarray


def _check(n: int, r: int, w: int, dists: Mapping[str, Distribution], trials: int) -> None:
    """Reject quorums outside 1..n, too few trials and a `dists` missing a kind."""
    if n < 1 or not 1 <= r <= n or not 1 <= w <= n:
        raise ValueError(f"need 1 <= r, w <= n (got n={n}, r={r}, w={w})")
    if trials < 1:
        raise ValueError(f"trials must be >= 1 (got {trials})")
    missing = [kind for kind in KINDS if kind not in dists]
    if missing:
        raise ValueError(f"dists lacks {missing} (needs every one of {list(KINDS)})")


def _draw(dist: Distribution, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """One latency per message, in `shape`."""
    return dist.sample(rng, math.prod(shape)).reshape(shape)


def _kth_smallest(x: np.ndarray, k: int) -> np.ndarray:
    """The k-th smallest (1-based) along the last axis: a quorum of k replies."""
    return np.partition(x, k - 1, axis=-1)[..., k - 1]


def _read(
    r: int, dists: Mapping[str, Distribution], rng: np.random.Generator, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one read per row of `shape` (last axis: replicas).

    Returns:
        (indices of the r fastest responders, R_i of those, the read's latency).
    """
    request = _draw(dists["read"], rng, shape)
    round_trip = request + _draw(dists["response"], rng, shape)
    fastest = np.argpartition(round_trip, r - 1, axis=-1)[..., :r]
    latency = np.take_along_axis(round_trip, fastest, axis=-1).max(axis=-1)
    return fastest, np.take_along_axis(request, fastest, axis=-1), latency


def wars(
    n: int,
    r: int,
    w: int,
    dists: Mapping[str, Distribution],
    offsets_ms: Sequence[float] | np.ndarray,
    trials: int,
    rng: np.random.Generator,
) -> WarsResult:
    """Monte Carlo of PBS's t-visibility: one write per trial, one fresh read per offset.

    Args:
        n: replicas (all of them receive every write and every read).
        r: read quorum: the read returns with the r fastest responses.
        w: write quorum: the write commits at the w-th ack.
        dists: the latency of each message kind in KINDS, e.g. `{"write": Exponential(10.0), ...}`.
        offsets_ms: when the reads are sent, in ms after the commit.
        trials: independent writes (each read at every offset).
        rng: the only source of randomness; the same seed gives the same result.

    Returns:
        P(consistent) per offset plus the commit and read latencies.

    Raises:
        ValueError: a quorum outside 1..n, trials < 1, or a kind missing from `dists`.
    """
    _check(n, r, w, dists, trials)
    offsets = np.asarray(offsets_ms, dtype=np.float64).reshape(-1)
    write = _draw(dists["write"], rng, (trials, n))
    commit = _kth_smallest(write + _draw(dists["ack"], rng, (trials, n)), w)
    p_consistent = np.empty(offsets.size)
    read_latency = np.empty((offsets.size, trials))
    for j, t in enumerate(offsets):
        fastest, request, read_latency[j] = _read(r, dists, rng, (trials, n))
        # PBS: replica i answers with the write iff it arrived before the read request did.
        seen = np.take_along_axis(write, fastest, axis=1) <= (commit + t)[:, None] + request
        p_consistent[j] = seen.any(axis=1).mean()
    return WarsResult(offsets, p_consistent, commit, read_latency)


def t_visibility(
    n: int,
    r: int,
    w: int,
    dists: Mapping[str, Distribution],
    offsets_ms: Sequence[float] | np.ndarray,
    trials: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """P(a read sent t ms after the commit sees the write), per offset: `wars(...).p_consistent`."""
    return wars(n, r, w, dists, offsets_ms, trials, rng).p_consistent


def k_staleness(
    n: int,
    r: int,
    w: int,
    dists: Mapping[str, Distribution],
    k_max: int,
    interval_ms: float,
    trials: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """P(a read sent at the latest commit returns one of the last k versions), for k = 1..k_max.

    One writer sends version m+1 `interval_ms` after version m commits; every
    version goes to all n replicas with fresh WARS latencies, and a replica
    holds the newest version that had reached it when the read request did.
    The read returns the newest version among its r fastest responders.

    Only the last k_max versions are simulated, and that is exact, not an
    approximation: whether a version is within the last k depends only on the
    versions from there on (their arrival times against the read, and the gaps
    between their sends, which are their commit latencies plus the interval),
    never on older ones; a read that finds none of them is outside k_max
    whatever older version it returns.

    Args:
        n: replicas.
        r: read quorum.
        w: write quorum.
        dists: the latency of each message kind in KINDS.
        k_max: the largest k reported.
        interval_ms: the pause between one version's commit and the next one's send.
        trials: independent runs of k_max versions and one read.
        rng: the only source of randomness.

    Returns:
        Shape (k_max,): entry k-1 is P(within k); non-decreasing in k.

    Raises:
        ValueError: a bad quorum, trials or k_max < 1, a negative interval, or a missing kind.
    """
    _check(n, r, w, dists, trials)
    if k_max < 1:
        raise ValueError(f"k_max must be >= 1 (got {k_max})")
    if interval_ms < 0:
        raise ValueError(f"interval_ms must be >= 0 (got {interval_ms})")
    write = _draw(dists["write"], rng, (trials, k_max, n))
    commit = _kth_smallest(write + _draw(dists["ack"], rng, (trials, k_max, n)), w)
    gaps = commit[:, :-1] + interval_ms
    send = np.concatenate([np.zeros((trials, 1)), np.cumsum(gaps, axis=1)], axis=1)
    read_at = send[:, -1] + commit[:, -1]  # the read leaves as the newest version commits
    fastest, request, _ = _read(r, dists, rng, (trials, n))
    # A responder's state: the versions that had reached it when the read request did.
    arrival = send[:, :, None] + write  # (trials, version, replica)
    index = np.broadcast_to(fastest[:, None, :], (trials, k_max, r))
    seen = np.take_along_axis(arrival, index, axis=2) <= (read_at[:, None] + request)[:, None, :]
    # Version numbers 1..k_max, oldest first; 0 means none of them reached the replica.
    held = np.where(seen, np.arange(1, k_max + 1)[None, :, None], 0).max(axis=1)
    staleness = k_max - held.max(axis=1)  # 0: the newest; k_max: older than all simulated
    return (staleness[:, None] < np.arange(1, k_max + 1)).mean(axis=0)


def k_staleness_bound(n: int, r: int, w: int, k: int) -> float:
    """PBS's closed form (§3.2): P(within k) = 1 - (C(n-w, r) / C(n, r))^k.

    It holds for quorums chosen uniformly at random when each write reaches
    exactly w replicas. Under WARS every version has reached at least its
    commit quorum (a uniform w-set, independent of the read's r-set) before
    the read, so WARS's k_staleness is never below it.
    """
    if n < 1 or not 1 <= r <= n or not 1 <= w <= n or k < 0:
        raise ValueError(f"need 1 <= r, w <= n and k >= 0 (got n={n}, r={r}, w={w}, k={k})")
    return 1.0 - (math.comb(n - w, r) / math.comb(n, r)) ** k
