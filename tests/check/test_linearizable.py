"""Tests of the linearizability checker: hand-made histories per rule, and properties."""

from __future__ import annotations

import itertools
import json
import time

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from sim.check import KV, REGISTER, CheckResult, Verdict, check
from sim.errors import HistoryError
from sim.history import Op
from tests.check.adversarial import exhausting_history
from tests.strategies import (
    NEVER_WRITTEN,
    concurrent_register_histories,
    hard_register_history,
    sequential_kv_histories,
    sequential_register_histories,
)

LIN = Verdict.LINEARIZABLE
NOT = Verdict.NOT_LINEARIZABLE


def h(*events: tuple) -> list[Op]:
    """A history from (process, type, f, value) or (process, type, f, value, key) tuples."""
    ops = []
    for t, e in enumerate(events):
        process, op_type, f, value, *rest = e
        ops.append(Op(process, op_type, f, rest[0] if rest else "x", value, float(t)))
    return ops


def verdict(ops: list[Op], model=REGISTER) -> Verdict:
    return check(ops, model).verdict


# --- the rules, one small history each ---------------------------------------


@pytest.mark.parametrize(
    ("name", "ops", "expected"),
    [
        ("empty", [], LIN),
        (
            "read of nil before any write",
            h((0, "invoke", "read", None), (0, "ok", "read", None)),
            LIN,
        ),
        (
            "read of nil after a write completed",
            h(
                (0, "invoke", "write", 1),
                (0, "ok", "write", 1),
                (1, "invoke", "read", None),
                (1, "ok", "read", None),
            ),
            NOT,
        ),
        (
            "stale read after a later write completed",
            h(
                (0, "invoke", "write", 1),
                (0, "ok", "write", 1),
                (0, "invoke", "write", 2),
                (0, "ok", "write", 2),
                (1, "invoke", "read", None),
                (1, "ok", "read", 1),
            ),
            NOT,
        ),
        (
            "concurrent writes, read sees the first invoked",
            h(
                (0, "invoke", "write", 1),
                (1, "invoke", "write", 2),
                (0, "ok", "write", 1),
                (1, "ok", "write", 2),
                (2, "invoke", "read", None),
                (2, "ok", "read", 1),
            ),
            LIN,
        ),
        (
            "concurrent writes, read sees the second invoked",
            h(
                (0, "invoke", "write", 1),
                (1, "invoke", "write", 2),
                (1, "ok", "write", 2),
                (0, "ok", "write", 1),
                (2, "invoke", "read", None),
                (2, "ok", "read", 2),
            ),
            LIN,
        ),
        (
            "a read concurrent with a write may see either value",
            h(
                (0, "invoke", "write", 1),
                (1, "invoke", "read", None),
                (1, "ok", "read", None),
                (2, "invoke", "read", None),
                (2, "ok", "read", 1),
                (0, "ok", "write", 1),
            ),
            LIN,
        ),
        (
            "two reads concurrent with a write cannot see new then old",
            h(
                (0, "invoke", "write", 1),
                (1, "invoke", "read", None),
                (1, "ok", "read", 1),
                (2, "invoke", "read", None),
                (2, "ok", "read", None),
                (0, "ok", "write", 1),
            ),
            NOT,
        ),
        (
            "info write that took effect",
            h(
                (0, "invoke", "write", 1),
                (0, "info", "write", 1),
                (1, "invoke", "read", None),
                (1, "ok", "read", 1),
            ),
            LIN,
        ),
        (
            "info write that never took effect",
            h(
                (0, "invoke", "write", 1),
                (0, "info", "write", 1),
                (1, "invoke", "read", None),
                (1, "ok", "read", None),
            ),
            LIN,
        ),
        (
            "info write that took effect late",
            h(
                (0, "invoke", "write", 1),
                (0, "info", "write", 1),
                (1, "invoke", "read", None),
                (1, "ok", "read", None),
                (1, "invoke", "read", None),
                (1, "ok", "read", 1),
            ),
            LIN,
        ),
        (
            "info write cannot be undone",
            h(
                (0, "invoke", "write", 1),
                (0, "info", "write", 1),
                (1, "invoke", "read", None),
                (1, "ok", "read", 1),
                (1, "invoke", "read", None),
                (1, "ok", "read", None),
            ),
            NOT,
        ),
        (
            "info write cannot take effect before its invoke",
            h(
                (1, "invoke", "read", None),
                (1, "ok", "read", 1),
                (0, "invoke", "write", 1),
                (0, "info", "write", 1),
            ),
            NOT,
        ),
        (
            "a process invokes again after an info (capsim keeps its id)",
            h(
                (0, "invoke", "write", 1),
                (0, "info", "write", 1),
                (0, "invoke", "write", 2),
                (0, "ok", "write", 2),
                (0, "invoke", "read", None),
                (0, "ok", "read", 1),
            ),
            LIN,
        ),
        (
            "an invoke never completed is unknown",
            h((0, "invoke", "write", 1), (1, "invoke", "read", None), (1, "ok", "read", 1)),
            LIN,
        ),
        (
            "cas succeeds when the register holds expected",
            h(
                (0, "invoke", "write", 1),
                (0, "ok", "write", 1),
                (0, "invoke", "cas", [1, 2]),
                (0, "ok", "cas", [1, 2]),
                (1, "invoke", "read", None),
                (1, "ok", "read", 2),
            ),
            LIN,
        ),
        (
            "ok cas from nil",
            h(
                (0, "invoke", "cas", [None, 2]),
                (0, "ok", "cas", [None, 2]),
                (1, "invoke", "read", None),
                (1, "ok", "read", 2),
            ),
            LIN,
        ),
        (
            "ok cas when the register cannot hold expected",
            h(
                (0, "invoke", "write", 0),
                (0, "ok", "write", 0),
                (0, "invoke", "cas", [1, 2]),
                (0, "ok", "cas", [1, 2]),
            ),
            NOT,
        ),
        (
            "failed cas did not happen",
            h(
                (0, "invoke", "write", 1),
                (0, "ok", "write", 1),
                (0, "invoke", "cas", [1, 2]),
                (0, "fail", "cas", [1, 2]),
                (1, "invoke", "read", None),
                (1, "ok", "read", 1),
            ),
            LIN,
        ),
        (
            "info cas that applied",
            h(
                (0, "invoke", "write", 1),
                (0, "ok", "write", 1),
                (0, "invoke", "cas", [1, 2]),
                (0, "info", "cas", [1, 2]),
                (1, "invoke", "read", None),
                (1, "ok", "read", 1),
                (1, "invoke", "read", None),
                (1, "ok", "read", 2),
            ),
            LIN,
        ),
        (
            "info cas cannot apply when the register never held expected",
            h(
                (0, "invoke", "write", 0),
                (0, "ok", "write", 0),
                (0, "invoke", "cas", [1, 2]),
                (0, "info", "cas", [1, 2]),
                (1, "invoke", "read", None),
                (1, "ok", "read", 2),
            ),
            NOT,
        ),
        (
            "failed and info reads say nothing",
            h(
                (0, "invoke", "write", 1),
                (0, "ok", "write", 1),
                (1, "invoke", "read", None),
                (1, "fail", "read", None),
                (2, "invoke", "read", None),
                (2, "info", "read", 7),
            ),
            LIN,
        ),
        (
            "other fs and the nemesis are ignored",
            h(
                ("nemesis", "info", "partition", [[0], [1]]),
                (0, "invoke", "order", {"units": 1}),
                (0, "invoke", "write", 1),
                (0, "ok", "write", 1),
                (0, "ok", "order", "confirmed"),
                (1, "invoke", "read", None),
                (1, "ok", "read", 1),
            ),
            LIN,
        ),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_register_rules(name: str, ops: list[Op], expected: Verdict) -> None:
    assert verdict(ops) is expected, name


def test_keys_are_checked_independently() -> None:
    ops = h(
        (0, "invoke", "write", 1, "x"),
        (1, "invoke", "write", 2, "y"),
        (0, "ok", "write", 1, "x"),
        (1, "ok", "write", 2, "y"),
        (2, "invoke", "read", None, "x"),
        (2, "ok", "read", 1, "x"),
        (3, "invoke", "read", None, "y"),
        (3, "ok", "read", 1, "y"),  # y was never 1: only y is wrong
        (4, "invoke", "read", None, None),
        (4, "ok", "read", None, None),
    )
    result = check(ops)
    assert result.verdict is NOT
    assert result.per_key == {"x": LIN, "y": NOT, None: LIN}
    assert list(result.explanations) == ["y"]


def test_a_value_read_on_another_key_does_not_count() -> None:
    ops = h(
        (0, "invoke", "write", 1, "x"),
        (0, "ok", "write", 1, "x"),
        (1, "invoke", "read", None, "y"),
        (1, "ok", "read", 1, "y"),
    )
    assert verdict(ops) is NOT


@pytest.mark.parametrize(
    ("read", "expected"),
    [("ab", LIN), ("ba", LIN), ("a", NOT), ("", NOT), ("abb", NOT)],
)
def test_kv_concurrent_appends(read: str, expected: Verdict) -> None:
    ops = h(
        (0, "invoke", "append", "a"),
        (1, "invoke", "append", "b"),
        (0, "ok", "append", "a"),
        (1, "ok", "append", "b"),
        (2, "invoke", "get", None),
        (2, "ok", "get", read),
    )
    assert verdict(ops, KV) is expected


def test_kv_put_replaces_and_keys_start_empty() -> None:
    ops = h(
        (0, "invoke", "get", None, "k"),
        (0, "ok", "get", "", "k"),
        (0, "invoke", "append", "x", "k"),
        (0, "ok", "append", "x", "k"),
        (0, "invoke", "put", "y", "k"),
        (0, "ok", "put", "y", "k"),
        (0, "invoke", "append", "z", "k"),
        (0, "info", "append", "z", "k"),
        (1, "invoke", "get", None, "k"),
        (1, "ok", "get", "yz", "k"),
        (1, "invoke", "get", None, "j"),
        (1, "ok", "get", None, "j"),  # nil reads as the empty string
    )
    assert verdict(ops, KV) is LIN
    assert check(ops, REGISTER).operations == 0  # the register model reads none of these


# --- the result: explanation, text, JSON -------------------------------------


def test_explanation_names_the_prefix_and_the_stuck_read() -> None:
    ops = h(
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (0, "invoke", "write", 2),
        (0, "ok", "write", 2),
        (1, "invoke", "read", None),
        (1, "ok", "read", 1),
    )
    result = check(ops)
    e = result.explanations["x"]
    assert [op.description for op in e.linearized] == ["write(1)", "write(2)"]
    assert e.state == "2"
    assert [op.description for op in e.stuck] == ["read() -> 1"]
    text = result.describe()
    assert "not-linearizable" in text and "read() -> 1" in text
    assert len(text.splitlines()) <= 12
    data = json.loads(json.dumps(result.to_dict()))
    assert data["verdict"] == "not-linearizable"
    assert data["keys"] == [{"key": "x", "verdict": "not-linearizable"}]
    assert data["explanations"][0]["stuck"][0]["output"] == 1


def test_describe_stays_short_on_a_long_bad_history() -> None:
    ops = [op for i in range(40) for op in h((i, "invoke", "write", i), (i, "ok", "write", i))]
    ops += [Op(100 + i, "invoke", "read", "x", None, 90.0) for i in range(10)]
    ops += [Op(100 + i, "ok", "read", "x", -i, 91.0) for i in range(10)]
    assert len(check(ops).describe().splitlines()) <= 12


def test_result_of_a_linearizable_history() -> None:
    result = check(h((0, "invoke", "write", 1), (0, "ok", "write", 1)))
    assert isinstance(result, CheckResult)
    assert result.ok and result.explanations == {} and result.operations == 1
    assert result.verdict == "linearizable"
    assert result.describe().startswith("linearizable")


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ([Op(0, "start", "read", "x", None, 0.0)], "op 1: type must be one of"),
        (h((0, "invoke", "cas", 3), (0, "ok", "cas", 3)), "op 1 (process 0): cas value"),
    ],
)
def test_bad_ops_raise_history_error(ops: list[Op], message: str) -> None:
    with pytest.raises(HistoryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(ops)


def test_kv_rejects_non_string_values() -> None:
    with pytest.raises(HistoryError, match="must be a string"):
        check(h((0, "invoke", "put", 3), (0, "ok", "put", 3)), KV)


# --- time-out -----------------------------------------------------------------


def test_timeout_returns_unknown_mid_search() -> None:
    ops = exhausting_history(30)  # hard_register_history is decided at once by pruning now
    start = time.perf_counter()
    result = check(ops, timeout_s=0.2)
    assert result.verdict is Verdict.UNKNOWN
    assert result.per_key == {"x": Verdict.UNKNOWN}
    assert time.perf_counter() - start < 2.0
    assert "time" in result.describe()


def test_hard_history_is_decided_without_timeout_when_small() -> None:
    assert check(hard_register_history(8)).verdict is NOT


@settings(max_examples=5)
@given(writers=st.integers(min_value=22, max_value=30), timeout_s=st.floats(1e-6, 0.05))
def test_tiny_timeout_on_hard_history_is_unknown(writers: int, timeout_s: float) -> None:
    start = time.perf_counter()
    assert check(exhausting_history(writers), timeout_s=timeout_s).verdict is Verdict.UNKNOWN
    assert time.perf_counter() - start < timeout_s + 1.0


def test_negative_timeout_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        check([], timeout_s=-1)


# --- properties ------------------------------------------------------------------


@given(sequential_register_histories())
def test_sequential_register_histories_are_linearizable(ops: list[Op]) -> None:
    assert check(ops).verdict is LIN


@given(sequential_kv_histories())
def test_sequential_kv_histories_are_linearizable(ops: list[Op]) -> None:
    assert check(ops, KV).verdict is LIN


@given(sequential_register_histories(), st.data())
def test_a_read_of_a_value_never_written_is_not_linearizable(
    ops: list[Op], data: st.DataObject
) -> None:
    reads = [i for i, op in enumerate(ops) if op.f == "read" and op.type == "ok"]
    i = data.draw(st.sampled_from(reads))
    note(f"changed read at {i}: {ops[i]}")
    bad = [*ops[:i], ops[i]._replace(value=NEVER_WRITTEN), *ops[i + 1 :]]
    result = check(bad)
    assert result.verdict is NOT
    assert result.per_key[ops[i].key] is NOT


def _brute_force(ops: list[Op]) -> bool:
    """A reference for one-key register histories: try every order and every subset of info ops."""
    open_ops: dict[object, tuple[int, Op]] = {}
    known, unknown = [], []
    for i, op in enumerate(ops):
        if op.type == "invoke":
            open_ops[op.process] = (i, op)
        elif op.process in open_ops:
            call, inv = open_ops.pop(op.process)
            if op.type == "ok":
                known.append((call, i, inv.f, inv.value, op.value))
            elif op.type == "info" and inv.f != "read":
                unknown.append((call, float("inf"), inv.f, inv.value, None))
    unknown += [
        (c, float("inf"), inv.f, inv.value, None) for c, inv in open_ops.values() if inv.f != "read"
    ]

    def apply(state, f, value, out, is_known):
        if f == "read":
            return (True, state) if out == state else (False, state)
        if f == "write":
            return True, value
        if state == value[0]:
            return True, value[1]
        return (not is_known), state

    for k in range(len(unknown) + 1):
        for chosen in itertools.combinations(unknown, k):
            todo = known + list(chosen)
            for order in itertools.permutations(todo):
                # Real time: an op cannot come after one invoked after it returned.
                if any(order[j][0] > order[m][1] for m in range(len(order)) for j in range(m)):
                    continue
                state, ok = None, True
                for op in order:
                    ok, state = apply(state, op[2], op[3], op[4], op[1] != float("inf"))
                    if not ok:
                        break
                if ok:
                    return True
    return False


@given(concurrent_register_histories(max_ops=5))
def test_agrees_with_brute_force(ops: list[Op]) -> None:
    expected = LIN if _brute_force(ops) else NOT
    event(f"verdict={expected.value}")
    event(f"info ops={any(op.type == 'info' for op in ops)}")
    assert check(ops).verdict is expected


def test_list_keys_from_json_are_partitioned() -> None:
    ops = [
        Op(0, "invoke", "write", ["a", 1], 1, 0.0),
        Op(0, "ok", "write", ["a", 1], 1, 1.0),
        Op(1, "invoke", "read", ["a", 1], None, 2.0),
        Op(1, "ok", "read", ["a", 1], 1, 3.0),
    ]
    assert check(ops).per_key == {("a", 1): LIN}
