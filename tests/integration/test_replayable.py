"""A failing run property saves its case, and `python -m sim replay` reproduces it (issue 14).

A property is planted that fails on purpose for some scenarios (a flash sale
that acknowledged three orders or more, one with a bridge fault). Hypothesis
finds and shrinks one; `replayable` (tests/failures.py) must save only the
reported example, name it in the failure (`python -m sim replay <path>`), and
the command must replay that very run: the same history, byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from sim import History, Scenario, run
from sim.replay import history_digest, load_case
from tests import schedules
from tests.failures import replayable
from tests.strategies import EVERY_FAULT, scenarios

ROOT = Path(__file__).resolve().parents[2]
PLANTED = 3
"""The planted property fails once a run acknowledges this many orders."""


def replay_json(path: Path) -> dict:
    """What `python -m sim replay <path> --json` prints, run in a fresh process."""
    env = {**os.environ, "PYTHONHASHSEED": "123"}  # another hash seed than this process
    done = subprocess.run(
        [sys.executable, "-m", "sim", "replay", str(path), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def replay_line(exc: BaseException) -> Path:
    """The case path named in the exception's `python -m sim replay` note."""
    notes = "\n".join(getattr(exc, "__notes__", []))
    found = re.findall(r"python -m sim replay (\S+)", notes)
    assert len(found) == 1, notes
    return Path(found[0])


def test_a_planted_failure_is_saved_once_and_replays_to_the_same_history(
    tmp_path: Path,
) -> None:
    histories: list[tuple[Scenario, History]] = []
    before = schedules.total()

    @settings(
        max_examples=50,
        database=None,
        derandomize=True,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(scenarios(modes=("weak",), max_nodes=3, max_customers=10, fault_kinds=EVERY_FAULT))
    def planted(scenario: Scenario) -> None:
        with replayable(scenario, property="planted", directory=tmp_path):
            result = run(scenario)
            histories.append((scenario, result.history))
            bridged = any(f.kind == "bridge" for f in scenario.faults)
            assert not (bridged and result.metrics["orders_acknowledged"] >= PLANTED), "planted"

    with pytest.raises(AssertionError, match="planted") as failed:
        planted()

    path = replay_line(failed.value)
    assert path.parent == tmp_path
    assert list(tmp_path.iterdir()) == [path]  # the reported example only, not the shrink
    assert schedules.total() - before == len(histories)  # each example counted
    scenario, history = histories[-1]  # the final replay of the minimal example
    case = load_case(path)
    assert case.property == "planted" and "planted" in case.failure
    assert case.scenario == scenario
    replayed = replay_json(path)
    assert replayed["history_sha256"] == history_digest(history)
    assert replayed["metrics"]["orders_acknowledged"] >= PLANTED  # the failure is there again
    assert any(f.kind == "bridge" for f in case.scenario.faults)


def test_outside_hypothesis_every_failure_is_saved(tmp_path: Path) -> None:
    scenario = Scenario.from_dict({"seed": 5, "duration_ms": 500.0, "settle_ms": 500.0})
    with (
        pytest.raises(ZeroDivisionError) as failed,
        replayable(scenario, property="plain", directory=tmp_path),
    ):
        run(scenario)
        _ = 1 / 0
    path = replay_line(failed.value)
    assert load_case(path).scenario == scenario
    assert replay_json(path)["history_sha256"] == history_digest(run(scenario).history)


def test_a_passing_property_saves_nothing(tmp_path: Path) -> None:
    scenario = Scenario.from_dict({"seed": 5, "duration_ms": 500.0, "settle_ms": 500.0})
    with replayable(scenario, property="fine", directory=tmp_path):
        run(scenario)
    assert list(tmp_path.iterdir()) == []
