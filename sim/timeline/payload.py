"""A Timeline as the JSON the page embeds: columnar arrays and one table of strings.

Columns, not one object per operation, because a history of 100,000
operations must stay a few megabytes and parse in a blink: each column is a
plain array of numbers, and every text (keys, processes, `f`, values, errors)
is an index into `strings`, where repeated texts appear once.

The shape (version `FORMAT`):

    title, t: [t_min, t_max], counts: {ops, faults, orphans}
    check: null | {verdict, model, unknown_reason}
    strings: [text, ...]
    keys: [{name, verdict, first, count}]      lanes first .. first+count-1
    lanes: {key: [key index], process: [string]}
    ops: {lane, start, end (null: never completed), outcome (OUTCOMES), level
          (LEVELS), f, value, output, error (string or -1), siblings, index}
    faults: {name, start, end, value, open}
    violations: [{key (key index or -1), key_name, state, linearized: [op row],
                  stuck: [op row], descriptions: [[op row, text]]}]

Ops are sorted by lane, then start: the page finds a lane's operations in a
time window by binary search.
"""

from __future__ import annotations

import json
from typing import Any

from sim.check.models import freeze
from sim.timeline.model import OPEN, Timeline, key_label

__all__ = ["FORMAT", "LEVELS", "OUTCOMES", "to_payload"]

FORMAT = 1
OUTCOMES = ("ok", "fail", "info", OPEN)
LEVELS = ("store", "shop")
VALUE_CHARS = 160
"""Longest value text kept (the tooltip's; the history file has the rest)."""


class _Strings:
    """Interns texts: each distinct text once, referred to by its index."""

    def __init__(self) -> None:
        self.table: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        i = self._index.get(text)
        if i is None:
            i = self._index[text] = len(self.table)
            self.table.append(text)
        return i


def value_text(value: Any, cache: dict[Any, str] | None = None) -> str:
    """A value as compact JSON text, cut at VALUE_CHARS characters.

    Args:
        value: any JSON-like value.
        cache: texts of scalar values already seen (values repeat: nil, tags, counts).
    """
    scalar = value is None or type(value) in (str, int, float, bool)
    if scalar and cache is not None:
        text = cache.get((type(value), value))
        if text is not None:
            return text
    text = json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    if len(text) > VALUE_CHARS:
        text = text[: VALUE_CHARS - 1] + "…"
    if scalar and cache is not None:
        cache[(type(value), value)] = text
    return text


def _time(t: float) -> float | int:
    """Times to the microsecond (of a millisecond clock): enough to draw, a third of the bytes."""
    rounded = round(t, 3)
    return int(rounded) if rounded.is_integer() else rounded


def to_payload(timeline: Timeline) -> dict[str, Any]:
    """The page's data for `timeline` (see the module docstring for its shape)."""
    s = _Strings()
    lane_of: dict[tuple[Any, Any], int] = {}
    key_index: dict[Any, int] = {}
    keys: list[dict[str, Any]] = []
    lane_keys: list[int] = []
    lane_processes: list[int] = []
    for key, process in timeline.lanes:
        frozen = freeze(key)
        if frozen not in key_index:
            key_index[frozen] = len(keys)
            verdict = timeline.per_key.get(frozen)
            keys.append(
                {"name": key_label(key), "verdict": verdict, "first": len(lane_keys), "count": 0}
            )
        keys[key_index[frozen]]["count"] += 1
        lane_of[(frozen, process)] = len(lane_keys)
        lane_keys.append(key_index[frozen])
        lane_processes.append(s(str(process)))

    lane_by_bar = [lane_of[(freeze(b.key), b.process)] for b in timeline.bars]
    rows = sorted(
        range(len(timeline.bars)),
        key=lambda i: (lane_by_bar[i], timeline.bars[i].start, timeline.bars[i].index),
    )
    bars = [timeline.bars[i] for i in rows]
    row_of = {bar.index: row for row, bar in enumerate(bars)}
    texts: dict[Any, str] = {}
    ops: dict[str, list[Any]] = {
        name: []
        for name in (
            "lane",
            "start",
            "end",
            "outcome",
            "level",
            "f",
            "value",
            "output",
            "error",
            "siblings",
            "index",
        )
    }
    for i, bar in zip(rows, bars, strict=True):
        ops["lane"].append(lane_by_bar[i])
        ops["start"].append(_time(bar.start))
        ops["end"].append(None if bar.end is None else _time(bar.end))
        ops["outcome"].append(OUTCOMES.index(bar.outcome))
        ops["level"].append(LEVELS.index(bar.level))
        ops["f"].append(s(bar.f))
        ops["value"].append(s(value_text(bar.value, texts)))
        ops["output"].append(s(value_text(bar.output, texts)))
        ops["error"].append(-1 if bar.error is None else s(str(bar.error)))
        ops["siblings"].append(bar.siblings)
        ops["index"].append(bar.index)

    faults: dict[str, list[Any]] = {n: [] for n in ("name", "start", "end", "value", "open")}
    for band in timeline.faults:
        faults["name"].append(s(band.name))
        faults["start"].append(_time(band.start))
        faults["end"].append(_time(band.end))
        faults["value"].append(s(band.value))
        faults["open"].append(int(band.open))

    violations = [
        {
            "key": key_index.get(freeze(v.key), -1),
            "key_name": key_label(v.key),
            "state": v.state,
            "linearized": [row_of[i] for i in v.linearized if i in row_of],
            "stuck": [row_of[i] for i in v.stuck if i in row_of],
            "descriptions": [
                [row_of[i], text] for i, text in v.descriptions.items() if i in row_of
            ],
        }
        for v in timeline.violations
    ]
    check = None
    if timeline.verdict is not None:
        check = {
            "verdict": timeline.verdict,
            "model": timeline.model,
            "unknown_reason": timeline.unknown_reason,
        }
    return {
        "format": FORMAT,
        "title": timeline.title,
        "t": [_time(timeline.t_min), _time(timeline.t_max)],
        "counts": {
            "ops": len(timeline.bars),
            "faults": len(timeline.faults),
            "orphans": timeline.orphans,
        },
        "check": check,
        "strings": s.table,
        "keys": keys,
        "lanes": {"key": lane_keys, "process": lane_processes},
        "ops": ops,
        "faults": faults,
        "violations": violations,
    }
