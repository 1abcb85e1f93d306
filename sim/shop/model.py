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

So that a hot product's row does not grow with every order it ever took, the
reservations whose fate is settled leave the list for the row's ledger
(ledger.py: per actor, which of its reservations are settled, and the few
that did not end as kept sales); the order records keep their detail. When a
reservation may settle is `ProductRow.settle`.

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
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.shop.ledger import CONFIRMED, EMPTY, HELD, NEVER, RELEASED, Dot, Ledger
from sim.shop.ledger import state_rank as state_rank  # re-exported: the merge's order of states

CATEGORIES: dict[str, tuple[str, ...]] = {
    "books": ("author", "pages"),
    "electronics": ("brand", "warranty_months"),
    "garden": ("material", "weight_kg"),
    "toys": ("age_min", "batteries"),
}

PENDING, CANCELLED = "pending", "cancelled"
"""Order statuses besides CONFIRMED. CONFIRMED is a reservation state too: the reservation
states (HELD, RELEASED, CONFIRMED) and how they merge are in ledger.py, imported above."""
_STATUS_RANK = {PENDING: 0, CONFIRMED: 1, CANCELLED: 2}


MERGE_TAG = "m:"
"""The tag prefix of a merged row: a digest of its content, the same wherever it is merged."""


def lineage_of(row: Any) -> tuple[str, ...]:
    """What a row made from `row` descends from: `row` itself, or what it merged.

    A merge writes nothing new, so lineage passes through it to the merged rows
    (flattened, which also keeps merging associative); a reader reflects a
    written-back merge exactly when it reflects what the merge merged.
    """
    return tuple(row.parents) if row.tag.startswith(MERGE_TAG) else (row.tag,)


