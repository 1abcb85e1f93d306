"""What became of the orders: lost, apologised for, half kept, and stock still held, by hand.

And the same figures whether a product row lists its reservations or has
settled them into its ledger (sim/shop/ledger.py), the records naming their dots.
"""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from sim.history import OK, Op
from sim.metrics.orders import order_fate
from sim.shop.model import (
    CANCELLED,
    CONFIRMED,
    HELD,
    RELEASED,
    OrderRow,
    ProductRow,
    Reservation,
    UserRow,
)


def product(*reservations: Reservation) -> ProductRow:
    return ProductRow("t", 0.0, 0, "p", "d", "books", 1.0, 10, tuple(reservations))


def record(order_id: str, status: str = CONFIRMED) -> OrderRow:
    return OrderRow(order_id, 0.0, order_id, 1, 0, 1, 0.0, "card", status)


def acked(*order_ids: str) -> list[Op]:
    return [
        Op(1, OK, "order", "product:0", {"order": o, "units": 1, "outcome": "confirmed"}, 1.0)
        for o in order_ids
    ]


def fate(final: dict, *ok: str, end_ms: float = 100.0) -> dict:
    return order_fate(acked(*ok), final, "relational", end_ms)


def test_a_confirmed_order_with_its_record_is_kept_and_holds_nothing_extra() -> None:
    final = {"product:0": product(Reservation("a", 1, 1, 0.0)), "order:a": record("a")}
    assert fate(final, "a") == {
        "lost_orders": 0,
        "apologies": 0,
        "partial_orders": 0,
        "held_units": 0,
    }


def test_a_reservation_without_a_record_holds_stock_and_is_half_kept() -> None:
    final = {"product:0": product(Reservation("b", 1, 2, 0.0))}
    assert fate(final) == {"lost_orders": 0, "apologies": 0, "partial_orders": 1, "held_units": 2}


def test_a_hold_never_confirmed_holds_stock_until_it_lapses() -> None:
    hold = Reservation("c", 1, 3, 0.0, state=HELD, hold_until_ms=50.0)
    final = {"product:0": product(hold), "order:c": record("c")}
    assert fate(final, end_ms=40.0)["held_units"] == 3
    assert fate(final, end_ms=60.0)["held_units"] == 0  # lapsed: the next writer releases it


def test_a_compensated_order_is_neither_held_nor_half_kept() -> None:
    released = Reservation("d", 1, 1, 0.0, state=RELEASED)
    final = {"product:0": product(released), "order:d": record("d", CANCELLED)}
    assert fate(final) == {"lost_orders": 0, "apologies": 0, "partial_orders": 0, "held_units": 0}


def test_an_acknowledged_order_released_or_without_record_is_lost() -> None:
    final = {
        "product:0": product(
            Reservation("e", 1, 1, 0.0, state=RELEASED), Reservation("f", 1, 1, 0.0)
        ),
        "order:e": record("e"),
    }
    out = fate(final, "e", "f")
    assert out["lost_orders"] == 2


def test_an_apology_is_counted_as_such_not_as_lost_or_half_kept() -> None:
    final = {
        "product:0": product(Reservation("g", 1, 1, 0.0, cancelled=True)),
        "order:g": record("g"),
    }
    assert fate(final, "g") == {
        "lost_orders": 0,
        "apologies": 1,
        "partial_orders": 0,
        "held_units": 0,
    }


# --------------------------------------------------------------------------- settled reservations


@st.composite
def final_states(draw: st.DrawFn) -> tuple[list[Reservation], list[OrderRow], list[str]]:
    """Orders in every combination: reservation (any state, cancelled or not, or none), record
    (any status, or none), acknowledged or not. Every reservation and record names its dot."""
    reservations, records, acked = [], [], []
    for i in range(draw(st.integers(0, 12))):
        oid, dot = f"o{i}", (draw(st.sampled_from(("0", "1"))), i + 1)
        if draw(st.booleans()):
            state = draw(st.sampled_from((HELD, CONFIRMED, RELEASED)))
            until = draw(st.sampled_from((None, 50.0, 150.0))) if state == HELD else None
            cancelled = draw(st.booleans())
            reservations.append(Reservation(oid, 1, 2, float(i), cancelled, state, until, dot))
        status = draw(st.sampled_from((None, CONFIRMED, CANCELLED, "pending")))
        if status is not None:
            records.append(OrderRow(oid, 0.0, oid, 1, 0, 2, 0.0, "card", status, dot))
        if draw(st.booleans()):
            acked.append(oid)
    return reservations, records, acked


def settled(row: ProductRow, which: list[bool]) -> ProductRow:
    """`row` with the chosen reservations moved to its ledger (holds stay listed)."""
    ledger, listed = row.ledger, []
    for r, settle in zip(row.reservations, which, strict=True):
        if settle and r.state != HELD:
            ledger = ledger.settle(r.dot, (r.state, r.cancelled), r.units)
        else:
            listed.append(r)
    return dataclasses.replace(row, reservations=tuple(listed), ledger=ledger)


@given(final_states(), st.data(), st.sampled_from(("relational", "nosql")))
def test_the_figures_are_the_same_whether_reservations_are_listed_or_settled(
    state: tuple, data: st.DataObject, layout: str
) -> None:
    """The ledger forgets a settled reservation's order id; the record's dot finds it again."""
    reservations, records, ok = state
    row = product(*reservations)
    n = len(reservations)
    which = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if layout == "relational":
        final = {f"order:{r.id}": r for r in records}
    else:
        final = {"user:1": UserRow("u", 0.0, 1, "customer-1", tuple(records))}
    compact = settled(row, which)
    for end_ms in (40.0, 100.0, 200.0):
        listed = order_fate(acked(*ok), {"product:0": row, **final}, layout, end_ms)
        assert order_fate(acked(*ok), {"product:0": compact, **final}, layout, end_ms) == listed


def test_a_settled_sale_whose_record_never_landed_is_half_an_order_and_holds_its_units() -> None:
    row = product(Reservation("h", 1, 3, 0.0, dot=("0", 1)))
    compact = settled(row, [True])
    assert compact.reservations == () and compact.ledger.held_units == 3
    expected = {"lost_orders": 1, "apologies": 0, "partial_orders": 1, "held_units": 3}
    assert fate({"product:0": compact}, "h") == expected
    assert fate({"product:0": row}, "h") == expected
