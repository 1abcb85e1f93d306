"""Failing run properties save their case for replay: `with replayable(scenario): ...`.

Issue 14: every property failure writes the run (scenario, seed, generated
schedule) under `.capsim-failures/` and tells how to replay it, `python -m sim
replay <path>`. Wrapping the body of a property in `replayable` does that in
one place instead of a try/except in every test. Only the run Hypothesis
reports is saved (the final replay of the minimal example, or an explicit
`@example`), not each step of the shrink; outside Hypothesis every failure is.
The saved case reruns the scenario; the failing check is in the test named by
the case's `property`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis.control import current_build_context, currently_in_test_context
from hypothesis.errors import HypothesisException

from sim.replay import replay_command, save_run_case
from sim.scenario import Scenario
from tests import schedules


def current_test() -> str:
    """The running pytest test's id (`tests/x.py::test_y`), or "" outside pytest."""
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]


def reported() -> bool:
    """Whether this failure is the one Hypothesis reports (not a step of its shrink)."""
    return not currently_in_test_context() or current_build_context().is_final


@contextmanager
def replayable(
    scenario: Scenario, property: str | None = None, directory: Path | None = None
) -> Iterator[None]:
    """Run a property's body on `scenario`: one generated schedule, saved for replay if it fails.

    Counts the example (tests/schedules.py). On failure the exception goes on
    unchanged, with a note (PEP 678, shown by pytest and Hypothesis) holding
    `python -m sim replay <path>`.

    Args:
        scenario: the run the body checks, exactly as it runs it.
        property: the name saved in the case (default: the current pytest test id).
        directory: where the case goes (default: sim.replay's, `.capsim-failures/`).
    """
    schedules.ran()
    try:
        yield
    except HypothesisException:
        raise  # Hypothesis' own control flow (an unsatisfied assumption, a deadline)
    except Exception as exc:
        if reported():
            path = save_run_case(
                scenario,
                property=property or current_test(),
                failure=f"{type(exc).__name__}: {exc}"[:2000],
                directory=directory,
            )
            exc.add_note(f"replay this run: {replay_command(path)}")
        raise
