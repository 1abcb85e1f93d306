"""Every metric of DESIGN.md, computed from the history and the final state: one function each.

Metrics a run cannot produce are None (JSON null), never invented: no reads
means no stale-read share, no faults means no availability during faults.
The history is the source of truth for what clients were told; the final
state (resolved the way a client would resolve it) for what the store kept.
One module per subject: faults (windows, availability during them and by
side), orders (oversell, lost, apologies, half-kept orders, held stock),
staleness (by identity), visibility (PBS's t-visibility and k-staleness of
the probe's reads), latency (and the cost of concurrency control and of the
network). Two modules serve them all: paired (the history paired in one pass)
and timings (the pairs' times and outcomes as numpy columns).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.faults.base import Fault
from sim.history import PROBE, History
from sim.metrics.faults import (
    availability_by_side,
    fault_windows,
    requests_and_availability,
)
from sim.metrics.latency import concurrency, latency, latency_all, messages
from sim.metrics.orders import acknowledged_orders, order_fate, oversell
from sim.metrics.paired import Paired
from sim.metrics.staleness import Reads, stale_reads, versions_seen
from sim.metrics.visibility import k_staleness, t_visibility

METRIC_NAMES = (
    "requests",
    "availability",
    "availability_during_faults",
    "orders_acknowledged",
    "units_acknowledged",
    "oversell_units",
    "oversold_products",
    "lost_orders",
    "apologies",
    "versions_seen",
    "stale_reads",
    "converged",
    "convergence_ms",
    "latency_ms",
    "linearizable",
    "messages",
)
"""The contract's names (DESIGN.md), in its order; the second wave's and extras follow."""

SECOND_WAVE = (
    "held_units",
    "availability_by_side",
    "latency_ms_all",
    "lww_discarded",
    "t_visibility",
    "k_staleness",
)
"""Names the second wave added to the contract (DESIGN.md, "Additions of the second wave")."""


@dataclass(frozen=True)
class RunRecord:
    """Everything a run leaves for its metrics.

    Attributes:
        history: the run's history (with the lineage of written values).
        final: each key's value at the end, resolved as a client would (None if absent).
        inventory: initial stock of each product key.
        layout: relational or nosql (where an order's record lives).
        network: the network's message counts (Network.stats()).
        converged, convergence_ms: from the convergence probe.
        mode_stats: the mode's own counters.
        linearizable: the checker's verdict, or None if not asked.
        faults: the scenario's faults.
        nodes: the number of nodes.
        end_ms: when the run ended.
        home_of: a client process's home node (None for processes that are not clients).
        shop_stats: the shop's own counters (sagas, routing).
    """

    history: History
    final: Mapping[str, Any]
    inventory: Mapping[str, int]
    layout: str
    network: Mapping[str, Any]
    converged: bool | None
    convergence_ms: float | None
    mode_stats: Mapping[str, Any] = field(default_factory=dict)
    linearizable: bool | None = None
    faults: Sequence[Fault] = ()
    nodes: int = 1
    end_ms: float = float("inf")
    home_of: Callable[[Any], int | None] = lambda process: None
    shop_stats: Mapping[str, Any] = field(default_factory=dict)


def compute(record: RunRecord) -> dict[str, Any]:
    """All metrics of a run: DESIGN.md's names first, then the second wave's, then extras.

    The history is paired once, with its timing columns (`Paired`); each metric then
    reads the pairs of its own `f`s, or the columns.
    """
    paired = Paired.of(record.history.ops)
    shop, store = paired.shop, paired.store
    windows = fault_windows(record.faults, record.end_ms)
    avail = requests_and_availability(shop.timings, windows)
    acked = acknowledged_orders(shop.pairs("order"))
    fate = order_fate(acked, record.final, record.layout, record.end_ms)
    skew = fault_windows(record.faults, record.end_ms, disrupting=False)
    probes = shop.pairs(PROBE)
    reads = Reads.of(store)
    return {
        "requests": avail["requests"],
        "availability": avail["availability"],
        "availability_during_faults": avail["availability_during_faults"],
        **oversell(acked, record.inventory),
        "lost_orders": fate["lost_orders"],
        "apologies": fate["apologies"],
        "versions_seen": versions_seen(reads),
        "stale_reads": stale_reads(store, record.history.lineage, reads),
        "converged": record.converged,
        "convergence_ms": record.convergence_ms,
        "latency_ms": latency(shop.timings),
        "linearizable": record.linearizable,
        "messages": messages(record.network, avail["requests"]),
        # the second wave
        "held_units": fate["held_units"],
        "availability_by_side": availability_by_side(
            shop, record.faults, record.nodes, record.end_ms, record.home_of
        ),
        "latency_ms_all": latency_all(shop.timings),
        "lww_discarded": record.mode_stats.get("lww_discarded"),
        "t_visibility": t_visibility(probes),
        "k_staleness": k_staleness(probes),
        # extras
        "read_latency_ms": latency(store.timings_of("read")),
        "write_latency_ms": latency(store.timings_of("write", "cas", "txn")),
        "requests_during_faults": avail["requests_during_faults"],
        "ok_during_faults": avail["ok_during_faults"],
        "partial_orders": fate["partial_orders"],
        "clock_skew_windows": [list(w) for w in skew] or None,
        **concurrency(shop.timings, shop.pairs("order"), store.pairs("unlock")),
        "shop": dict(record.shop_stats),
        "mode": dict(record.mode_stats),
    }
