"""The history paired once for every metric: both levels in one pass, with their timing columns.

`sim.history.pair_ops` defines the pairing; metrics pair both levels of an
~80,000-op history, and walking the Ops is most of what the metrics cost. So
one pass pairs both levels the same way and takes, while it holds each Op,
the times the latency, availability and throughput metrics need.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from sim.history import INVOKE, OK, SHOP_FS, STORE_FS, Op
from sim.metrics.timings import Timings

Pair = tuple[Op, Op | None]


@dataclass(frozen=True, eq=False)  # numpy columns: compared by identity
class Level(Sequence[Pair]):
    """One level's operations (store or shop) in the order invoked: row i is an invoke,
    its completion (None while the outcome is unknown) and its timings.

    As a sequence, it is the level's (invoke, completion) pairs, as `pair_ops` gives them.

    Attributes:
        invokes: each operation's invoke.
        completions: its completion, or None.
        timings: its times and outcome as columns.
        rows: each `f`'s rows, ascending (an `f` never invoked has none).
    """

    invokes: list[Op]
    completions: list[Op | None]
    timings: Timings
    rows: dict[str, list[int]]

    def __len__(self) -> int:
        return len(self.invokes)

    def __getitem__(self, row: int) -> Pair:
        return self.invokes[row], self.completions[row]

    def __iter__(self) -> Iterator[Pair]:
        """Every (invoke, completion) pair, in the order invoked, made as they are read."""
        return zip(self.invokes, self.completions, strict=True)

    def rows_of(self, fs: Sequence[str]) -> list[int]:
        """The rows of the operations of the `fs`, ascending (in the order invoked)."""
        if len(fs) == 1:
            return self.rows.get(fs[0], [])
        return sorted(row for f in fs for row in self.rows.get(f, ()))

    def pairs(self, *fs: str) -> list[Pair]:
        """The (invoke, completion) pairs of the `fs`, in the order invoked."""
        invokes, completions = self.invokes, self.completions
        return [(invokes[i], completions[i]) for i in self.rows_of(fs)]

    def timings_of(self, *fs: str) -> Timings:
        """The timings of the operations of the `fs`, in the order invoked."""
        return self.timings.take(self.rows_of(fs))


class _Pairing:
    """A level's columns while the pass fills them."""

    __slots__ = ("completed", "completions", "invoked", "invokes", "ok", "open", "rows")

    def __init__(self) -> None:
        self.invokes: list[Op] = []
        self.completions: list[Op | None] = []
        self.invoked: list[float] = []
        self.completed: list[float] = []
        self.ok: list[bool] = []
        self.rows: dict[str, list[int]] = {}
        self.open: dict[object, int] = {}  # process -> row of its open operation

    def level(self) -> Level:
        timings = Timings(
            np.array(self.invoked, dtype=float),
            np.array(self.completed, dtype=float),
            np.array(self.ok, dtype=bool),
        )
        return Level(self.invokes, self.completions, timings, self.rows)


@dataclass(frozen=True, eq=False)  # numpy columns: compared by identity
class Paired:
    """A run's operations at both levels, paired as `pair_ops` pairs them.

    Attributes:
        shop: order, browse and probe requests.
        store: read, write, cas, lock, unlock and txn operations.
    """

    shop: Level
    store: Level

    @classmethod
    def of(cls, ops: Iterable[Op]) -> Paired:
        """Pair `ops` (a history's), both levels in one pass.

        Each invoke is paired with its process's next completion at the same level
        (a process has at most one operation of each level open at a time).
        """
        shop, store = _Pairing(), _Pairing()
        level_of = {**dict.fromkeys(SHOP_FS, shop), **dict.fromkeys(STORE_FS, store)}
        nan = float("nan")
        for op in ops:
            level = level_of.get(op.f)
            if level is None:
                continue
            if op.type == INVOKE:
                row = len(level.invokes)
                level.open[op.process] = row
                level.invokes.append(op)
                level.completions.append(None)
                level.invoked.append(op.time)
                level.completed.append(nan)
                level.ok.append(False)
                rows = level.rows.get(op.f)
                if rows is None:
                    level.rows[op.f] = [row]
                else:
                    rows.append(row)
            else:
                row = level.open.pop(op.process, None)
                if row is not None:
                    level.completions[row] = op
                    level.completed[row] = op.time
                    level.ok[row] = op.type == OK
        return cls(shop.level(), store.level())
