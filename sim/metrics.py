"""Every metric of DESIGN.md, computed from the history and the final state: one function each.

Metrics a run cannot produce are None (JSON null), never invented: no reads
means no stale-read share, no faults means no availability during faults.
The history is the source of truth for what clients were told; the final
state (resolved the way a client would resolve it) for what the store kept.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.history import FAIL, NEMESIS, OK, SHOP_FS, STORE_FS, History, Op, pair_ops
from sim.shop.model import OrderRow, ProductRow, UserRow
from sim.shop.orders import CONFIRMED_OUTCOME

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
"""The contract's names (DESIGN.md), in its order; extra metrics follow them."""


@dataclass(frozen=True)
class RunRecord:
    """Everything a run leaves for its metrics.

    Attributes:
        history: the run's history.
        final: each key's value at the end, resolved as a client would (None if absent).
        inventory: initial stock of each product key.
        layout: relational or nosql (where an order's record lives).
        network: the network's message counts (Network.stats()).
        converged, convergence_ms: from the convergence probe.
        mode_stats: the mode's own counters.
        linearizable: the checker's verdict, or None if not asked.
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


def fault_windows(history: Iterable[Op]) -> list[tuple[float, float]]:
    """Intervals in which at least one fault was active, from the nemesis' ops."""
    windows = []
    active = 0
    since = 0.0
    for op in history:
        if op.process != NEMESIS:
            continue
        if op.f.startswith("start-"):
            if active == 0:
                since = op.time
            active += 1
        elif op.f.startswith("stop-"):
            active -= 1
            if active == 0:
                windows.append((since, op.time))
    if active > 0:
        windows.append((since, float("inf")))
    return windows


def _during(windows: Sequence[tuple[float, float]], t: float) -> bool:
    starts = [w[0] for w in windows]
    i = bisect.bisect_right(starts, t) - 1
    return i >= 0 and windows[i][0] <= t < windows[i][1]


def requests_and_availability(
    shop: Sequence[tuple[Op, Op | None]], windows: Sequence[tuple[float, float]]
) -> dict[str, Any]:
    """Requests issued, share answered without error, overall and during faults."""
    n = len(shop)
    ok = sum(1 for _, done in shop if done is not None and done.type == OK)
    during = [(inv, done) for inv, done in shop if _during(windows, inv.time)]
    ok_during = sum(1 for _, done in during if done is not None and done.type == OK)
    return {
        "requests": n,
        "availability": ok / n if n else None,
        "availability_during_faults": ok_during / len(during) if during else None,
        "requests_during_faults": len(during),
        "ok_during_faults": ok_during,
    }


def acknowledged_orders(shop: Sequence[tuple[Op, Op | None]]) -> list[Op]:
    """Completions of orders the customer was told succeeded."""
    return [
        done
        for inv, done in shop
        if inv.f == "order"
        and done is not None
        and done.type == OK
        and done.value.get("outcome") == CONFIRMED_OUTCOME
    ]


def oversell(acked: Sequence[Op], inventory: Mapping[str, int]) -> dict[str, Any]:
    """Orders and units acknowledged, and units acknowledged beyond each product's stock."""
    units: Counter[str] = Counter()
    for op in acked:
        units[op.value["product"]] += op.value["units"]
    over = {p: max(0, u - inventory.get(p, 0)) for p, u in units.items()}
    return {
        "orders_acknowledged": len(acked),
        "units_acknowledged": sum(units.values()),
        "oversell_units": sum(over.values()),
        "oversold_products": sum(1 for v in over.values() if v > 0),
    }


def order_fate(acked: Sequence[Op], final: Mapping[str, Any], layout: str) -> dict[str, Any]:
    """Acknowledged orders missing from the final state, cancelled with an apology, or half kept.

    An order lives in two places: its reservation in the product row, and its
    record (its own key in relational, the user row in nosql). It is lost if
    either is missing; `partial_orders` counts orders (acknowledged or not)
    present in exactly one of the two.
    """
    reservations: dict[str, Any] = {}
    records: set[str] = set()
    for value in final.values():
        if isinstance(value, ProductRow):
            for r in value.reservations:
                reservations[r.order_id] = r
        elif isinstance(value, UserRow) and layout == "nosql":
            records.update(o.id for o in value.orders)
        elif isinstance(value, OrderRow) and layout == "relational":
            records.add(value.id)
    lost = apologies = 0
    for op in acked:
        oid = op.value["order"]
        reservation = reservations.get(oid)
        if reservation is None or oid not in records:
            lost += 1
        elif reservation.cancelled:
            apologies += 1
    partial = len(set(reservations) ^ records)
    return {"lost_orders": lost, "apologies": apologies, "partial_orders": partial}


def _covers(read: Any, write: Any) -> bool:
    """Whether a read's version includes a write's: vector clocks by entries, else by order."""
    if write is None:
        return True
    if read is None:
        return False
    if isinstance(write, dict):
        if not isinstance(read, dict):
            return False
        return all(read.get(node, 0) >= count for node, count in write.items())
    return read >= write


