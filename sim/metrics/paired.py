"""The history paired once for every metric: both levels in one pass, with their timing columns.

`sim.history.pair_ops` defines the pairing; metrics pair both levels of an
~80,000-op history, and walking the Ops is most of what the metrics cost. So
one pass pairs both levels the same way and takes, while it holds each Op,
the times the latency, availability and throughput metrics need.
"""

from __future__ import annotations

from array import array
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

    def ok_rows(self, *fs: str) -> np.ndarray:
        """The rows of the operations of the `fs` that completed ok, ascending: found in
        the `ok` column, not by reading each row's completion."""
        rows = np.asarray(self.rows_of(fs), dtype=np.intp)
        return rows[self.timings.ok[rows]]

    def pairs(self, *fs: str) -> list[Pair]:
        """The (invoke, completion) pairs of the `fs`, in the order invoked."""
        invokes, completions = self.invokes, self.completions
        return [(invokes[i], completions[i]) for i in self.rows_of(fs)]

    def timings_of(self, *fs: str) -> Timings:
        """The timings of the operations of the `fs`, in the order invoked."""
        return self.timings.take(self.rows_of(fs))


_PROCESS, _TYPE, _F, _TIME = map(Op._fields.index, ("process", "type", "f", "time"))


class _Pairing:
    """A level's columns while the pass fills them.

    Args:
        fs: the level's `f`s.
        size: how many Ops the pass walks: no level has more rows, so the columns a
            completion fills are allocated once, not grown for each invoke. The times
            and outcomes go to C arrays, numpy's columns without another walk.
    """

    __slots__ = ("completed", "completions", "invoked", "invokes", "ok", "open", "rows")

    def __init__(self, fs: Iterable[str], size: int) -> None:
        self.invokes: list[Op] = []
        self.invoked = array("d")
        self.completions: list[Op | None] = [None] * size
        self.completed = array("d", [float("nan")]) * size
        self.ok = bytearray(size)  # 0 or 1: numpy's bool
        self.rows: dict[str, list[int]] = {f: [] for f in fs}
        self.open: dict[object, int] = {}  # process -> row of its open operation

    def columns(self, rows: list[int]) -> tuple:
        """What the pass fills for an Op of an `f` whose rows are `rows`, in one tuple."""
        return (
            self.open,
            self.invokes,
            self.invoked,
            rows,
            self.completions,
            self.completed,
            self.ok,
        )

    def level(self) -> Level:
        """The filled columns, cut to the level's rows."""
        n = len(self.invokes)
        timings = Timings(
            np.frombuffer(self.invoked, dtype=float),
            np.frombuffer(self.completed, dtype=float)[:n].copy(),
            np.frombuffer(self.ok, dtype=bool)[:n].copy(),
        )
        rows = {f: of_f for f, of_f in self.rows.items() if of_f}
        return Level(self.invokes, self.completions[:n], timings, rows)


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
    def of(cls, ops: Sequence[Op]) -> Paired:
        """Pair `ops` (a history's), both levels in one pass.

        Each invoke is paired with its process's next completion at the same level
        (a process has at most one operation of each level open at a time).

        The pass is most of the metrics' cost, so it does little per Op: one look-up
        of its `f` gives every column it goes to.
        """
        shop, store = _Pairing(SHOP_FS, len(ops)), _Pairing(STORE_FS, len(ops))
        columns_of = {f: lv.columns(rows) for lv in (shop, store) for f, rows in lv.rows.items()}
        for op in ops:  # fields by index: a NamedTuple's attributes are slower to read
            try:
                columns = columns_of[op[_F]]
            except KeyError:  # of neither level
                continue
            open_rows, invokes, invoked, rows, completions, completed, ok = columns
            if op[_TYPE] == INVOKE:
                row = len(invokes)
                open_rows[op[_PROCESS]] = row
                invokes.append(op)
                invoked.append(op[_TIME])
                rows.append(row)
            else:
                row = open_rows.pop(op[_PROCESS], None)
                if row is not None:
                    completions[row] = op
                    completed[row] = op[_TIME]
                    ok[row] = op[_TYPE] == OK
        return cls(shop.level(), store.level())
