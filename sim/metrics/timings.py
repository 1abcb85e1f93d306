"""When operations were invoked and completed, and whether they succeeded, as numpy columns.

Latency percentiles, availability and throughput are counts, masks and
differences over every request of a run: as columns, each is one vectorised
expression instead of another walk over ~20,000 pairs of Ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.history import OK, Op


@dataclass(frozen=True, eq=False)  # numpy columns: compared by identity
class Timings:
    """One row per operation.

    Attributes:
        invoked_ms: when each operation was invoked.
        completed_ms: when it completed (NaN while its outcome is unknown).
        ok: whether it completed with `ok`.
    """

    invoked_ms: np.ndarray
    completed_ms: np.ndarray
    ok: np.ndarray

    @classmethod
    def of(cls, pairs: Sequence[tuple[Op, Op | None]]) -> Timings:
        """The columns of (invoke, completion) pairs."""
        return cls(
            np.array([inv.time for inv, _ in pairs], dtype=float),
            np.array([np.nan if done is None else done.time for _, done in pairs], dtype=float),
            np.array([done is not None and done.type == OK for _, done in pairs], dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.invoked_ms)

    @property
    def completed(self) -> np.ndarray:
        """Whether each operation completed (ok, fail or info): its outcome is known."""
        return ~np.isnan(self.completed_ms)

    def take(self, rows: Sequence[int]) -> Timings:
        """The timings of the operations in `rows`, in that order."""
        index = np.asarray(rows, dtype=np.intp)
        return Timings(self.invoked_ms[index], self.completed_ms[index], self.ok[index])
