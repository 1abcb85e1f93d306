"""t-visibility and k-staleness from probe reads (PBS), on hand-made histories."""

from __future__ import annotations

import pytest

from sim.history import FAIL, INVOKE, OK, PROBE, Op
from sim.metrics.visibility import first_reaching, k_staleness, t_visibility, wilson


def probe(key: str, write: int, offset: float, returned: int | None, ok: bool = True) -> tuple:
    asked = {"write": write, "offset_ms": offset}
    inv = Op("p", INVOKE, PROBE, key, asked, 0.0)
    if not ok:
        return inv, Op("p", FAIL, PROBE, key, None, 1.0)
    return inv, Op("p", OK, PROBE, key, {**asked, "returned": returned}, 1.0)


def test_wilson_matches_published_values() -> None:
    lo, hi = wilson(5, 10)  # the textbook example: 0.2366 .. 0.7634
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)  # z^2 / (n + z^2)
    assert wilson(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-5)


def test_first_reaching_interpolates_between_the_offsets_around_the_crossing() -> None:
    offsets = [0.0, 10.0, 20.0, 40.0]
    assert first_reaching(offsets, [0.5, 0.9, 0.99, 1.0], 0.99) == 20.0
    assert first_reaching(offsets, [0.5, 0.9, 0.98, 1.0], 0.99) == pytest.approx(30.0)
    assert first_reaching(offsets, [0.995, 1.0, 1.0, 1.0], 0.99) == 0.0
    assert first_reaching(offsets, [0.5, 0.9, 0.98, 0.985], 0.99) is None
    assert first_reaching(offsets, [0.5, None, 0.98, 1.0], 0.99) == pytest.approx(30.0)


def test_t_visibility_counts_that_write_or_a_newer_one_and_skips_failed_reads() -> None:
    pairs = [
        probe("a", 3, 0.0, 2),  # stale
        probe("a", 3, 0.0, 3),
        probe("a", 3, 10.0, 4),  # newer: consistent
        probe("a", 3, 10.0, None, ok=False),  # not answered: not counted
        probe("b", 0, 0.0, None),  # nothing yet: stale
        probe("b", 0, 10.0, 0),
    ]
    vis = t_visibility(pairs)
    assert vis["offsets_ms"] == [0.0, 10.0]
    assert vis["p_consistent"] == [pytest.approx(1 / 3, abs=1e-6), 1.0]
    assert vis["reads"] == [3, 2] and vis["trials"] == 2
    assert vis["ci95"][1] == [round(v, 6) for v in wilson(2, 2)]
    assert vis["t_999_ms"] == pytest.approx(9.985) and vis["t_99_ms"] == pytest.approx(9.85)


def test_t_visibility_is_null_without_probe_reads_and_never_reaching_is_null() -> None:
    assert t_visibility([]) is None
    vis = t_visibility([probe("a", 1, 0.0, 0), probe("a", 1, 5.0, 0)])
    assert vis["p_consistent"] == [0.0, 0.0]
    assert vis["t_999_ms"] is None and vis["t_99_ms"] is None


def test_k_staleness_counts_reads_among_the_last_k_versions_that_exist() -> None:
    pairs = [
        probe("a", 5, 0.0, 5),  # fresh
        probe("a", 6, 0.0, 5),  # one behind
        probe("a", 7, 0.0, 4),  # three behind
        probe("b", 0, 0.0, None),  # first version missed: stale at k = 1 only
        probe("a", 8, 10.0, 0),  # not at t = 0: not counted
    ]
    ks = k_staleness(pairs)
    assert ks["k"] == list(range(1, 9))  # versions 0..7 at t = 0: k up to 8
    assert ks["reads"][:3] == [4, 3, 3]
    two_thirds = pytest.approx(2 / 3, abs=1e-6)
    assert ks["p_within_k"][:4] == [0.25, two_thirds, two_thirds, 1.0]
    assert k_staleness([probe("a", 1, 5.0, 1)]) is None