def stale_reads(store: Sequence[tuple[Op, Op | None]]) -> float | None:
    """Share of successful reads that missed a write acknowledged before the read began."""
    writes: dict[str, list[tuple[float, Any]]] = defaultdict(list)
    reads: list[tuple[float, str, Any]] = []
    for inv, done in store:
        if done is None or done.type != OK:
            continue
        if inv.f in ("write", "cas"):
            writes[inv.key].append((done.time, done.version))
        elif inv.f == "read":
            reads.append((inv.time, inv.key, done.version))
    if not reads:
        return None
    for acks in writes.values():
        acks.sort(key=lambda a: a[0])
    reads.sort(key=lambda r: r[0])
    # Sweep reads in time order; keep, per key, the maximal versions acknowledged so far.
    frontier: dict[str, list[Any]] = defaultdict(list)
    cursor: dict[str, int] = defaultdict(int)
    stale = 0
    for t, key, version in reads:
        acks = writes.get(key, [])
        i = cursor[key]
        while i < len(acks) and acks[i][0] < t:
            v = acks[i][1]
            front = frontier[key]
            if not any(_covers(f, v) for f in front):
                front[:] = [f for f in front if not _covers(v, f)] + [v]
            i += 1
        cursor[key] = i
        if not all(_covers(version, f) for f in frontier[key]):
            stale += 1
    return stale / len(reads)


def versions_seen(store: Sequence[tuple[Op, Op | None]]) -> dict[str, int]:
    """Histogram: how many sibling versions each successful read returned (0 = key absent)."""
    counts: Counter[int] = Counter()
    for inv, done in store:
        if inv.f == "read" and done is not None and done.type == OK:
            v = done.value
            counts[0 if v is None else len(v) if isinstance(v, list) else 1] += 1
    return {str(k): counts[k] for k in sorted(counts)}


def latency(
    pairs: Sequence[tuple[Op, Op | None]], fs: frozenset[str] | None = None
) -> dict[str, float] | None:
    """p50, p95, p99, p999 of the successful operations (of `fs`, if given), in ms."""
    lat = [
        done.time - inv.time
        for inv, done in pairs
        if done is not None and done.type == OK and (fs is None or inv.f in fs)
    ]
    if not lat:
        return None
    q = np.percentile(np.asarray(lat), [50, 95, 99, 99.9])
    return {
        name: round(float(v), 6) for name, v in zip(("p50", "p95", "p99", "p999"), q, strict=True)
    }


def concurrency(
    shop: Sequence[tuple[Op, Op | None]], store: Sequence[tuple[Op, Op | None]]
) -> dict[str, Any]:
    """Retries and aborts (occ), lock waits and lease expiries (lock), throughput."""
    retries = waits = aborts = 0
    first = last = None
    ok = 0
    for inv, done in shop:
        first = inv.time if first is None else min(first, inv.time)
        if done is None:
            continue
        last = done.time if last is None else max(last, done.time)
        if done.type == OK:
            ok += 1
        if inv.f == "order":
            retries += done.value.get("retries", 0) if isinstance(done.value, dict) else 0
            waits += done.value.get("lock_waits", 0) if isinstance(done.value, dict) else 0
            if done.type == FAIL and done.error == "aborted":
                aborts += 1
    expiries = sum(
        1
        for inv, done in store
        if inv.f == "unlock" and done is not None and done.error == "lease-expired"
    )
    span = (last - first) if first is not None and last is not None else 0.0
    return {
        "retries": retries,
        "aborts": aborts,
        "lock_waits": waits,
        "lock_expiries": expiries,
        "throughput_per_s": ok / (span / 1000.0) if span > 0 else None,
    }


def messages(network: Mapping[str, Any], requests: int) -> dict[str, Any]:
    """Network cost: totals, per request, per kind, and anti-entropy on its own."""
    by_kind = network["by_kind"]
    sync = by_kind.get("sync", {"sent": 0, "delivered": 0, "dropped": 0})
    return {
        "sent": network["sent"],
        "delivered": network["delivered"],
        "dropped": network["dropped"],
        "per_request": network["delivered"] / requests if requests else None,
        "by_kind": dict(by_kind),
        "anti_entropy": dict(sync),
    }


def compute(record: RunRecord) -> dict[str, Any]:
    """All metrics of a run: DESIGN.md's names first, then the extras."""
    ops = record.history.ops
    shop = pair_ops(ops, SHOP_FS)
    store = pair_ops(ops, STORE_FS)
    windows = fault_windows(ops)
    avail = requests_and_availability(shop, windows)
    acked = acknowledged_orders(shop)
    fate = order_fate(acked, record.final, record.layout)
    out: dict[str, Any] = {
        "requests": avail["requests"],
        "availability": avail["availability"],
        "availability_during_faults": avail["availability_during_faults"],
        **oversell(acked, record.inventory),
        "lost_orders": fate["lost_orders"],
        "apologies": fate["apologies"],
        "versions_seen": versions_seen(store),
        "stale_reads": stale_reads(store),
        "converged": record.converged,
        "convergence_ms": record.convergence_ms,
        "latency_ms": latency(shop),
        "linearizable": record.linearizable,
        "messages": messages(record.network, avail["requests"]),
        # extras
        "read_latency_ms": latency(store, frozenset({"read"})),
        "write_latency_ms": latency(store, frozenset({"write", "cas"})),
        "requests_during_faults": avail["requests_during_faults"],
        "ok_during_faults": avail["ok_during_faults"],
        "partial_orders": fate["partial_orders"],
        **concurrency(shop, store),
        "mode": dict(record.mode_stats),
    }
    return out
