"""Bad input, as a corpus (issue 14, item 7): every malformed scenario, --set value and history
is refused with exit 2 and exactly one line on stderr naming the field or the line, never a
traceback; and randomly broken scenarios keep the same promise.

The corpus lives in tests/corpus: scenarios/*.toml (each file's header says what it tests
and what the error must name), histories/ (with index.toml saying the same), and
set_values.toml. What is too big to commit (100,000 nested brackets, 5,000 digits), a
directory and a missing file are made here. Most cases run `sim.cli.main` in-process, with
`sim.run.run` replaced so that a scenario accepted by mistake fails at once instead of
running; the cases that once overflowed Python's recursion run the real CLI in a subprocess.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, note, settings

from sim.cli import main
from tests.strategies import mutated_scenarios, shipped_scenarios

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
SCENARIOS = sorted((CORPUS / "scenarios").glob("*.toml"))
HISTORIES = CORPUS / "histories"
HISTORY_INDEX: dict[str, dict[str, Any]] = tomllib.loads((HISTORIES / "index.toml").read_text())
SET_VALUES: list[dict[str, Any]] = tomllib.loads((CORPUS / "set_values.toml").read_text())["set"]
BASE = ROOT / "scenarios" / "flash_sale_partition.toml"
DEEP = 100_000
"""Nesting that overflowed Python's recursion before (issue 14)."""
RUN_MODULE = importlib.import_module("sim.run")  # `sim.run` the attribute is the function


class Accepted(Exception):
    """Raised in place of a run: the scenario passed validation."""


