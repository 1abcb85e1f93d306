"""Cases the state machine found, pinned: each replays and must keep its mode's promises.

A case file is what a failing example saved (`python -m sim replay FILE`
re-runs it). A case whose bug is not fixed yet is marked xfail (strict), with
the diagnosis, so that the fix shows up as an unexpected pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.replay import load_case, replay

CASES = Path(__file__).parent / "cases"
KNOWN = {
    "strong-saga-release-loses-to-late-confirm.json": (
        "strong, durable, saga: a confirm that timed out at the client is still in the "
        "Raft log; the finish saga finds the hold lapsed, turns to abort, and cancels the "
        "order record in a round whose release failed; the late confirm then commits, and "
        "release() returns DONE on a confirmed reservation: confirmed units, cancelled "
        "record (held_units 1, partial_orders 1)"
    ),
}


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=KNOWN[p.name]))
        if p.name in KNOWN
        else p
        for p in sorted(CASES.glob("*.json"))
    ],
    ids=lambda p: p.stem,
)
def test_a_pinned_case_keeps_its_modes_promises(path: Path) -> None:
    case = load_case(path)
    _, m = replay(case)
    how = f"python -m sim replay {path.relative_to(CASES.parents[2])}"
    if case.scenario.cluster.mode == "strong" and case.scenario.cluster.durable:
        assert m["oversell_units"] == 0 and m["lost_orders"] == 0, how
        assert m["held_units"] == 0 and m["partial_orders"] == 0, how
    if case.scenario.cluster.mode == "eventual":
        assert m["lost_orders"] == 0 and m["oversell_units"] <= m["apologies"], how
