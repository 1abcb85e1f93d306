"""Saved failing cases and `python -m sim replay`: stable files, byte-identical replays, bad files.

A replayed case must give the history of the run that failed, byte for byte,
in any process (different PYTHONHASHSEED values); a malformed case file is
bad input: exit 2 and one line on stderr naming what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim import load_scenario, run
from sim.cli import main
from sim.replay import Case, history_digest, load_case, replay, save_run_case

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "flash_sale_partition.toml"
SMALL = [
    "workload.customers=30",
    "duration_ms=3000",
    "faults.0.start_ms=500",
    "faults.0.end_ms=2000",
    "settle_ms=1000",
]
PROPERTY = "tests/integration/test_properties.py::test_something[eventual]"


def small(mode: str = "eventual", seed: int = 3):
    return load_scenario(SCENARIO, [*SMALL, f"cluster.mode={mode}"], seed=seed)


def replay_in_subprocess(case: Path, out: Path, hash_seed: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "replay", str(case), "--history", str(out), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"},
    )
    return json.loads(proc.stdout)


def test_a_saved_case_has_a_stable_name_and_reads_back(tmp_path: Path) -> None:
    scenario = small()
    first = save_run_case(scenario, property=PROPERTY, failure="lost 1", directory=tmp_path)
    again = save_run_case(scenario, property=PROPERTY, failure="lost 2", directory=tmp_path)
    other = save_run_case(small(seed=4), property=PROPERTY, failure="x", directory=tmp_path)
    assert first == again != other
    assert first.name.startswith("test_something_eventual-3-") and first.suffix == ".json"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({first.name, other.name})
    case = load_case(first)
    assert case == Case("run", scenario, 3, (), PROPERTY, "lost 2")
    raw = json.loads(first.read_text())
    assert list(raw) == ["capsim_replay", "kind", "scenario", "seed", "property", "failure"]


def test_the_default_directory_is_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = save_run_case(small(), property=PROPERTY, failure="f")
    assert path.parent == Path(".capsim-failures") and (tmp_path / path).is_file()


@pytest.mark.parametrize("mode", ["strong", "eventual"])
def test_a_replayed_failure_gives_the_failing_runs_history_in_any_process(
    tmp_path: Path, mode: str
) -> None:
    scenario = small(mode)
    failing = run(scenario)  # stands for a property's run that failed
    case = save_run_case(scenario, property=PROPERTY, failure="planted", directory=tmp_path)
    expected = failing.history.to_jsonl().encode()
    outs = []
    for hash_seed in ("0", "4242"):
        out = tmp_path / f"replay-{hash_seed}.jsonl"
        payload = replay_in_subprocess(case, out, hash_seed)
        assert payload["history_sha256"] == hashlib.sha256(expected).hexdigest()
        assert payload["metrics"] == json.loads(failing.to_json())["metrics"]
        assert payload["kind"] == "run" and payload["property"] == PROPERTY
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == expected


def test_replay_in_process_and_the_readable_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = small("weak")
    path = save_run_case(scenario, property=PROPERTY, failure="oversold 2", directory=tmp_path)
    history, metrics = replay(load_case(path))
    original = run(scenario)
    assert history.to_jsonl() == original.history.to_jsonl()
    assert metrics == original.metrics
    assert main(["replay", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"case: {PROPERTY} failed: oversold 2" in out
    assert f"history: sha256 {history_digest(history)} ({len(history)} ops)" in out
    assert "oversell_units" in out and f"mode weak, seed {scenario.seed}" in out


def _case(**changes: object) -> str:
    raw = {
        "capsim_replay": 1,
        "kind": "run",
        "scenario": small().to_dict(),
        "seed": 3,
        "property": PROPERTY,
        "failure": "f",
    }
    raw.update(changes)
    return json.dumps({k: v for k, v in raw.items() if v is not ...})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such case file"),
        ("directory", "is a directory"),
        (b"\xff\xfe not utf-8", "cannot read"),
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ("[" * 100_000, "not JSON"),
        (_case(capsim_replay=2), "capsim_replay: expected 1 (got 2)"),
        (_case(capsim_replay=...), "capsim_replay: expected 1 (got None)"),
        (_case(kind="tape"), "kind: must be one of"),
        (_case(seed=-1), "seed: must be an integer >= 0"),
        (_case(seed=True), "seed: must be an integer >= 0"),
        (_case(seed="7"), "seed: must be an integer >= 0"),
        (_case(scenario=...), "scenario: must be a JSON object (got missing)"),
        (_case(scenario=[1]), "scenario: must be a JSON object (got list)"),
        (_case(scenario={"cluster": {"mode": "paxos"}}), "cluster.mode: unknown 'paxos'"),
        (_case(scenario={"cluster": {"nodes": "five"}}), "cluster.nodes"),
        (_case(property=3), "property: must be a string"),
        (_case(steps=[]), "steps: only machine cases have steps"),
        (_case(colour="red"), "colour: unknown field"),
    ],
)
def test_a_bad_case_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: object, expected: str
) -> None:
    path = tmp_path / "case.json"
    if content == "directory":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    assert main(["replay", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and expected in lines[0], captured.err
    assert "Traceback" not in captured.err


def test_history_into_a_missing_directory_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = save_run_case(small(), property=PROPERTY, failure="f", directory=tmp_path)
    out = tmp_path / "missing" / "h.jsonl"
    assert main(["replay", str(path), "--history", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--history" in err[0]
