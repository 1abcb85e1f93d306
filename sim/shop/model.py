"""The shop's records (Product, User, Order) and how they map to store keys in each layout.

Rows are immutable values shared by every replica that holds them (no copies on
the hot path). Each row carries a `tag`: the id of the write that produced it,
which is what the history records and the register checker compares, and
`written_ms`, the writing client's clock, which the `lww` resolver orders by.

The product row holds its reservations (order id, units) rather than a bare
stock counter, like Dynamo's shopping cart: siblings can then be merged
without losing an order, and stock is `inventory - reserved` (DESIGN.md,
"Concurrency control on orders").

Layouts (DESIGN.md, "The shop"):
- relational: an order is its own record under `order:<id>`; product rows have
  fixed columns.
- nosql: an order is embedded in the user's row (`user:<id>`), so one read
  returns the purchase history; product rows carry schemaless attributes that
  vary by category.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

CATEGORIES: dict[str, tuple[str, ...]] = {
    "books": ("author", "pages"),
    "electronics": ("brand", "warranty_months"),
    "garden": ("material", "weight_kg"),
    "toys": ("age_min", "batteries"),
}

PENDING, CONFIRMED, CANCELLED = "pending", "confirmed", "cancelled"
_STATUS_RANK = {PENDING: 0, CONFIRMED: 1, CANCELLED: 2}


def product_key(product: int) -> str:
    """Store key of product `product`."""
    return f"product:{product}"


def user_key(user: int) -> str:
    """Store key of user `user`."""
    return f"user:{user}"


def order_key(order_id: str) -> str:
    """Store key of an order record (relational layout)."""
    return f"order:{order_id}"


@dataclass(frozen=True, slots=True)
class Reservation:
    """Units of a product held for one order; `cancelled` once an apology was owed."""

    order_id: str
    user_id: int
    units: int
    time_ms: float
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class ProductRow:
    """A product: descriptive fields, initial inventory, and the reservations made against it."""

    tag: str
    written_ms: float
    id: int
    name: str
    description: str
    category: str
    price: float
    inventory: int
    reservations: tuple[Reservation, ...] = ()
    attrs: tuple[tuple[str, Any], ...] = ()

    @property
    def reserved(self) -> int:
        """Units held by orders that are not cancelled."""
        return sum(r.units for r in self.reservations if not r.cancelled)

    @property
    def available(self) -> int:
        """Units still for sale (negative once oversold)."""
        return self.inventory - self.reserved

    def with_reservation(self, reservation: Reservation, tag: str, now_ms: float) -> ProductRow:
        """A new row with one more reservation."""
        return dataclasses.replace(
            self, tag=tag, written_ms=now_ms, reservations=(*self.reservations, reservation)
        )


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order: who bought what, when, how paid, and its status."""

    tag: str
    written_ms: float
    id: str
    user_id: int
    product_id: int
    amount: int
    timestamp: float
    payment: str
    status: str = CONFIRMED


@dataclass(frozen=True, slots=True)
class UserRow:
    """A customer; in the nosql layout the row also embeds the purchase history."""

    tag: str
    written_ms: float
    id: int
    name: str
    orders: tuple[OrderRow, ...] = ()

    def with_order(self, order: OrderRow, tag: str, now_ms: float) -> UserRow:
        """A new row with one more embedded order."""
        return dataclasses.replace(self, tag=tag, written_ms=now_ms, orders=(*self.orders, order))


def status_rank(status: str) -> int:
    """Order of statuses for merging: cancelled wins over confirmed over pending."""
    return _STATUS_RANK[status]


def make_catalogue(
    products: int, stock: int, layout: str, rng: np.random.Generator
) -> list[ProductRow]:
    """The initial product rows: random names, categories and prices, `stock` units each."""
    names = list(CATEGORIES)
    rows = []
    for i in range(products):
        category = names[int(rng.integers(len(names)))]
        price = round(float(rng.lognormal(3.0, 0.8)), 2)
        attrs: tuple[tuple[str, Any], ...] = ()
        if layout == "nosql":
            attrs = tuple((name, int(rng.integers(1, 100))) for name in CATEGORIES[category])
        rows.append(
            ProductRow(
                tag=f"init:{product_key(i)}",
                written_ms=0.0,
                id=i,
                name=f"{category}-{i}",
                description=f"A {category} item, number {i}.",
                category=category,
                price=price,
                inventory=stock,
                attrs=attrs,
            )
        )
    return rows


def make_users(customers: int) -> list[UserRow]:
    """The initial user rows (no orders yet)."""
    return [
        UserRow(tag=f"init:{user_key(i)}", written_ms=0.0, id=i, name=f"customer-{i}")
        for i in range(customers)
    ]
