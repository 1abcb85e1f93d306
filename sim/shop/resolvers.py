"""Client-side resolvers: plain functions from sibling values to one value (DESIGN.md).

- `merge_orders` unions reservations (products) and embedded orders (users), so
  no acknowledged order is ever dropped; a cancelled reservation stays cancelled
  (cancellation is sticky, so nothing is resurrected). One order's reservation
  merges field by field: cancelled if any copy is, the highest state (a release
  beats a hold, a confirmation beats a release), the earliest time. When the
  union holds more units than the inventory, the newest reservations beyond
  stock are cancelled: that is where oversell is detected and an apology owed.
  Holds count against stock whatever their expiry: the resolver is a pure
  function of the siblings, and expiry is applied by writers (model.py).
- `lww` keeps the sibling written last by the client's clock (ties by tag):
  simple, and it loses the other siblings' orders.

Both are commutative, associative and idempotent over the values a run can
produce (tests/shop/test_resolvers.py checks the laws). For `merge_orders` that holds
when every order of a product reserves the same number of units, as the
workloads do (`units_per_order`); with mixed sizes, first-fit cancellation is not
associative. A merged row's tag is a digest of its content, so merging the same
siblings anywhere yields the same tag.

Product rows also carry a ledger of settled reservations (ledger.py). The
merge joins the siblings' ledgers, absorbs any listed copy of a reservation the
joined ledger holds (its fate joins the settled one), and ranks the settled
reservations before the listed ones when it cancels beyond stock: they settle
only once certain to fit (model.ProductRow.settle), so the result is the one
the merge of the full lists would give. Its cost is O(siblings x listed
reservations + actors), not O(orders ever taken).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from sim.shop import ledger as ledgers
from sim.shop.model import (
    MERGE_TAG,
    OrderRow,
    ProductRow,
    Reservation,
    UserRow,
    lineage_of,
    state_rank,
    status_rank,
)


def lww(siblings: Sequence[Any]) -> Any:
    """The sibling with the latest client timestamp (`written_ms`, then `tag`)."""
    return max(siblings, key=lambda row: (row.written_ms, row.tag))


def merge_orders(siblings: Sequence[Any]) -> Any:
    """Union of reservations / embedded orders; cancel the newest beyond stock."""
    first = siblings[0]
    if all(s == first for s in siblings):
        return first
    if isinstance(first, ProductRow):
        return _merge_products(siblings)
    if isinstance(first, UserRow):
        return _merge_users(siblings)
    if isinstance(first, OrderRow):
        return max(siblings, key=lambda o: (status_rank(o.status), o.written_ms, o.tag))
    return lww(siblings)


def cancel_beyond_stock(
    reservations: Sequence[Reservation], inventory: int, settled_units: int = 0
) -> tuple[Reservation, ...]:
    """Oldest first, keep reservations while they fit in `inventory`; cancel the rest.

    Only reservations that hold stock count (a released one takes nothing).
    `settled_units` (held by the row's settled reservations) come first.
    """
    out = []
    held = settled_units
    for r in sorted(reservations, key=lambda r: (r.time_ms, r.order_id)):
        if r.holds_stock() and held + r.units > inventory:
            r = dataclasses.replace(r, cancelled=True)
        if r.holds_stock():
            held += r.units
        out.append(r)
    return tuple(out)


def _join(a: Reservation, b: Reservation) -> Reservation:
    """One order's two copies, merged field by field (each field a semilattice join)."""
    if a == b:
        return a
    state = max(a.state, b.state, key=state_rank)
    holds = [h for h in (a.hold_until_ms, b.hold_until_ms) if h is not None]
    return Reservation(
        a.order_id,
        a.user_id,
        max(a.units, b.units),
        min(a.time_ms, b.time_ms),
        a.cancelled or b.cancelled,
        state,
        max(holds) if holds else None,
        a.dot if a.dot is not None else b.dot,
    )


def _union_reservations(rows: Sequence[ProductRow]) -> list[Reservation]:
    by_id: dict[str, Reservation] = {}
    for row in rows:
        for r in row.reservations:
            seen = by_id.get(r.order_id)
            by_id[r.order_id] = r if seen is None else _join(seen, r)
    return list(by_id.values())


def _lineage(rows: Sequence[Any]) -> tuple[str, ...]:
    """A merge's parents: its siblings' lineages, flattened (model.lineage_of)."""
    return tuple(sorted({tag for row in rows for tag in lineage_of(row)}))


def _base(rows: Sequence[Any]) -> Any:
    # Descriptive fields come from the latest writer; the tag is not used to
    # choose so that merging merged rows picks the same base (associativity).
    return max(rows, key=lambda r: (r.written_ms, repr(_descriptive(r))))


def _descriptive(row: Any) -> tuple:
    skip = {"tag", "written_ms", "reservations", "orders", "parents", "ledger"}
    fields = dataclasses.fields(row)  # not the derived ones (init=False): counts, caches
    return tuple(getattr(row, f.name) for f in fields if f.init and f.name not in skip)


def _digest(row: Any) -> str:
    content = repr(
        (
            _descriptive(row),
            getattr(row, "reservations", None),
            getattr(row, "orders", None),
            row.written_ms,
            getattr(row, "ledger", None),
        )
    )
    return MERGE_TAG + hashlib.blake2b(content.encode(), digest_size=8).hexdigest()


def _merge_products(rows: Sequence[ProductRow]) -> ProductRow:
    base = _base(rows)
    ledger = ledgers.join(r.ledger for r in rows)
    listed = []
    for r in _union_reservations(rows):
        if r.dot is not None and ledger.covers(r.dot):  # settled in a sibling: absorb the copy
            ledger = ledger.absorb(r.dot, (r.state, r.cancelled))
        else:
            listed.append(r)
    ledger = ledger.cancel_beyond(base.inventory)
    merged = dataclasses.replace(
        base,
        written_ms=max(r.written_ms for r in rows),
        reservations=cancel_beyond_stock(listed, base.inventory, ledger.held_units),
        parents=_lineage(rows),
        ledger=ledger,
    )
    return dataclasses.replace(merged, tag=_digest(merged))


def _merge_users(rows: Sequence[UserRow]) -> UserRow:
    base = _base(rows)
    by_id: dict[str, OrderRow] = {}
    for row in rows:
        for order in row.orders:
            seen = by_id.get(order.id)
            if seen is None or status_rank(order.status) > status_rank(seen.status):
                by_id[order.id] = order
    orders = tuple(sorted(by_id.values(), key=lambda o: (o.timestamp, o.id)))
    merged = dataclasses.replace(
        base, written_ms=max(r.written_ms for r in rows), orders=orders, parents=_lineage(rows)
    )
    return dataclasses.replace(merged, tag=_digest(merged))


def resolve(siblings: Sequence[Any], resolver: Callable[[Sequence[Any]], Any]) -> Any:
    """The one value a client acts on: None, the single sibling, or the resolver's merge."""
    if not siblings:
        return None
    if len(siblings) == 1:
        return siblings[0]
    return resolver(siblings)


RESOLVERS = {"merge-orders": merge_orders, "lww": lww}
"""The built-in resolvers by name (found by sim.plugins.RESOLVERS)."""
