"""The run loop: chunks with progress, and the collector settings it borrows and gives back."""

from __future__ import annotations

import gc
import sys
import weakref

import pytest

from sim.engine import loop
from sim.engine.kernel import Engine
from sim.engine.loop import YOUNG_THRESHOLD, run_until


def test_progress_per_chunk_and_the_run_stops_at_the_end() -> None:
    env = Engine()
    ticks: list[float] = []
    for t in (5.0, 99.0, 100.0, 150.0):
        env.call_later(t, ticks.append, t)
    seen: list[float] = []
    run_until(env, 100.0, lambda now, end: seen.append(now), chunks=4)
    assert seen == [25.0, 50.0, 75.0, 100.0]
    assert ticks == [5.0, 99.0]  # `until` is exclusive, as in env.run
    assert env.now == 100.0


def test_collector_thresholds_and_freeze_are_restored_even_on_error() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    env = Engine()
    inside: list[tuple] = []

    def boom() -> None:
        inside.append((gc.get_threshold()[0], gc.get_freeze_count()))
        raise RuntimeError("boom")

    env.call_later(60.0, boom)
    try:
        run_until(env, 100.0, chunks=4)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the error should propagate")
    threshold, frozen = inside[0]
    assert threshold == max(before[0], YOUNG_THRESHOLD)
    assert frozen > 0  # the first chunks froze what was alive
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_callers_own_freeze_is_left_alone() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        run_until(Engine(), 10.0, chunks=2)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


class _Node:
    """An object in a reference cycle (weakly referable, to see when it is freed)."""

    def __init__(self) -> None:
        self.me = self


def test_a_run_collects_what_earlier_runs_left_in_cycles_once_memory_doubled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Freezing keeps the collector from its oldest generation: cyclic garbage left between
    runs is collected when a run starts, once allocated memory doubled since the last full
    collection (the garbage would otherwise stay until the process ends)."""
    gc.collect()  # no young collection due before the run freezes what follows
    full = gc.get_stats()[2]["collections"]
    monkeypatch.setattr(loop, "FULL_AFTER_BLOCKS", 0)
    monkeypatch.setattr(
        loop, "_full", {"blocks": sys.getallocatedblocks() * 10, "collections": full}
    )
    kept = weakref.ref(_Node())  # garbage in a cycle: only a full collection frees it
    run_until(Engine(), 10.0, chunks=2)
    assert kept() is not None  # memory has not doubled: no full collection
    monkeypatch.setattr(loop, "_full", {"blocks": 0, "collections": full})
    freed = weakref.ref(_Node())
    run_until(Engine(), 10.0, chunks=2)
    assert freed() is None and kept() is None
    assert 0 < loop._full["blocks"] <= sys.getallocatedblocks() * 2
    assert loop._full["collections"] == full + 1
