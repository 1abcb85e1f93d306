"""What became of the orders: lost, apologised for, half kept, and stock still held, by hand."""

from __future__ import annotations

from sim.history import OK, Op
from sim.metrics.orders import order_fate
from sim.shop.model import CANCELLED, CONFIRMED, HELD, RELEASED, OrderRow, ProductRow, Reservation


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
