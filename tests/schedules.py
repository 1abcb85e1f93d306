"""How many generated fault schedules the suite ran (issue 14: at least 1,000 per make test).

Every property that runs a generated fault schedule calls `ran()` once per
example (a state-machine run counts once); conftest prints the total at the end.
"""

from __future__ import annotations

_ran = 0


def ran(schedules: int = 1) -> None:
    """Count `schedules` generated fault schedules as run."""
    global _ran
    _ran += schedules


def total() -> int:
    """The generated fault schedules run so far in this process."""
    return _ran