@functools.cache  # a C-level call, no frame: every page view and order names its key
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
    an apology was owed (a merge found the units oversold); sticky. `dot`:
    (actor, seq), which reservation of which shop front it is (ledger.py);
    None for one made by hand, which never settles.
    """

    order_id: str
    user_id: int
    units: int
    time_ms: float
    cancelled: bool = False
    state: str = CONFIRMED
    hold_until_ms: float | None = None
    dot: Dot | None = None

    def holds_stock(self, now_ms: float | None = None) -> bool:
        """Whether these units are taken: not cancelled, not released, not a hold expired by now."""
        if self.cancelled or self.state == RELEASED:
            return False
        if now_ms is not None and self.lapses():
            return self.hold_until_ms > now_ms  # type: ignore[operator]
        return True

    def lapses(self) -> bool:
        """A hold with an expiry: whether it takes stock depends on the time."""
        return self.state == HELD and self.hold_until_ms is not None

    def expired(self, now_ms: float) -> bool:
        """A hold whose expiry has passed (the next writer releases it)."""
        until = self.hold_until_ms
        return self.state == HELD and until is not None and until <= now_ms


@dataclass(frozen=True, slots=True)
class ProductRow:
    """A product: descriptive fields, initial inventory, and the reservations made against it.

    `reservations` lists the reservations still open to change (held, or too
    recent to settle); `ledger` holds the settled ones (ledger.py).
    """

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
    ledger: Ledger = EMPTY
    taken: tuple[int, tuple[tuple[float, int], ...]] = field(init=False, repr=False, compare=False)
    """What the listed reservations take: the units whatever the time, and the (expiry,
    units) of the holds that lapse. Counted once when the row is made: every page view
    asks a row its availability."""

    def __post_init__(self) -> None:
        steady = 0
        lapsing = []
        for r in self.reservations:
            if not r.holds_stock():
                continue
            if r.lapses():
                lapsing.append((r.hold_until_ms, r.units))
            else:
                steady += r.units
        object.__setattr__(self, "taken", (steady, tuple(lapsing)))

    @property
    def reserved(self) -> int:
        """Units taken by reservations that hold stock (holds counted whatever their expiry)."""
        steady, lapsing = self.taken
        return self.ledger.held_units + steady + sum(units for _, units in lapsing)

    def available(self, now_ms: float | None = None) -> int:
        """Units still for sale at `now_ms` (expired holds free; negative once oversold)."""
        steady, lapsing = self.taken
        if lapsing:
            steady += sum(u for until, u in lapsing if now_ms is None or until > now_ms)
        return self.inventory - self.ledger.held_units - steady

    def reservation(self, order_id: str, dot: Dot | None = None) -> Reservation | None:
        """The reservation of order `order_id`, listed or (given its dot) settled.

        A settled one comes back as a stand-in with its fate (state, cancelled)
        and units; its time, user and expiry are forgotten (the order record has them).
        """
        for r in self.reservations:
            if r.order_id == order_id:
                return r
        fate = None if dot is None else self.ledger.fate(dot)
        if fate is None:
            return None
        return Reservation(order_id, -1, self.ledger.units, NEVER, fate[1], fate[0], None, dot)

    def _lapsed(self, now_ms: float) -> tuple[Reservation, ...]:
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
            reservations=(*self._lapsed(now_ms), reservation),
            parents=lineage_of(self),
        )

    def with_state(
        self,
        order_id: str,
        state: str,
        units: int,
        user_id: int,
        tag: str,
        now_ms: float,
        dot: Dot | None = None,
        made_ms: float | None = None,
    ) -> ProductRow:
        """A new row where order `order_id`'s reservation is in `state` (expired holds released).

        A release of a reservation the row does not hold yet is kept as a released
        record of it (a tombstone, with the hold's `dot` and the time `made_ms` it
        was made), so that the hold, if it lands later, merges released.
        """
        found = False
        out = []
        for r in self._lapsed(now_ms):
            if r.order_id == order_id:
                found = True
                r = dataclasses.replace(r, state=state)
            out.append(r)
        if not found:
            made = now_ms if made_ms is None else made_ms
            out.append(Reservation(order_id, user_id, units, made, state=state, dot=dot))
        return dataclasses.replace(
            self, tag=tag, written_ms=now_ms, reservations=tuple(out), parents=lineage_of(self)
        )

    def settle(self, actor: str, made: int, actors: Sequence[str], now_ms: float) -> ProductRow:
        """This row with `actor`'s claim renewed and what may settle moved to the ledger.

        A listed reservation settles when nothing the row cannot see yet could
        change what a merge does with it:
        - its state is decided: confirmed or released (a hold stays listed; a
          cancelled one settles at once: it holds nothing, ever again);
        - every reservation made before it is in this row, or counted among
          the unseen: it was made before the horizon, the earliest claim of
          all `actors` (one that never wrote the row holds the horizon at
          minus infinity: it may have made one we have not seen);
        - it fits for certain: the units of the settled reservations not
          cancelled, of the unseen ones, and of the listed ones not cancelled
          made before it or with it (a release counted as if confirmed: a
          confirmation in flight beats it), leave it within the inventory.
        Then no merge with anything that exists or will exist cancels it
        (one that did would have had to find more units before it than the
        inventory), so ranking it first, as the merge ranks settled
        reservations, changes nothing: the merge of settled rows gives what the
        merge of the listed ones gave, order for order. A partition holds the
        horizon (the other side's claims do not arrive) until it heals.

        Args:
            actor: the writer: the shop front of the order's home node.
            made: the reservations `actor` has made on this product that may exist
                (a number a write certainly did not use is not counted).
            actors: every shop front that may make reservations (one per node).
            now_ms: the writer's clock.

        A row holding more of `actor`'s reservations than it made is left as it is, with
        no claim and nothing settled: a store that lost an acknowledged log (strong mode
        without durable storage) can bring back a write its client was told was refused,
        whose number the front then gave again. Not settling is always safe.
        """
        ledger = self.ledger
        mine = sum(1 for r in self.reservations if r.dot is not None and r.dot[0] == actor)
        unseen = made - ledger.of(actor).count - mine
        if unseen < 0:
            return self
        ledger = ledger.claim(actor, now_ms, unseen)
        listed = self.reservations
        claims = {name: a.claim_ms for name, a in ledger.actors}
        horizon = NEVER  # unless every actor has claimed: one never heard of here may have
        if len(claims) >= len(actors):  # made a reservation this row cannot see yet
            known = {*actors, *(r.dot[0] for r in listed if r.dot is not None)}
            if known <= claims.keys():
                horizon = min(claims.values())
        sizes = {r.units for r in listed} | ({ledger.units} if ledger.units else set())
        if len(sizes) != 1:  # orders of mixed sizes (no workload makes them) never settle
            return dataclasses.replace(self, ledger=ledger)
        size = sizes.pop()
        settle = {r.order_id for r in listed if r.cancelled and r.dot is not None}
        if horizon > NEVER:
            room = self.inventory - ledger.standing_units - size * ledger.unseen
            for r in sorted(
                (r for r in listed if not r.cancelled), key=lambda r: (r.time_ms, r.order_id)
            ):
                room -= r.units
                if r.time_ms >= horizon or room < 0:
                    break
                if r.dot is not None and r.state != HELD:
                    settle.add(r.order_id)
        if not settle:
            return dataclasses.replace(self, ledger=ledger)
        kept = []
        for r in listed:
            if r.order_id in settle:
                ledger = ledger.settle(r.dot, (r.state, r.cancelled), r.units)
            else:
                kept.append(r)
        return dataclasses.replace(self, reservations=tuple(kept), ledger=ledger)


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
    dot: Dot | None = None
    """Its reservation's dot (ledger.py): how the reservation is found once settled."""


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
