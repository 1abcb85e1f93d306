"""Drive the SimPy loop to the end of a run in chunks: progress reports and a GC-friendly heap.

A run accumulates a history of millions of small, long-lived objects. Python's
cyclic collector keeps re-scanning them (a 20 s eventual-mode run spent a third
of its time in the GC, benchmarks/engine.py). After each chunk everything
alive is frozen (`gc.freeze`: moved out of the collector's generations); at
the end it is unfrozen, so nothing leaks past the run. If the caller froze
objects itself, its freeze is left alone and the run is not frozen. The chunks
used to collect before freezing: that scanned every object of the run once
and found nothing (55 collections, 3.5% of the full scenario of
benchmarks/engine.py, 0 objects freed; a strong-mode run with a partition
freed 491). What reference counting does not free, a cycle made during a
run, is frozen with the rest and freed after the run, when it is unfrozen.

Measuring the run afterwards (sim/metrics) walks that history and makes as
many short-lived objects again; `quiet_gc` gives it the same regime (a
quarter of the metrics' time was the collector re-scanning the history).

The youngest generation's threshold is also raised for the run, from 700 to
YOUNG_THRESHOLD net allocations. A run's net allocations are its history's
ops, which live on; but each young collection scans every young object,
including the thousands that requests in flight keep alive for a moment. At
700 the collector re-scanned each of those about eight times and took 15% of
an eventual-mode run (benchmarks/engine.py); with the chunks' objects
freezing, young collections are now rare.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import simpy

CHUNKS = 50
YOUNG_THRESHOLD = 50_000
"""Net allocations between young collections during a run (Python's default: 700)."""


@contextmanager
def quiet_gc() -> Iterator[Callable[[], None]]:
    """Within: young collections rare, and `settle()` freezes every object alive. At exit
    the threshold is restored and the freeze undone (unless the caller had frozen
    objects itself: then `settle` does nothing and its freeze stays)."""
    freeze = gc.isenabled() and gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], YOUNG_THRESHOLD), *thresholds[1:])

    def settle() -> None:
        if freeze:
            gc.freeze()

    try:
        settle()
        yield settle
    finally:
        gc.set_threshold(*thresholds)
        if freeze:
            gc.unfreeze()


def run_until(
    env: simpy.Environment,
    end_ms: float,
    progress: Callable[[float, float], None] | None = None,
    chunks: int = CHUNKS,
) -> None:
    """Advance `env` to `end_ms`, calling `progress(now, end_ms)` after each chunk."""
    start = env.now
    with quiet_gc() as settle:
        for i in range(1, chunks + 1):
            env.run(until=start + (end_ms - start) * i / chunks)
            settle()
            if progress is not None:
                progress(env.now, end_ms)
