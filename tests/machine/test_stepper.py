"""The stepper: steps drive the world run() builds; bad steps are named; machine cases replay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim.cli import main
from sim.history import NEMESIS
from sim.replay import history_digest, load_case, replay, save_machine_case
from sim.scenario import Scenario
from sim.stepper import StepError, Stepper, check_step

SCENARIO = Scenario.from_dict(
    {
        "seed": 5,
        "cluster": {"nodes": 3, "mode": "eventual", "anti_entropy_ms": 200.0},
        "workload": {"products": 1, "stock": 2, "customers": 8, "timeout_ms": 500.0},
        "shop": {"hold_ms": 1000.0},
    }
)
STEPS: list[dict[str, Any]] = [
    {"do": "order", "node": 0, "product": 0},
    {"do": "write", "node": 1, "key": "x"},
    {"do": "start", "fault": {"kind": "partition", "groups": [[0], [1, 2]]}},
    {"do": "advance", "ms": 20},
    {"do": "order", "node": 0, "product": 0},
    {"do": "order", "node": 2, "product": 0},
    {"do": "cas", "node": 2, "key": "x"},
    {"do": "browse", "node": 1, "product": 0},
    {"do": "start", "fault": {"kind": "flapping", "groups": [[1]], "period_ms": 30.0}},
    {"do": "advance", "ms": 100},
    {"do": "stop", "fault": 0},
    {"do": "start", "fault": {"kind": "crash", "node": 2}},
    {"do": "read", "node": 0, "key": "x"},
    {"do": "advance", "ms": 50},
    {"do": "settle", "ms": 3000},
]


def stepped(steps: list[dict[str, Any]] = STEPS, scenario: Scenario = SCENARIO) -> Stepper:
    stepper = Stepper(scenario)
    for step in steps:
        stepper.apply(step)
    return stepper


def test_steps_drive_operations_and_faults_and_are_recorded() -> None:
    stepper = stepped()
    assert stepper.steps == STEPS and stepper.active() == []
    nemesis = [(op.f, op.time) for op in stepper.history if op.process == NEMESIS]
    assert nemesis == [
        ("start-partition", 0.0),
        ("start-flapping", 20.0),  # on for 30 ms, off for 30, ...
        ("stop-flapping", 50.0),
        ("start-flapping", 80.0),
        ("stop-flapping", 110.0),
        ("stop-partition", 120.0),
        ("start-crash", 120.0),
        ("start-flapping", 140.0),
        ("stop-flapping", 170.0),  # the settle heals what is on...
        ("stop-crash", 170.0),  # ...and restarts the node
    ]
    fs = {(op.process, op.f) for op in stepper.history if op.type == "invoke"}
    assert {(0, "order"), (4, "write"), (6, "order"), (11, "order"), (14, "read")} <= fs
    m = stepper.metrics()
    assert m["requests"] == 4 and m["requests_during_faults"] == 4  # partitioned from 0 to 120
    assert m["orders_acknowledged"] == 2 and m["oversell_units"] == 0
    assert m["lost_orders"] == 0 and m["converged"] is True


def test_the_same_steps_give_the_same_history_and_a_different_seed_another() -> None:
    first, again = stepped(), stepped()
    assert first.history.to_jsonl() == again.history.to_jsonl()
    other = stepped(scenario=SCENARIO.with_overrides({"seed": 6}))
    assert other.history.to_jsonl() != first.history.to_jsonl()


def test_a_machine_case_replays_to_the_same_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stepper = stepped()
    path = save_machine_case(
        SCENARIO, stepper.steps, property="tests/x.py::test_y", failure="f", directory=tmp_path
    )
    case = load_case(path)
    assert case.kind == "machine" and list(case.steps) == STEPS
    history, metrics = replay(case)
    assert history.to_jsonl() == stepper.history.to_jsonl()
    assert metrics == stepper.metrics()
    assert main(["replay", str(path)]) == 0
    assert f"history: sha256 {history_digest(history)}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("order", "step: must be a step object"),
        ({"do": "dance"}, "step.do: unknown 'dance'"),
        ({"do": "order", "node": 0}, "step.product: missing"),
        ({"do": "order", "node": 3, "product": 0}, "step.node: must be < 3 (got 3)"),
        ({"do": "order", "node": True, "product": 0}, "step.node: must be an integer >= 0"),
        ({"do": "browse", "node": 0, "product": 1}, "step.product: must be < 1"),
        ({"do": "read", "node": 0, "key": "product:0"}, "step.key: must be a register name"),
        ({"do": "write", "node": 0, "key": "x", "value": 3}, "step.value: unknown field"),
        ({"do": "advance", "ms": 0}, "step.ms: must be a number in (0, 3.6e+06]"),
        ({"do": "advance", "ms": float("nan")}, "step.ms: must be a number"),
        ({"do": "settle", "ms": 1e300}, "step.ms: must be a number"),
        ({"do": "start", "fault": {"kind": "meteor"}}, "step.fault.kind: unknown 'meteor'"),
        ({"do": "start", "fault": {"kind": "crash", "node": 7}}, "step.fault.node: node 7"),
        (
            {"do": "start", "fault": {"kind": "crash", "node": 0, "end_ms": 5}},
            "step.fault.end_ms: a stepped fault starts now",
        ),
        ({"do": "stop", "fault": -1}, "step.fault: must be an integer >= 0"),
    ],
)
def test_a_bad_step_is_named(step: Any, expected: str) -> None:
    with pytest.raises(StepError, match=None) as error:
        check_step(step, SCENARIO)
    assert expected in str(error.value)


def test_stopping_a_fault_that_is_not_active_is_refused_and_not_recorded() -> None:
    stepper = Stepper(SCENARIO)
    with pytest.raises(StepError, match="fault 0 is not active"):
        stepper.apply({"do": "stop", "fault": 0})
    assert stepper.steps == []


def test_a_step_during_which_the_simulator_fails_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A case saved then ends with the step that failed, so its replay fails there too."""
    stepper = Stepper(SCENARIO)
    stepper.apply({"do": "read", "node": 0, "key": "x"})

    def broken(*args: Any) -> None:
        raise RuntimeError("planted")

    monkeypatch.setattr(stepper.mode, "read", broken)
    stepper.apply({"do": "read", "node": 1, "key": "x"})  # its request leaves over the hop...
    with pytest.raises(RuntimeError, match="planted"):
        stepper.apply({"do": "advance", "ms": 10})  # ...and reaches the mode meanwhile
    assert stepper.steps[-1] == {"do": "advance", "ms": 10}


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ("not a list", "steps: must be a list of step objects"),
        ([{"do": "advance", "ms": 5}, {"do": "jump"}], "steps[1].do: unknown 'jump'"),
        ([{"do": "stop", "fault": 0}], "stop: fault 0 is not active"),
    ],
)
def test_a_bad_machine_case_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: Any, expected: str
) -> None:
    path = tmp_path / "case.json"
    raw = {"capsim_replay": 1, "kind": "machine", "scenario": SCENARIO.to_dict(), "seed": 5}
    path.write_text(json.dumps({**raw, "steps": steps}))
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and expected in err[0], err
