"""Jepsen-style operation records, the append-only History, and its JSON lines form.

Two levels share one stream (DESIGN.md, "History and checking"): store operations
(`read`, `write`, `cas`, `lock`, `unlock` on one key) and shop operations (`order`,
`browse`). The nemesis records fault events as `info` operations of process
"nemesis". Each consumer ignores the `f` values that are not its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

INVOKE = "invoke"
OK = "ok"
FAIL = "fail"
INFO = "info"
TYPES = (INVOKE, OK, FAIL, INFO)

NEMESIS = "nemesis"

STORE_FS = frozenset({"read", "write", "cas", "lock", "unlock", "txn"})
"""Store operations. A `txn` writes several keys at once, all or none: its value is a
list of micro-ops, Jepsen style: `["write", key, new]` or `["cas", key, [expected, new]]`."""
PROBE = "probe"
"""A probe read (PBS's experiment, sim/shop/workloads/probe.py): a shop-level operation."""
SHOP_FS = frozenset({"order", "browse", PROBE})


class Op(NamedTuple):
    """One history event, as Jepsen records it.

    `process` is a client id (int) or "nemesis"; `type` is invoke, ok, fail
    (certainly did not happen) or info (outcome unknown); `time` is simulated
    milliseconds. `error` says why a fail or info happened; `version` is the
    store's opaque version of the value read or written (a JSON value), used
    to measure stale reads.
    """

    process: int | str
    type: str
    f: str
    key: str | None
    value: Any
    time: float
    error: str | None = None
    version: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The op as a JSON-ready dict; absent optional fields are left out."""
        out: dict[str, Any] = {
            "process": self.process,
            "type": self.type,
            "f": self.f,
            "key": self.key,
            "value": self.value,
            "time": self.time,
        }
        if self.error is not None:
            out["error"] = self.error
        if self.version is not None:
            out["version"] = self.version
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Op:
        """Inverse of to_dict; lists stay lists (JSON has no tuples)."""
        return cls(
            d["process"],
            d["type"],
            d["f"],
            d.get("key"),
            d.get("value"),
            float(d.get("time", 0.0)),
            d.get("error"),
            d.get("version"),
        )


class History:
    """An append-only list of Ops in the order they happened, and the lineage of written values.

    `lineage[tag] = (time, parents)`: the value written under `tag` was made at
    `time` from the values tagged `parents` (what its writer had read). Values
    without an entry were written blind. Stale reads are judged by it
    (sim/metrics/staleness.py); it is not part of the exported history.
    """

    __slots__ = ("lineage", "ops")

    def __init__(self, ops: Iterable[Op] = ()) -> None:
        self.ops: list[Op] = list(ops)
        self.lineage: dict[str, tuple[float, tuple[str, ...]]] = {}

    def append(self, op: Op) -> None:
        """Record one event; callers append in simulated-time order."""
        self.ops.append(op)

    def handed_over(self) -> History:
        """A History holding this one's ops and lineage, this one left empty.

        A run hands its history to its Result this way: the world it leaves behind
        (held in reference cycles until the collector runs) then keeps no op alive,
        and the history is freed as soon as its Result is.
        """
        taken = History()
        taken.ops, taken.lineage = self.ops, self.lineage
        self.ops, self.lineage = [], {}
        return taken

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __getitem__(self, i: int) -> Op:
        return self.ops[i]

    def to_jsonl(self) -> str:
        """One JSON object per line, keys in a fixed order: byte-identical for equal histories."""
        return "".join(json.dumps(op.to_dict(), separators=(",", ":")) + "\n" for op in self.ops)

    def write_jsonl(self, path: str | Path) -> None:
        """Write the history as JSON lines to `path`."""
        Path(path).write_text(self.to_jsonl())

    @classmethod
    def from_jsonl(cls, text: str) -> History:
        """Parse JSON lines produced by to_jsonl (blank lines are skipped)."""
        from sim.errors import HistoryError

        ops = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                ops.append(Op.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise HistoryError(f"line {lineno}: not a history op ({exc})") from None
        return cls(ops)


def pair_ops(ops: Iterable[Op], fs: Iterable[str]) -> list[tuple[Op, Op | None]]:
    """Pair each invoke of an `f` in `fs` with its process's next completion of those fs.

    An operation still open at the end is paired with None (outcome unknown).
    A process has at most one operation of each level open at a time, so
    pairing within one level (store or shop) is unambiguous.
    """
    wanted = frozenset(fs)
    open_ops: dict[Any, int] = {}
    out: list[tuple[Op, Op | None]] = []
    for op in ops:
        if op.f not in wanted:
            continue
        if op.type == INVOKE:
            open_ops[op.process] = len(out)
            out.append((op, None))
        else:
            i = open_ops.pop(op.process, None)
            if i is not None:
                out[i] = (out[i][0], op)
    return out
