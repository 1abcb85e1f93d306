"""The history a run hands to its Result."""

from __future__ import annotations

import gc

from sim import load_scenario, run
from sim.history import INVOKE, History, Op


def test_handed_over_moves_the_ops_and_lineage_and_leaves_the_original_empty() -> None:
    history = History([Op(1, INVOKE, "read", "k", None, 0.0)])
    history.lineage["t"] = (0.0, ())
    ops, lineage = history.ops, history.lineage
    taken = history.handed_over()
    assert taken.ops is ops and taken.lineage is lineage and len(taken) == 1
    assert history.ops == [] and history.lineage == {}
    history.append(Op(2, INVOKE, "read", "k", None, 1.0))
    assert len(taken) == 1  # the two no longer share anything


def test_a_runs_world_keeps_none_of_its_history_alive() -> None:
    """The world a run leaves is freed only by the collector (its objects form cycles);
    the ops list is referenced by the Result's history alone, so it is freed with it."""
    result = run(
        load_scenario(
            "scenarios/flash_sale_partition.toml",
            ["workload.customers=60", "duration_ms=3000", "settle_ms=1000"],
        )
    )
    assert len(result.history) > 100
    ops_holders = [r for r in gc.get_referrers(result.history.ops) if r is not result.history]
    assert ops_holders == []
    # and the history itself is the Result's alone (the world's is another, left empty)
    holders = gc.get_referrers(result.history)
    assert all(h is result or h is vars(result) for h in holders), holders