@pytest.fixture
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """`sim run` validates but never runs: a scenario accepted raises Accepted."""

    def accepted(scenario: Any, **_: Any) -> Any:
        raise Accepted(scenario)

    monkeypatch.setattr(RUN_MODULE, "run", accepted)


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI in-process; assert exit 2 and one stderr line without a traceback; the line."""
    try:
        code = main(argv)
    except Accepted:
        pytest.fail(f"accepted, not refused: {argv}")
    err = capsys.readouterr().err
    assert code == 2, f"exit {code} for {argv}: {err}"
    return one_line(err)


def refused_in_subprocess(argv: list[str]) -> str:
    """Run `python -m sim ...`; assert exit 2 and one stderr line without a traceback; the line."""
    done = subprocess.run(
        [sys.executable, "-m", "sim", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2, f"exit {done.returncode}: {done.stderr[-2000:]}"
    return one_line(done.stderr)


def one_line(err: str) -> str:
    """The one line of `err`, after asserting it is one line and no traceback."""
    assert "Traceback" not in err, err[-3000:]
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}: {err[:2000]}"
    assert lines[0].startswith("capsim"), lines[0]
    return lines[0]


def header(path: Path) -> tuple[str, str]:
    """(what the file tests, what its error must name) from its `# tests:` / `# expect:` lines."""
    head = path.read_bytes()[:600].decode("latin-1")
    tests, expect = re.search(r"# tests: (.*)", head), re.search(r"# expect: (.*)", head)
    assert tests and expect, f"{path.name}: no '# tests:' and '# expect:' header"
    return tests[1].strip(), expect[1].strip()


# --------------------------------------------------------------------------- the corpus size


def test_the_corpus_is_as_large_as_issue_14_asks() -> None:
    assert len(SCENARIOS) >= 60
    assert len(HISTORY_INDEX) >= 20
    assert len(SET_VALUES) >= 30
    files = {p.name for p in HISTORIES.iterdir()} - {"index.toml"}
    assert files == set(HISTORY_INDEX), "every history file has an index entry, and back"


# --------------------------------------------------------------------------- scenarios


@pytest.mark.usefixtures("no_run")
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_a_malformed_scenario_is_refused_naming_the_field(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    what, expect = header(path)
    line = refused(["run", str(path)], capsys)
    assert expect in line, f"{path.name} ({what}): {line}"


@pytest.mark.usefixtures("no_run")
@pytest.mark.parametrize("entry", SET_VALUES, ids=[" ".join(e["args"])[:60] for e in SET_VALUES])
def test_a_bad_set_value_is_refused_naming_the_field(
    entry: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", str(BASE)]
    for item in entry["args"]:
        argv += ["--set", item]
    line = refused(argv, capsys)
    assert entry["expect"] in line, f"{entry['tests']}: {line}"


@pytest.mark.usefixtures("no_run")
def test_a_set_value_of_5000_digits_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(["run", str(BASE), "--set", "workload.customers=" + "9" * 5000], capsys)
    assert "workload.customers" in line
    assert len(line) < 300  # the value is not echoed whole


@pytest.mark.usefixtures("no_run")
def test_a_directory_and_a_missing_file_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "is a directory" in refused(["run", str(tmp_path)], capsys)
    assert "no such scenario file" in refused(["run", str(tmp_path / "nope.toml")], capsys)


@pytest.mark.usefixtures("no_run")
def test_history_into_a_missing_directory_or_onto_one_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # no_run: reaching the run at all would fail the test
    missing = refused(["run", str(BASE), "--history", str(tmp_path / "no" / "h.jsonl")], capsys)
    assert "--history" in missing and "no such directory" in missing
    onto = refused(["run", str(BASE), "--history", str(tmp_path)], capsys)
    assert "--history" in onto and "is a directory" in onto


def test_a_sweep_into_a_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(["sweep", str(BASE), "--seeds", "1", "--out", str(tmp_path)], capsys)
    assert "is a directory" in line


def test_deep_nesting_is_refused_by_the_real_cli(tmp_path: Path) -> None:
    """TOML nested 100,000 deep and a --set value 30,000 deep (RecursionError before)."""
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * DEEP + "]" * DEEP + "\n")
    assert "nested too deep" in refused_in_subprocess(["run", str(deep)])
    shallower = 30_000  # one argument holds at most 128 KB (Linux's MAX_ARG_STRLEN)
    value = "cluster.nodes=" + "[" * shallower + "]" * shallower
    assert "cluster.nodes" in refused_in_subprocess(["run", str(BASE), "--set", value])
    garbage = CORPUS / "scenarios" / "encoding_garbage.toml"
    assert "not UTF-8" in refused_in_subprocess(["run", str(garbage)])


def test_the_limits_leave_room_for_large_runs_and_stop_just_past_them() -> None:
    """The benchmarks' largest runs load; each limit refuses one step past its value."""
    from sim.config import limits
    from sim.errors import ScenarioError
    from sim.scenario import Scenario

    for mode in ("strong", "weak", "eventual"):  # benchmarks/scale.py on 10 x its nodes
        Scenario.from_dict({"cluster": {"nodes": limits.MAX_NODES, "mode": mode}})
    Scenario.from_dict({"workload": {"kind": "browse", "customers": 196_079}})  # memory.py
    Scenario.from_dict({"duration_ms": 6e5, "workload": {"customers": limits.MAX_CUSTOMERS}})
    # 5 nodes x 90,000 ms of run: anti-entropy may tick every 0.045 ms, not faster
    base = {"duration_ms": 60_000, "settle_ms": 30_000}
    edge = 5 * 90_000 / limits.MAX_TIMER_EVENTS
    Scenario.from_dict({**base, "cluster": {"eventual": {"anti_entropy_ms": edge}}})
    with pytest.raises(ScenarioError, match=r"anti_entropy_ms: must be >= 0.045 ms"):
        Scenario.from_dict({**base, "cluster": {"eventual": {"anti_entropy_ms": edge * 0.99}}})
    with pytest.raises(ScenarioError, match=r"^cluster.nodes: must be <= 10,000"):
        Scenario.from_dict({"cluster": {"nodes": limits.MAX_NODES + 1}})
    with pytest.raises(ScenarioError, match=r"^settle_ms: the run would end at"):
        Scenario.from_dict({"duration_ms": limits.MAX_TIME_MS, "settle_ms": 1})


# --------------------------------------------------------------------------- histories


