"""The shop's records (Product, User, Order) and how they map to store keys in each layout.

Rows are immutable values shared by every replica that holds them (no copies on
the hot path). Each row carries a `tag`: the id of the write that produced it,
which is what the history records and the register checker compares, and
`written_ms`, the writing client's clock, which the `lww` resolver orders by.

The product row holds its reservations (order id, units) rather than a bare
stock counter, like Dynamo's shopping cart: siblings can then be merged
without losing an order, and stock is `inventory - reserved` (DESIGN.md,
"Concurrency control on orders"). A reservation is `held` (a cart hold, with
an expiry), `confirmed` or `released`; a hold past its expiry no longer holds
stock, and the next writer of the row marks it released. `cancelled` is
separate and sticky: an apology, when a merge found more reserved than stocked.

Each row also names the rows it was made from (`parents`, by tag): a write's
lineage, from which stale reads are judged by identity (sim/metrics).

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

HELD, RELEASED = "held", "released"
"""Reservation states besides CONFIRMED: a cart hold, and a hold given back."""
_STATE_RANK = {HELD: 0, RELEASED: 1, CONFIRMED: 2}
"""How concurrent states of one reservation merge: a release beats a hold; a confirmation
beats a release (a customer told "confirmed" keeps the order; the merge then finds any
oversell and apologises)."""


MERGE_TAG = "m:"
"""The tag prefix of a merged row: a digest of its content, the same wherever it is merged."""


def lineage_of(row: Any) -> tuple[str, ...]:
    """What a row made from `row` descends from: `row` itself, or what it merged.

    A merge writes nothing new, so lineage passes through it to the merged rows
    (flattened, which also keeps merging associative); a reader reflects a
    written-back merge exactly when it reflects what the merge merged.
    """
    return tuple(row.parents) if row.tag.startswith(MERGE_TAG) else (row.tag,)


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
    """Units of a product held for one order.

    `state`: held (until `hold_until_ms`), confirmed, or released. `cancelled`:
    an apology was owed (a merge found the units oversold); sticky.
    """

    order_id: str
    user_id: int
    units: int
    time_ms: float
    cancelled: bool = False
    state: str = CONFIRMED
    hold_until_ms: float | None = None

    def holds_stock(self, now_ms: float | None = None) -> bool:
        """Whether these units are taken: not cancelled, not released, not a hold expired by now."""
        if self.cancelled or self.state == RELEASED:
            return False
        if self.state == HELD and now_ms is not None and self.hold_until_ms is not None:
            return self.hold_until_ms > now_ms
        return True

    def expired(self, now_ms: float) -> bool:
        """A hold whose expiry has passed (the next writer releases it)."""
        until = self.hold_until_ms
        return self.state == HELD and until is not None and until <= now_ms


def state_rank(state: str) -> int:
    """Order of reservation states for merging (see _STATE_RANK)."""
    return _STATE_RANK[state]


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
    parents: tuple[str, ...] = ()

    @property
    def reserved(self) -> int:
        """Units taken by reservations that hold stock (holds counted whatever their expiry)."""
        return sum(r.units for r in self.reservations if r.holds_stock())

    def available(self, now_ms: float | None = None) -> int:
        """Units still for sale at `now_ms` (expired holds free; negative once oversold)."""
        return self.inventory - sum(r.units for r in self.reservations if r.holds_stock(now_ms))

    def reservation(self, order_id: str) -> Reservation | None:
        """The reservation of order `order_id`, if the row has one."""
        for r in self.reservations:
            if r.order_id == order_id:
                return r
        return None

    def _settled(self, now_ms: float) -> tuple[Reservation, ...]:
        """The reservations with every expired hold released (what a writer writes back)."""
        if not any(r.expired(now_ms) for r in self.reservations):
            return self.reservations
        return tuple(
            dataclasses.replace(r, state=RELEASED) if r.expired(now_ms) else r
            for r in self.reservations
        )

    def with_reservation(self, reservation: Reservation, tag: str, now_ms: float) -> ProductRow:
        """A new row with one more reservation (and expired holds released)."""
        return dataclasses.replace(
            self,
            tag=tag,
            written_ms=now_ms,
            reservations=(*self._settled(now_ms), reservation),
            parents=lineage_of(self),
        )

    def with_state(
        self, order_id: str, state: str, units: int, user_id: int, tag: str, now_ms: float
    ) -> ProductRow:
        """A new row where order `order_id`'s reservation is in `state` (expired holds released).

        A release of a reservation the row does not hold yet is kept as a released
        record of it (a tombstone), so that the hold, if it lands later, merges released.
        """
        found = False
        out = []
        for r in self._settled(now_ms):
            if r.order_id == order_id:
                found = True
                r = dataclasses.replace(r, state=state)
            out.append(r)
        if not found:
            out.append(Reservation(order_id, user_id, units, now_ms, state=state))
        return dataclasses.replace(
            self, tag=tag, written_ms=now_ms, reservations=tuple(out), parents=lineage_of(self)
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
    parents: tuple[str, ...] = ()

    def with_order(self, order: OrderRow, tag: str, now_ms: float) -> UserRow:
        """A new row holding `order` (replacing an embedded order of the same id)."""
        kept = tuple(o for o in self.orders if o.id != order.id)
        return dataclasses.replace(
            self, tag=tag, written_ms=now_ms, orders=(*kept, order), parents=lineage_of(self)
        )


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
