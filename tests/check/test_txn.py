"""Transactions (`txn` ops) in the checker and in Jepsen EDN: each micro-op is its key's op."""

from __future__ import annotations

import pytest

from sim.check import KV, REGISTER, Verdict, check, parse_history, to_edn
from sim.check.jepsen_edn import parse_edn_history
from sim.errors import HistoryError
from sim.history import Op

LIN = Verdict.LINEARIZABLE
NOT = Verdict.NOT_LINEARIZABLE

WRITE_XY = [["write", "x", 1], ["write", "y", 1]]
CAS_X_WRITE_Y = [["cas", "x", [1, 2]], ["write", "y", 2]]


def h(*events: tuple) -> list[Op]:
    """A history from (process, type, f, key, value) tuples, one per time step."""
    return [Op(p, t, f, key, value, float(i)) for i, (p, t, f, key, value) in enumerate(events)]


def txn(process: int, outcome: str, value: list) -> list[tuple]:
    """A transaction's invoke and completion (the client shows the same value in both)."""
    return [(process, "invoke", "txn", None, value), (process, outcome, "txn", None, value)]


def read(process: int, key: str, value: object) -> list[tuple]:
    return [(process, "invoke", "read", key, None), (process, "ok", "read", key, value)]


@pytest.mark.parametrize(
    ("name", "events", "expected"),
    [
        (
            "both keys read after the commit",
            [*txn(0, "ok", WRITE_XY), *read(1, "x", 1), *read(1, "y", 1)],
            LIN,
        ),
        (
            "a cas micro-op from the committed value",
            [
                *txn(0, "ok", WRITE_XY),
                *txn(0, "ok", CAS_X_WRITE_Y),
                *read(1, "x", 2),
                *read(1, "y", 2),
            ],
            LIN,
        ),
        (
            "a read while the transaction is open may see the old value",
            [
                (0, "invoke", "txn", None, WRITE_XY),
                *read(1, "y", None),
                (0, "ok", "txn", None, WRITE_XY),
                *read(1, "x", 1),
            ],
            LIN,
        ),
        (
            "half applied: y read old after the commit",
            [*txn(0, "ok", WRITE_XY), *read(1, "x", 1), *read(1, "y", None)],
            NOT,
        ),
        (
            "a failed transaction did not happen",
            [*txn(0, "fail", WRITE_XY), *read(1, "x", None)],
            LIN,
        ),
        ("so nobody sees its writes", [*txn(0, "fail", WRITE_XY), *read(1, "y", 1)], NOT),
        ("an unknown one may have happened", [*txn(0, "info", WRITE_XY), *read(1, "x", 1)], LIN),
        ("or not", [*txn(0, "info", WRITE_XY), *read(1, "x", None)], LIN),
        (
            "a cas micro-op on a value the key never held",
            [*txn(0, "ok", [["cas", "x", [5, 6]], ["write", "y", 1]])],
            NOT,
        ),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_register_checks_each_micro_op_on_its_key(
    name: str, events: list, expected: Verdict
) -> None:
    assert check(h(*events), REGISTER).verdict is expected, name


def test_per_key_checking_does_not_see_cross_key_atomicity() -> None:
    """An unknown transaction seen on x but not on y: each key alone is fine (documented)."""
    events = [*txn(0, "info", WRITE_XY), *read(1, "x", 1), *read(1, "y", None)]
    result = check(h(*events), REGISTER)
    assert result.verdict is LIN and set(result.per_key) == {"x", "y"}


def test_the_explanation_names_the_transaction() -> None:
    events = [*txn(0, "ok", WRITE_XY), *read(1, "x", 1), *read(1, "y", None)]
    result = check(h(*events), REGISTER)
    assert list(result.explanations) == ["y"]
    placed = result.explanations["y"].linearized
    assert [op.description for op in placed] == ["txn: write(1)"]
    assert placed[0].to_dict()["value"] == WRITE_XY


@pytest.mark.parametrize(
    "value",
    [[], "x", [["write", "x"]], [["append", "x", 1]], [["cas", "x", 3]]],
)
def test_a_malformed_transaction_is_a_history_error(value: object) -> None:
    with pytest.raises(HistoryError, match="op 1 \\(process 0\\)"):
        check(h(*txn(0, "ok", value)), REGISTER)


def test_the_kv_model_ignores_transactions() -> None:
    ops = h(*txn(0, "ok", WRITE_XY), (1, "invoke", "get", "x", None), (1, "ok", "get", "x", ""))
    assert check(ops, KV).verdict is LIN


def test_edn_writes_jepsen_micro_ops_and_reads_them_back() -> None:
    ops = h(*txn(0, "ok", WRITE_XY), *txn(0, "ok", [["cas", "y", [1, 2]]]), *read(1, "y", 2))
    text = to_edn(ops)
    lines = text.splitlines()
    assert ':f :txn, :key nil, :value [[:w "x" 1] [:w "y" 1]]' in lines[0]
    assert ':f :txn, :key nil, :value [[:cas "y" [1 2]]]' in lines[2]
    assert parse_edn_history(text) == ops
    assert parse_history(text) == ops
    assert check(parse_history(text)).verdict is LIN
