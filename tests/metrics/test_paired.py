"""The metrics' one pass pairs a history as `pair_ops` does, and its columns match the pairs."""

from __future__ import annotations

import numpy as np
from hypothesis import given

from sim.history import FAIL, INFO, INVOKE, OK, SHOP_FS, STORE_FS, Op, pair_ops
from sim.metrics.paired import Paired
from sim.metrics.timings import Timings
from tests.strategies import exportable_histories


def assert_same_timings(got: Timings, expected: Timings) -> None:
    np.testing.assert_array_equal(got.invoked_ms, expected.invoked_ms)
    np.testing.assert_array_equal(got.completed_ms, expected.completed_ms)  # NaN == NaN here
    np.testing.assert_array_equal(got.ok, expected.ok)


def is_ok(done: Op | None) -> bool:
    return done is not None and done.type == OK


def assert_pairs_like_pair_ops(ops: list[Op]) -> None:
    paired = Paired.of(ops)
    for level, fs in ((paired.shop, SHOP_FS), (paired.store, STORE_FS)):
        expected = pair_ops(ops, fs)
        assert list(level) == expected
        assert [level[i] for i in range(len(level))] == expected
        assert_same_timings(level.timings, Timings.of(expected))
        for f in fs:
            of_f = [pair for pair in expected if pair[0].f == f]
            assert level.pairs(f) == of_f
            assert_same_timings(level.timings_of(f), Timings.of(of_f))
            ok_of_f = [row for row in level.rows_of((f,)) if is_ok(level.completions[row])]
            assert level.ok_rows(f).tolist() == ok_of_f
    writes = [pair for pair in pair_ops(ops, STORE_FS) if pair[0].f in ("write", "cas")]
    assert paired.store.pairs("write", "cas") == writes  # several fs: still in the order invoked
    assert_same_timings(paired.store.timings_of("write", "cas"), Timings.of(writes))


def test_both_levels_are_paired_in_one_pass() -> None:
    ops = [
        Op(1, INVOKE, "order", None, {"product": "p"}, 0.0),
        Op(1, INVOKE, "read", "p", None, 1.0),  # the same process, the other level
        Op("nemesis", INFO, "partition", None, None, 1.5),  # neither level
        Op(2, INVOKE, "write", "p", "a", 2.0),
        Op(1, OK, "read", "p", "x", 3.0),
        Op(2, FAIL, "write", "p", "a", 4.0),
        Op(3, OK, "read", "p", "y", 4.5),  # no invoke: left out
        Op(1, OK, "order", None, {"outcome": "confirmed"}, 5.0),
        Op(2, INVOKE, "cas", "p", ["x", "b"], 6.0),  # still open at the end
        Op(4, INVOKE, "browse", None, None, 6.5),
        Op(4, INFO, "browse", None, None, 9.0),
    ]
    paired = Paired.of(ops)
    assert [(inv.f, done and done.type) for inv, done in paired.shop] == [
        ("order", OK),
        ("browse", INFO),
    ]
    assert [(inv.f, done and done.type) for inv, done in paired.store] == [
        ("read", OK),
        ("write", FAIL),
        ("cas", None),
    ]
    store = paired.store.timings
    assert store.invoked_ms.tolist() == [1.0, 2.0, 6.0]
    assert store.completed_ms[:2].tolist() == [3.0, 4.0] and np.isnan(store.completed_ms[2])
    assert store.ok.tolist() == [True, False, False]
    assert store.completed.tolist() == [True, True, False]
    assert_pairs_like_pair_ops(ops)


@given(exportable_histories(max_ops=30))
def test_any_history_is_paired_as_pair_ops_pairs_it(ops: list[Op]) -> None:
    assert_pairs_like_pair_ops(ops)
