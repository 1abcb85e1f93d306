"""Tests of history import and export: JSON lines, Jepsen EDN, Jepsen's log format."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given

from sim.check import check, detect_format, load_history, parse_history, to_edn
from sim.check.formats import Keyword, parse_edn
from sim.errors import HistoryError
from sim.history import History, Op
from tests.strategies import exportable_histories

JEPSEN_LOG = (
    "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 0\t:ok\t:read\tnil\n"
    "INFO  jepsen.util - 1   :invoke   :cas    [3 0]\n"
    "INFO  jepsen.util - 1   :fail   :cas    [3 0]\n"
    "INFO  jepsen.core - some other logger line\n"
    "\n"
    "INFO  jepsen.util - 2\t:invoke\t:write\t4\n"
    "INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n"
    "INFO  jepsen.util - 3\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 3   :fail   :read   :timed-out\n"
    "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
)


def test_jepsen_log_lines() -> None:
    ops = parse_history(JEPSEN_LOG)
    assert ops == [
        Op(0, "invoke", "read", None, None, 1.0),
        Op(0, "ok", "read", None, None, 2.0),
        Op(1, "invoke", "cas", None, [3, 0], 3.0),
        Op(1, "fail", "cas", None, [3, 0], 4.0),
        Op(2, "invoke", "write", None, 4, 7.0),
        Op(2, "info", "write", None, 4, 8.0, "timed-out"),
        Op(3, "invoke", "read", None, None, 9.0),
        Op(3, "fail", "read", None, None, 10.0, "timed-out"),
        Op("nemesis", "info", "start", None, None, 11.0),
    ]
    assert detect_format(JEPSEN_LOG) == "jepsen-log"
    assert check(ops).verdict == "linearizable"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("INFO  jepsen.util - 0\t:invoke\t:write\t[1\n", "line 1: bad value"),
        (
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:done\t:read\t1\n",
            "line 2: type",
        ),
        ("INFO  jepsen.util - 0\t:invoke\t:write\t1 2\n", "line 1: expected one value"),
        ("hello\nworld\n", "line 1: no Jepsen op lines"),
    ],
)
def test_jepsen_log_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        parse_history(text, "jepsen-log")


def test_edn_maps_one_per_line() -> None:
    text = (
        '{:process 0, :type :invoke, :f :read, :key "x", :value nil}\n'
        '{:process 0, :type :ok, :f :read, :key "x", :value 3, :time 2500000}\n'
        '{:process :nemesis, :type :info, :f :start, :value [:a "b" 1.5 true], :error :boom}\n'
    )
    assert detect_format(text) == "edn"
    ops = parse_history(text)
    assert ops[0] == Op(0, "invoke", "read", "x", None, 1.0)
    assert ops[1] == Op(0, "ok", "read", "x", 3, 2.5)  # :time is nanoseconds
    assert ops[2].process == "nemesis" and ops[2].error == "boom"
    assert ops[2].value == ["a", "b", 1.5, True] and isinstance(ops[2].value[0], Keyword)


def test_edn_vector_of_tagged_records() -> None:
    text = (
        "[#jepsen.history.Op{:index 0, :time 0, :type :invoke, :process 0, :f :write, :value 1}\n"
        " #jepsen.history.Op{:index 1, :time 10, :type :ok, :process 0, :f :write, :value 1}]\n"
    )
    ops = parse_history(text)
    assert [(op.type, op.value, op.key) for op in ops] == [("invoke", 1, None), ("ok", 1, None)]


def test_edn_reader_values() -> None:
    forms = parse_edn(
        "; comment\n"
        '[1 -2 3N 1.5 2.5M 1/2 ##Inf nil true false "a\\"b\\n\\u00e9" :k/x sym #{1 2} #_ 9 (4)]'
    )
    (v,) = forms
    assert v[:6] == [1, -2, 3, 1.5, 2.5, 0.5]
    assert math.isinf(v[6]) and v[7:10] == [None, True, False]
    assert v[10] == 'a"b\né' and v[11] == "k/x" and v[12] == "sym"
    assert v[13] == frozenset({1, 2}) and v[14] == [4]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :read, :value "x}\n',
            "line 2: bad EDN",
        ),
        ("{:process 0, :type :invoke}\n", "line 1: op map has no :f"),
        ("{:process 0, :type :started, :f :read}\n", "line 1: :type must be one of"),
        ("{:process 0, :type :ok, :f :read}\n\n{:process 1 :type}\n", "line 3: bad EDN"),
        ("{:process 0, :type :invoke, :f :read} 7\n", "line 1: expected an op map"),
        ("[{:process 0, :type :invoke, :f :read}\n", "missing"),
    ],
)
def test_edn_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        parse_history(text, "edn")


def test_jsonl_round_trip_and_validation() -> None:
    ops = [Op(0, "invoke", "write", "x", 1, 0.5), Op(0, "ok", "write", "x", 1, 1.5, version=[1, 2])]
    text = History(ops).to_jsonl()
    assert detect_format(text) == "jsonl"
    assert parse_history(text) == ops
    bad = text + "\n" + '{"process":0,"type":"done","f":"read","key":"x","value":null,"time":2}\n'
    with pytest.raises(HistoryError, match="line 4: type must be one of"):
        parse_history(bad)
    with pytest.raises(HistoryError, match="line 1: not a history op"):
        parse_history("{}\n", "jsonl")


@given(exportable_histories())
def test_edn_round_trip(ops: list[Op]) -> None:
    assert parse_history(to_edn(ops), "edn") == ops


def test_to_edn_shape() -> None:
    line = to_edn([Op(0, "ok", "read", "x", [1, None], 1.25, "timed-out")])
    assert line == (
        '{:index 0, :process 0, :type :ok, :f :read, :key "x", :value [1 nil], '
        ":time 1250000, :error :timed-out}\n"
    )


def test_to_edn_renumbers_a_process_that_continues_after_info() -> None:
    ops = [
        Op(0, "invoke", "write", "x", 1, 0.0),
        Op(0, "info", "write", "x", 1, 1.0),
        Op(1, "invoke", "read", "x", None, 2.0),
        Op(1, "ok", "read", "x", 1, 3.0),
        Op(0, "invoke", "write", "x", 2, 4.0),
        Op(0, "info", "write", "x", 2, 5.0),
        Op(0, "invoke", "read", "x", None, 6.0),
        Op(0, "ok", "read", "x", 2, 7.0),
    ]
    back = parse_history(to_edn(ops))
    # Two processes (n = 2): process 0 becomes 2 after its first info, 4 after its second.
    assert [op.process for op in back] == [0, 0, 1, 1, 2, 2, 4, 4]
    assert [op._replace(process=0) for op in back] == [op._replace(process=0) for op in ops]
    assert check(back).verdict == check(ops).verdict == "linearizable"


def test_to_edn_keeps_an_open_op_of_the_other_level_on_its_id() -> None:
    ops = [
        Op(0, "invoke", "order", None, 1, 0.0),
        Op(0, "invoke", "read", "x", None, 1.0),
        Op(0, "info", "read", "x", None, 2.0),
        Op(0, "ok", "order", None, 1, 3.0),
        Op(0, "invoke", "read", "x", None, 4.0),
    ]
    assert [op.process for op in parse_history(to_edn(ops))] == [0, 0, 0, 0, 1]


def test_to_edn_rejects_values_edn_cannot_hold() -> None:
    with pytest.raises(HistoryError, match="op 1: cannot write"):
        to_edn([Op(0, "invoke", "write", "x", object(), 0.0)])


def test_detect_format_and_unknown_format() -> None:
    assert detect_format("") == "jsonl"
    with pytest.raises(HistoryError, match="line 2: cannot tell"):
        detect_format("\nhello\n")
    with pytest.raises(HistoryError, match="format: must be one of"):
        parse_history("", "yaml")


def test_load_history(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(to_edn([Op(0, "invoke", "read", "x", None, 0.0)]))
    assert load_history(path)[0].f == "read"
    with pytest.raises(HistoryError, match="cannot read"):
        load_history(tmp_path / "missing.edn")
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(HistoryError, match="not a UTF-8"):
        load_history(path)
    path.write_text("{:process 0}\n")
    with pytest.raises(HistoryError, match=r"h\.edn: line 1"):
        load_history(path)
