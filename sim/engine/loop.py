"""Drive the SimPy loop to the end of a run in chunks: progress reports and a GC-friendly heap.

A run accumulates a history of millions of small, long-lived objects. Python's
cyclic collector keeps re-scanning them (a 20 s eventual-mode run spent a third
of its time in the GC, benchmarks/engine.py). After each chunk everything
alive is frozen (`gc.freeze`: moved out of the collector's generations); at
the end it is unfrozen, so nothing stays frozen past the run. If the caller froze
objects itself, its freeze is left alone and the run is not frozen. The chunks
used to collect before freezing: that scanned every object of the run once
and found nothing (55 collections, 3.5% of the full scenario of
benchmarks/engine.py, 0 objects freed; a strong-mode run with a partition
freed 491). What reference counting does not free, a cycle made during a
run, is frozen with the rest and left, once unfrozen, to the full
collections below.

Measuring the run afterwards (sim/metrics) walks that history and makes as
many short-lived objects again; `quiet_gc` gives it the same regime (a
quarter of the metrics' time was the collector re-scanning the history).

Freezing has a price: in a process that runs run after run (a sweep's
worker, a notebook), the collector's own schedule no longer reaches its
oldest generation, and what a run leaves in reference cycles (its world) was
never freed: the full scenario of benchmarks/engine.py run 12 times in one
process grew from 74 to 275 MB. So a run collects in full when it starts
(`run_until`), once the memory blocks Python has allocated
(`sys.getallocatedblocks`, read in O(1)) are more than twice what they were
after the last full collection (and more than FULL_AFTER_BLOCKS): a process
holds at most about twice what it uses, at a cost amortised over its runs,
as CPython's own rule for its oldest generation would. Only at a run's
start: there the garbage is earlier runs'; after a big run, a collection
would walk that run's own live history (millions of objects) for nothing.

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
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import simpy

CHUNKS = 50
YOUNG_THRESHOLD = 50_000
"""Net allocations between young collections during a run (Python's default: 700)."""
FULL_AFTER_BLOCKS = 1_000_000
"""Allocated blocks below which `quiet_gc` never collects in full (a small process)."""
_full = {"blocks": 0, "collections": -1}
"""`sys.getallocatedblocks()` after the last full collection seen, and the count of the
collector's full collections then (one made elsewhere resets the baseline)."""


def _collect_if_grown() -> None:
    """A full collection if the process's memory more than doubled since the last one."""
    blocks = sys.getallocatedblocks()
    collections = gc.get_stats()[2]["collections"]
    if collections != _full["collections"]:  # collected in full elsewhere: count from here
        _full.update(blocks=blocks, collections=collections)
    elif blocks > max(2 * _full["blocks"], FULL_AFTER_BLOCKS):
        gc.collect()
        _full.update(blocks=sys.getallocatedblocks(), collections=gc.get_stats()[2]["collections"])


@contextmanager
def quiet_gc(collect_first: bool = False) -> Iterator[Callable[[], None]]:
    """Within: young collections rare, and `settle()` freezes every object alive. At exit
    the threshold is restored and the freeze undone (unless the caller had frozen
    objects itself: then `settle` does nothing and its freeze stays). `collect_first`
    (a run's start): first collect in full if memory doubled since the last time."""
    freeze = gc.isenabled() and gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], YOUNG_THRESHOLD), *thresholds[1:])
    if freeze and collect_first:
        _collect_if_grown()  # what earlier runs left in cycles (see the module's docstring)

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
    with quiet_gc(collect_first=True) as settle:
        for i in range(1, chunks + 1):
            env.run(until=start + (end_ms - start) * i / chunks)
            settle()
            if progress is not None:
                progress(env.now, end_ms)
