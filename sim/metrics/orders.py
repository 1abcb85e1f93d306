"""What became of the orders: acknowledged, oversold, lost, apologised for, half kept, held.

An order lives in two places: its reservation in the product row and its
record (its own key in the relational layout, the user row in nosql). The
final state (each key resolved as a client would) says what the store kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sim.errors import InvariantError
from sim.history import OK, Op
from sim.shop.model import (
    CANCELLED,
    HELD,
    RELEASED,
    OrderRow,
    ProductRow,
    Reservation,
    UserRow,
)
from sim.shop.orders import CONFIRMED_OUTCOME

Pairs = Sequence[tuple[Op, Op | None]]


def acknowledged_orders(shop: Pairs) -> list[Op]:
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


def order_fate(
    acked: Sequence[Op], final: Mapping[str, Any], layout: str, end_ms: float
) -> dict[str, Any]:
    """Lost and apologised-for acknowledged orders, half-kept orders, and stock still held.

    - lost: an acknowledged order whose reservation or live record is missing
      from the final state, or whose reservation was released;
    - apologies: one whose reservation was cancelled by a merge that found oversell;
    - partial_orders: orders (any outcome) with a reservation (not released) but
      no live record, or a live record but no reservation (an order apologised
      for, its reservation cancelled by a merge, is neither);
    - held_units: units that reservations still hold at the end (not released, not
      a lapsed hold) for orders that are not confirmed: a hold never confirmed,
      or a reservation whose record is missing or cancelled.

    A product row lists its open reservations and keeps the settled ones in its
    ledger by dot (sim/shop/ledger.py); an order's record names its
    reservation's dot, so each order's reservation is found either way. A
    settled reservation no record names (its record never landed) is counted
    without its order id: it is half an order, and holds its units if kept.
    """
    products: dict[int, ProductRow] = {}
    records: dict[str, OrderRow] = {}
    for value in final.values():
        if isinstance(value, ProductRow):
            products[value.id] = value
        elif isinstance(value, UserRow) and layout == "nosql":
            records.update((o.id, o) for o in value.orders)
        elif isinstance(value, OrderRow) and layout == "relational":
            records[value.id] = value
    reservations: dict[str, Reservation] = {
        r.order_id: r for row in products.values() for r in row.reservations
    }
    named: Counter[int] = Counter()  # per product: settled sales (kept) a record names
    for oid, record in records.items():
        row = products.get(record.product_id)
        if oid in reservations or record.dot is None or row is None:
            continue
        settled = row.reservation(oid, record.dot)
        if settled is not None:
            reservations[oid] = settled
            named[row.id] += not settled.cancelled and settled.state != RELEASED

    def live(order_id: str) -> bool:
        record = records.get(order_id)
        return record is not None and record.status != CANCELLED

    lost = apologies = 0
    for op in acked:
        oid = op.value["order"]
        reservation = reservations.get(oid)
        if reservation is None or not live(oid):
            lost += 1
        elif reservation.cancelled:
            apologies += 1
        elif reservation.state == RELEASED:
            lost += 1
    apologised = {oid for oid, r in reservations.items() if r.cancelled}
    kept = {oid for oid, r in reservations.items() if r.state != RELEASED} - apologised
    partial = len(kept ^ ({oid for oid in records if live(oid)} - apologised))
    held = sum(
        r.units
        for oid, r in reservations.items()
        if r.holds_stock(end_ms) and (r.state == HELD or not live(oid))
    )
    for row in products.values():  # settled sales no record names: half orders, units held
        unnamed = sum(a.kept for _, a in row.ledger.actors) - named[row.id]
        if unnamed < 0:
            raise InvariantError(f"{row.tag}: records name more settled sales than it has")
        partial += unnamed
        held += row.ledger.units * unnamed
    return {
        "lost_orders": lost,
        "apologies": apologies,
        "partial_orders": partial,
        "held_units": held,
    }
