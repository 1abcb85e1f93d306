"""Drive the SimPy loop to the end of a run in chunks: progress reports and a GC-friendly heap.

A run accumulates a history of millions of small, long-lived objects. Python's
cyclic collector keeps re-scanning them (a 20 s eventual-mode run spent a third
of its time in the GC, benchmarks/engine.py). After each chunk, young garbage
is collected and everything still alive is frozen (`gc.freeze`: moved out of
the collector's generations); at the end it is unfrozen, so nothing leaks past
the run. If the caller froze objects itself, its freeze is left alone and the
run is not frozen.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import simpy

CHUNKS = 50


def run_until(
    env: simpy.Environment,
    end_ms: float,
    progress: Callable[[float, float], None] | None = None,
    chunks: int = CHUNKS,
) -> None:
    """Advance `env` to `end_ms`, calling `progress(now, end_ms)` after each chunk."""
    start = env.now
    freeze = gc.isenabled() and gc.get_freeze_count() == 0
    try:
        for i in range(1, chunks + 1):
            env.run(until=start + (end_ms - start) * i / chunks)
            if freeze:
                gc.collect(1)
                gc.freeze()
            if progress is not None:
                progress(env.now, end_ms)
    finally:
        if freeze:
            gc.unfreeze()
