"""The nemesis's events in a history, paired into fault bands (start to stop) for the timeline.

Two conventions are read:

- capsim's (sim/engine/nemesis.py): one `info` op `start-KIND` when a fault
  begins and one `stop-KIND` with the same value when it ends. Faults of one
  kind may overlap (two crashed nodes), so a stop closes the earliest open
  start of its kind with an equal value (else the earliest of its kind).
- Jepsen's: ops `start` and `stop` (or `start-x` / `stop-x`) of process
  `nemesis`, each logged twice, when the nemesis is asked and when it is done.
  A start while one of its kind is already open and still valueless is the
  completion of that start (it gives the band its value); a stop that finds
  nothing open extends the band its kind closed last, when no start came in
  between (the completion of that stop).

A fault still open at the end of the history lasts until its end (`open`).
Every other nemesis event (a Jepsen `kill`, say) is a band of zero length at
its time, so nothing the nemesis did is left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sim.history import NEMESIS, Op

__all__ = ["FaultBand", "fault_bands"]


@dataclass(frozen=True, slots=True)
class FaultBand:
    """One fault, active from `start` to `end` (simulated time, the history's unit).

    Attributes:
        name: the fault's kind (`partition`, `crash`; `nemesis` for Jepsen's start and stop).
        start: when it began.
        end: when it was healed, or the end of the history when it never was.
        value: what the nemesis recorded (groups, node, ...), as JSON text.
        open: True when the history ends before the fault was healed.
        index: position of its first event in the history.
    """

    name: str
    start: float
    end: float
    value: str
    open: bool
    index: int


def _kind(f: str) -> tuple[str, str]:
    """(verb, kind): `start-partition` -> ("start", "partition"); Jepsen's `stop` -> ("stop",
    "nemesis"); `kill` -> ("", "kill")."""
    for verb in ("start", "stop"):
        if f == verb:
            return verb, NEMESIS
        if f.startswith(verb + "-"):
            return verb, f[len(verb) + 1 :]
    return "", f


def _text(value: Any) -> str:
    """A nemesis value as compact JSON text (`null` when there is none)."""
    return json.dumps(value, separators=(",", ":"), default=str, sort_keys=True)


def fault_bands(ops: Iterable[Op], end_of_history: float) -> list[FaultBand]:
    """Pair the nemesis's events of `ops` into bands, in order of their start.

    Args:
        ops: the history (only process "nemesis" is read).
        end_of_history: where a fault never healed ends.

    Returns:
        The bands, sorted by start time (then history position).
    """
    open_: dict[str, list[list[Any]]] = {}  # kind -> [index, start, value text] still open
    last_closed: dict[str, int] = {}  # kind -> position in `bands` of the band closed last
    bands: list[FaultBand] = []
    for i, op in enumerate(ops):
        if op.process != NEMESIS:
            continue
        verb, kind = _kind(str(op.f))
        text = _text(op.value)
        if verb == "start":
            waiting = open_.setdefault(kind, [])
            last_closed.pop(kind, None)
            if waiting and waiting[-1][2] == "null":
                waiting[-1][2] = text  # Jepsen: the completion of the start just asked for
                continue
            waiting.append([i, op.time, text])
        elif verb == "stop":
            waiting = open_.get(kind, [])
            if not waiting:
                j = last_closed.get(kind)
                if j is not None:  # Jepsen: the completion of the stop just made
                    band = bands[j]
                    bands[j] = FaultBand(
                        band.name, band.start, op.time, band.value, False, band.index
                    )
                continue
            match = next((w for w in waiting if w[2] == text), waiting[0])
            waiting.remove(match)
            last_closed[kind] = len(bands)
            bands.append(FaultBand(kind, match[1], op.time, match[2], False, match[0]))
        else:
            bands.append(FaultBand(kind, op.time, op.time, text, False, i))
    for kind, waiting in open_.items():
        bands.extend(
            FaultBand(kind, start, max(start, end_of_history), text, True, index)
            for index, start, text in waiting
        )
    return sorted(bands, key=lambda b: (b.start, b.index))
