"""Client-side resolvers: merge-orders is a lattice join that keeps every order; lww loses some."""

from __future__ import annotations

import itertools

from hypothesis import event, given

from sim.shop.model import ProductRow, Reservation
from sim.shop.resolvers import lww, merge_orders
from tests.strategies import sibling_rows

BASE = ProductRow(
    tag="init",
    written_ms=0.0,
    id=0,
    name="toys-0",
    description="A toy.",
    category="toys",
    price=9.5,
    inventory=4,
)


def _fields(row: ProductRow) -> dict:
    return {name: getattr(row, name) for name in row.__slots__}


def ids(row: ProductRow) -> set[str]:
    return {r.order_id for r in row.reservations}


@given(sibling_rows(BASE))
def test_merge_orders_is_commutative_and_keeps_every_reservation(rows: list[ProductRow]) -> None:
    merged = merge_orders(rows)
    for perm in itertools.islice(itertools.permutations(rows), 6):
        assert merge_orders(list(perm)) == merged
    assert ids(merged) == set().union(*(ids(r) for r in rows))
    assert merged.reserved <= merged.inventory  # oversell detected: the rest are cancelled
    cancelled = sum(1 for r in merged.reservations if r.cancelled)
    event(f"cancelled: {'some' if cancelled else 'none'}")


@given(sibling_rows(BASE, max_rows=3))
def test_merge_orders_is_associative_and_idempotent(rows: list[ProductRow]) -> None:
    a, b, c = (rows * 3)[:3]
    assert merge_orders([merge_orders([a, b]), c]) == merge_orders([a, merge_orders([b, c])])
    assert merge_orders([merge_orders([a, b]), c]) == merge_orders([a, b, c])
    assert merge_orders([a, a]) == a
    m = merge_orders([a, b])
    assert merge_orders([m, m]) == m
    assert merge_orders([m, a]) == m  # merging in something already included changes nothing


def test_cancellation_is_sticky_and_newest_first() -> None:
    rows = [
        ProductRow(
            **{
                **_fields(BASE),
                "inventory": 1,
                "tag": "left",
                "reservations": (Reservation("early", 1, 1, 5.0),),
            }
        ),
        ProductRow(
            **{
                **_fields(BASE),
                "inventory": 1,
                "tag": "right",
                "reservations": (Reservation("late", 2, 1, 7.0),),
            }
        ),
    ]
    merged = merge_orders(rows)
    status = {r.order_id: r.cancelled for r in merged.reservations}
    assert status == {"early": False, "late": True}
    # a replica that never saw "early" cannot resurrect "late"
    again = merge_orders([merged, rows[1]])
    assert {r.order_id: r.cancelled for r in again.reservations} == status


def test_lww_keeps_one_sibling_and_loses_the_others_orders() -> None:
    rows = [
        ProductRow(
            **{
                **_fields(BASE),
                "tag": "a",
                "written_ms": 1.0,
                "reservations": (Reservation("x", 1, 1, 1.0),),
            }
        ),
        ProductRow(
            **{
                **_fields(BASE),
                "tag": "b",
                "written_ms": 2.0,
                "reservations": (Reservation("y", 2, 1, 2.0),),
            }
        ),
    ]
    assert lww(rows) is rows[1]
    assert lww(list(reversed(rows))) is rows[1]
    assert ids(lww(rows)) == {"y"}
