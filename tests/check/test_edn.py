"""The EDN reader on histories as Jepsen and Knossos write them: lists, vectors, comments, tags."""

from __future__ import annotations

import pytest
from hypothesis import given

from sim.check import check, parse_history, to_edn
from sim.check.edn import parse_edn, read_forms
from sim.errors import HistoryError
from sim.history import Op
from tests.strategies import exportable_histories

OPS = [
    Op(0, "invoke", "write", None, 1, 1.0),
    Op(0, "ok", "write", None, 1, 2.0),
    Op(1, "invoke", "read", None, None, 3.0),
    Op(1, "ok", "read", None, 1, 4.0),
]


@pytest.mark.parametrize(
    "text",
    [
        # One map per line (Jepsen's history.edn).
        "{:process 0, :type :invoke, :f :write, :value 1}\n"
        "{:process 0, :type :ok, :f :write, :value 1}\n"
        "{:process 1, :type :invoke, :f :read, :value nil}\n"
        "{:process 1, :type :ok, :f :read, :value 1}\n",
        # A top-level list, as a pretty-printed history is; a comment before it.
        "; written by jepsen\n"
        "({:process 0, :type :invoke, :f :write, :value 1}\n"
        " {:process 0, :type :ok, :f :write, :value 1}\n"
        " {:process 1, :type :invoke, :f :read, :value nil} ; a comment\n"
        " {:process 1, :type :ok, :f :read, :value 1})\n",
        # Knossos's vector, with a discarded op and a comment line inside.
        "[{:process 0, :type :invoke, :f :write, :value 1}\n"
        " ; the write completes\n"
        " {:process 0, :type :ok, :f :write, :value 1}\n"
        " #_{:process 9, :type :invoke, :f :read, :value nil}\n"
        " {:process 1, :type :invoke, :f :read, :value nil}\n"
        ' {:process 1, :type :ok, :f :read, :value 1} #_ "dropped"]\n',
        # Jepsen's records, one per line, each behind its tag.
        "#jepsen.history.Op{:process 0, :type :invoke, :f :write, :value 1}\n"
        "#jepsen.history.Op{:process 0, :type :ok, :f :write, :value 1}\n"
        "#jepsen.history.Op{:process 1, :type :invoke, :f :read, :value nil}\n"
        "#jepsen.history.Op{:process 1, :type :ok, :f :read, :value 1}\n",
    ],
    ids=["maps", "list", "vector", "records"],
)
def test_every_way_jepsen_writes_a_history(text: str) -> None:
    ops = parse_history(text)
    assert [(op.process, op.type, op.f, op.value) for op in ops] == [
        (op.process, op.type, op.f, op.value) for op in OPS
    ]
    assert check(ops).verdict == "linearizable"


def test_lines_are_counted_inside_a_list() -> None:
    text = "(\n{:process 0, :type :invoke, :f :read}\n\n {:process 0, :type :ok, :f :read})"
    assert [line for line, _ in read_forms(text, unwrap_vector=True)] == [2, 4]
    ops = parse_history(text)
    assert [op.time for op in ops] == [2.0, 4.0]  # no :time: the line number


@given(exportable_histories())
def test_a_wrapped_export_reads_back(ops: list[Op]) -> None:
    text = to_edn(ops)
    assert parse_history("(" + text + ")", "edn") == ops
    assert parse_history("[" + text + "]", "edn") == ops


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("({:process 0, :type :invoke, :f :read}\n", r"line 2: bad EDN: missing '\)'"),
        ("({:process 0, :type :invoke, :f :read})\n{:process 1}\n", "line 2: .*text after"),
        ("[{:process 0, :type :invoke, :f :read}\n)\n", r"line 2: bad EDN: unexpected '\)'"),
        ('{:process 0, :type :invoke, :f :read, :value "x}\n', "line 1: bad EDN: unterminated"),
        ("{:process 0, :type :invoke, :f}\n", "line 1: bad EDN: a map needs an even"),
        ("[1 #_]\n", r"line 1: bad EDN: unexpected '\]'"),
        ("{:process 0 :type :ok :f :read :value ##Foo}\n", "unknown symbolic value"),
        ("(1 2\n", "missing"),
        ("\\", "unexpected end of input"),
        ("# {}", "must be followed by a tag"),
    ],
)
def test_bad_edn_names_the_line(text: str, message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        parse_history(text, "edn")


def test_reader_values() -> None:
    (v,) = parse_edn('[#{} {[1 2] :a} \\a \\space "\\t" -0.5 +3 #inst "2024-01-01" ##-Inf]')
    assert v[0] == frozenset() and v[1] == {(1, 2): "a"}
    assert v[2:7] == ["a", " ", "\t", -0.5, 3]
    assert v[7] == "2024-01-01" and v[8] == float("-inf")
    assert parse_edn("[1 #_ 2]") == [[1]]
    assert parse_edn("nil true false sym") == [None, True, False, "sym"]


def test_deep_nesting_needs_no_recursion() -> None:
    depth = 50_000  # far past Python's recursion limit: the reader keeps its own stack
    (v,) = parse_edn("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        (v,) = v
    assert v == []


def test_long_history_reads_in_one_pass() -> None:
    """20,000 ops as EDN read back whole (the benchmark times 76,000)."""
    ops = [
        Op(i % 50, t, "write", f"k{i % 7}", i, float(2 * i + (t == "ok")))
        for i in range(10_000)
        for t in ("invoke", "ok")
    ]
    assert parse_history(to_edn(ops), "edn") == ops