@pytest.mark.parametrize("name", sorted(HISTORY_INDEX))
def test_a_malformed_history_is_refused_naming_the_line(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = HISTORY_INDEX[name]
    argv = ["check", str(HISTORIES / name), "--format", entry.get("format", "auto")]
    line = refused(argv, capsys)
    for part in entry["expect"]:
        assert part in line, f"{name} ({entry['tests']}): {line}"


def test_a_history_directory_and_a_missing_file_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "cannot read" in refused(["check", str(tmp_path)], capsys)
    assert "cannot read" in refused(["check", str(tmp_path / "nope.jsonl")], capsys)


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        (".edn", '{:process 0, :type :invoke, :f :write, :key "x", :value ' + "[" * DEEP + "}"),
        (".jsonl", '{"process": 0, "type": "invoke", "f": "write", "value": ' + "[" * DEEP + "}"),
        (".log", "INFO  jepsen.util - 0\t:invoke\t:write\t" + "[" * DEEP + "]" * DEEP),
    ],
    ids=["edn", "jsonl", "jepsen-log"],
)
def test_a_history_nested_100000_deep_is_refused_by_the_real_cli(
    suffix: str, text: str, tmp_path: Path
) -> None:
    path = tmp_path / f"deep{suffix}"
    path.write_text(text + "\n")
    assert "line 1" in refused_in_subprocess(["check", str(path)])


@pytest.mark.parametrize(
    "text",
    [
        '{:process 0, :type :invoke, :f :read, :key "x", :value {[1 2] 3}}\n',
        '{:process 0, :type :invoke, :f :read, :key "x", :value #{{:a [1]}}}\n'
        '{:process 0, :type :ok, :f :read, :key "x", :value #{{:a [1]} [2]}}\n',
        "{:process 0, :type :invoke, :f :read, :key {:a [1 2]}, :value nil}\n"
        "{:process 0, :type :ok, :f :read, :key {:a [1 2]}, :value {{:b [3]} 4}}\n",
        "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
        "INFO  jepsen.util - 0\t:invoke\t:write\t#{[1] {:a [2]}}\n",
    ],
    ids=["vector-map-key", "set-of-maps", "map-key", "nemesis-info-alone"],
)
def test_odd_but_valid_histories_get_a_verdict(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Vectors and maps as map keys or set members (TypeError before) read and are checked."""
    path = tmp_path / ("h.log" if "jepsen.util" in text else "h.edn")
    path.write_text(text)
    assert main(["check", str(path)]) in (0, 1)
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- mutations


def to_toml(raw: dict[str, Any]) -> str:
    """A TOML document for a table of JSON-like values (each top-level key one inline line)."""
    return "".join(f"{json.dumps(str(k))} = {_toml_value(v)}\n" for k, v in raw.items())


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(f"no TOML form for {value!r}")


def test_the_toml_writer_round_trips_the_shipped_scenarios() -> None:
    for raw in shipped_scenarios():
        assert tomllib.loads(to_toml(raw)) == raw


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated_scenarios())
@example(case=({"workload": {"home_nodes": 3}}, "workload.home_nodes = 3 (issue 14)"))
@example(case=({"faults": [{"kind": "one-way", "start_ms": 0, "from": 0, "to": [1]}]}, "from = 0"))
@example(case=({"cluster": {"nodes": 2**63 - 1}}, "cluster.nodes = 2^63-1 (issue 14)"))
@example(case=({"settle_ms": 1e300}, "settle_ms = 1e300 (issue 14)"))
@pytest.mark.usefixtures("no_run")
def test_a_randomly_broken_scenario_is_accepted_or_refused_in_one_line(
    case: tuple[dict[str, Any], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, what = case
    note(what)
    path = tmp_path / "mutated.toml"
    path.write_text(to_toml(raw))
    try:
        code = main(["run", str(path)])
    except Accepted:
        event("accepted")
        assert "Traceback" not in capsys.readouterr().err
        return
    event("refused")
    assert code == 2, f"{what}: exit {code}"
    one_line(capsys.readouterr().err)
