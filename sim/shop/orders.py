"""Placing an order, the critical path: reserve the units, record the order, and make both hold.

An order changes two rows, usually in two shards: the product row (its
reservation) and the order record (`order:<id>`, or the user row in the nosql
layout). How the two commit is the shop's `orders` protocol (DESIGN.md
`cluster.orders`):
- `saga` (the default): hold the units (a reservation that expires after
  `hold_ms`), write the record, confirm the hold. A step that fails, or whose
  outcome is unknown, before the confirmation aborts the order: the customer is
  told it failed (it never confirms: no confirmation was sent, and a hold
  lapses), and the saga releases the hold and cancels the record from the
  home node until that lands (sim/shop/saga.py). A confirmation whose outcome
  is unknown is finished in the background the same way, and the customer is
  told the outcome is unknown.
- `2pc`: both rows in one atomic commit (modes whose spec has `atomic_commit`:
  strong's two-phase commit over Raft groups).
- `none`: reserve, then record, nothing undone (the first model, for comparison:
  a record that fails leaves its units reserved for good).

Two ways to guard the last item (DESIGN.md, "Concurrency control on orders"):
- occ: every step is a write conditional on the version read; on a conflict
  read again and retry (bounded), then give up (an abort).
- lock: take a lease lock on the product, then the same steps (each write still
  conditional on the version read under the lock: a fencing check, so that a
  holder whose lease ran out cannot overwrite its successor; Kleppmann, "How to
  do distributed locking"), then release.
Whether either is globally safe depends on the mode: in strong mode the check
runs in the replicated state machine; in weak and eventual modes on one node
or one quorum, and the measured oversell shows it.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sim.client import Proc, StoreClient
from sim.config.shop import ShopConfig
from sim.engine.kernel import Engine
from sim.modes.base import Status, TxnWrite
from sim.shop.model import (
    CANCELLED,
    CONFIRMED,
    HELD,
    RELEASED,
    Dot,
    OrderRow,
    ProductRow,
    Reservation,
    order_key,
    user_key,
)
from sim.shop.rows import DONE, IMPOSSIBLE, Updated, Updater, write_back

CONFIRMED_OUTCOME = "confirmed"
SOLD_OUT = "sold-out"


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What the customer was told, and what it cost to get there."""

    status: Status  # OK (confirmed or sold out), FAIL (certainly not placed), TIMEOUT (unknown)
    outcome: str | None = None
    error: str | None = None
    retries: int = 0
    lock_waits: int = 0


@dataclass(slots=True)
class Order:
    """One order: who buys how many units of which product, and where its record lives.

    `home` is the customer's home node, whose shop front numbers the order's
    reservation: `dot` once the reservation was first tried, `made_ms` when its
    latest try was made (ledger.py).
    """

    order_id: str
    user_id: int
    product_key: str
    units: int
    layout: str
    home: int = 0
    dot: Dot | None = None
    made_ms: float | None = None

    @property
    def product_id(self) -> int:
        """The product's number."""
        return int(self.product_key.split(":", 1)[1])

    @property
    def record_key(self) -> str:
        """The key of the order's record: its own (relational) or its user's row (nosql)."""
        return order_key(self.order_id) if self.layout == "relational" else user_key(self.user_id)

    def record(self, status: str, now: float, tag: str) -> OrderRow:
        """The order record with `status` (and its reservation's dot, once it has one)."""
        return OrderRow(
            tag,
            now,
            self.order_id,
            self.user_id,
            self.product_id,
            self.units,
            now,
            "card",
            status,
            self.dot,
        )


class OrderSteps:
    """Each step of an order as a change of one row (see sim/shop/rows.py).

    Every write gets its own tag (the history's identity of a write). Each
    node's shop front numbers the reservations it makes on each product (the
    dots of ledger.py), and every product row it writes carries its claim and
    whatever may settle (ProductRow.settle). The numbers are the front's
    volatile state: a node that restarts without its data numbers afresh as a
    new actor, `"<node>:<incarnation>"`, like the eventual mode's actors; a row
    it had written then settles no more (its old numbers may still be in flight).

    Attributes:
        settling: whether rows settle (False: they list every reservation, as before).
        nodes: the shop fronts there are (0 until `join` is told; then rows settle).
    """

    settling = True

    def __init__(self, env: Engine, policy: ShopConfig) -> None:
        self.env = env
        self.policy = policy
        self._tags = itertools.count()
        self.nodes = 0
        self.fronts: tuple[int, ...] = ()
        self._incarnation: list[int] = []
        self._actors: tuple[str, ...] = ()
        self._made: dict[tuple[str, str], int] = {}
        self._spare: dict[tuple[str, str], list[int]] = {}

    def _tag(self, order: Order, step: str) -> str:
        return f"{order.order_id}{step}{next(self._tags)}"

    def join(self, nodes: int, fronts: Sequence[int] = ()) -> None:
        """There are `nodes` nodes, and a shop front on each of `fronts` (default: every
        node): a row's horizon waits for a claim from each front, and only from those
        (a node that is no customer's home never reserves, so never claims)."""
        self.nodes = nodes
        self.fronts = tuple(sorted(set(fronts))) if fronts else tuple(range(nodes))
        self._incarnation = [0] * nodes
        self._actors = tuple(self.actor(n) for n in self.fronts)

    def actor(self, node: int) -> str:
        """The actor that node `node`'s shop front is now."""
        incarnation = self._incarnation[node] if node < len(self._incarnation) else 0
        return str(node) if incarnation == 0 else f"{node}:{incarnation}"

    def crash(self, node: int) -> None:
        """Node `node` lost its volatile state: its front numbers afresh, as a new actor."""
        if node < len(self._incarnation):
            self._incarnation[node] += 1
            self._actors = tuple(self.actor(n) for n in self.fronts)

    def _number(self, order: Order) -> Dot:
        """The order's reservation's dot: the next number (or a spare one) of its home's front."""
        actor = self.actor(order.home)
        key = (actor, order.product_key)
        spare = self._spare.get(key)
        if spare:
            return (actor, heapq.heappop(spare))
        seq = self._made.get(key, 0) + 1
        self._made[key] = seq
        return (actor, seq)

    def unused(self, order: Order) -> None:
        """The order's reservation certainly never landed: its number is free again.

        Called only after every write of it was refused (a version conflict or a
        certain failure), never after one whose outcome is unknown.
        """
        if order.dot is None:
            return
        actor, seq = order.dot
        order.dot = None
        if actor == self.actor(order.home):
            heapq.heappush(self._spare.setdefault((actor, order.product_key), []), seq)

    def _settled(self, row: ProductRow, order: Order) -> ProductRow:
        """`row` as the order's home front writes it: its claim renewed, what may settle settled."""
        if not self.settling or not self.nodes:
            return row
        actor = self.actor(order.home)
        key = (actor, order.product_key)
        made = self._made.get(key, 0) - len(self._spare.get(key, ()))
        return row.settle(actor, made, self._actors, self.env.now)

    def reserve(self, order: Order, held: bool) -> Callable[[Any], Any]:
        """Add the reservation (a hold if `held`, else confirmed); IMPOSSIBLE if sold out."""

        def change(row: Any) -> Any:
            if row is None:
                return IMPOSSIBLE
            if row.reservation(order.order_id, order.dot) is not None:
                return DONE
            now = self.env.now
            if row.available(now) < order.units:
                return IMPOSSIBLE
            hold = now + self.policy.hold_ms if held else None
            state = HELD if held else CONFIRMED
            if order.dot is None:
                order.dot = self._number(order)
            order.made_ms = now
            mine = Reservation(
                order.order_id, order.user_id, order.units, now, False, state, hold, order.dot
            )
            return self._settled(row.with_reservation(mine, self._tag(order, "#"), now), order)

        return change

    def confirm(self, order: Order) -> Callable[[Any], Any]:
        """Turn the hold into a sale; IMPOSSIBLE if it lapsed, was released or apologised for."""

        def change(row: Any) -> Any:
            mine = None if row is None else row.reservation(order.order_id, order.dot)
            now = self.env.now
            if mine is None or mine.cancelled or mine.state == RELEASED or mine.expired(now):
                return IMPOSSIBLE
            if mine.state == CONFIRMED:
                return DONE
            tag = self._tag(order, "+")
            new = row.with_state(order.order_id, CONFIRMED, order.units, order.user_id, tag, now)
            return self._settled(new, order)

        return change

    def release(self, order: Order) -> Callable[[Any], Any]:
        """Give the units back (a released tombstone if the hold has not landed yet).

        IMPOSSIBLE on no row: product rows are never deleted, so a read without
        one came from a node that does not hold it, and proves nothing.
        """

        def change(row: Any) -> Any:
            if row is None:  # a replica that never had the row (a stand-in) answered:
                return IMPOSSIBLE  # nothing is known, so nothing is done yet
            mine = row.reservation(order.order_id, order.dot)
            if mine is not None and (mine.state != HELD or mine.cancelled):
                return DONE  # released already, apologised for, or (never here) confirmed
            now = self.env.now
            new = row.with_state(
                order.order_id,
                RELEASED,
                order.units,
                order.user_id,
                self._tag(order, "-"),
                now,
                order.dot,
                order.made_ms,
            )
            return self._settled(new, order)

        return change

    def record(self, order: Order, status: str) -> Callable[[Any], Any]:
        """The record with `status`: its own row, or an order embedded in the user's row.

        A cancellation wins: a record cancelled stays cancelled (a late write of
        the confirmed record finds it and gives up).
        """
        relational = order.layout == "relational"

        def change(row: Any) -> Any:
            now = self.env.now
            held = row if relational else _embedded(row, order.order_id)
            if held is not None and held.status == CANCELLED:
                return DONE if status == CANCELLED else IMPOSSIBLE
            if held is not None and held.status == status:
                return DONE
            record = order.record(
                status, now, self._tag(order, "@" if status != CANCELLED else "~")
            )
            if relational:
                return record
            if row is None:
                return IMPOSSIBLE  # no such user
            return row.with_order(record, self._tag(order, "@u"), now)

        return change


def _embedded(user: Any, order_id: str) -> Any:
    if user is None:
        return None
    for order in user.orders:
        if order.id == order_id:
            return order
    return None


class OrderPlacer:
    """Places orders for the customers of one run through their store clients.

    Args:
        env: the engine.
        policy: the `[shop]` table (protocol, concurrency control, layout, retries, lease).
        updater: read-modify-write with retries (resolver, back-off).
        steps: the order's steps as changes of one row.
        sagas: where unfinished sagas go to be finished or compensated (saga protocol).
    """

    def __init__(
        self, env: Engine, policy: ShopConfig, updater: Updater, steps: OrderSteps, sagas: Any
    ) -> None:
        self.env = env
        self.policy = policy
        self.updater = updater
        self.steps = steps
        self.sagas = sagas

    def place(
        self,
        client: StoreClient,
        product_key: str,
        user_id: int,
        units: int,
        order_id: str,
        deadline: float,
    ) -> Proc:
        """Run one order to its end; returns an OrderOutcome."""
        order = Order(order_id, user_id, product_key, units, self.policy.layout, client.home)
        if self.policy.concurrency != "lock":
            return (yield from self._place(client, order, deadline, None))
        owner = order_id
        waits = 0
        while True:
            lock = yield from client.lock(product_key, owner, self.policy.lease_ms, deadline)
            if lock.status is Status.OK:
                break
            if lock.status is not Status.BUSY:
                # Nothing was written: the order certainly did not happen.
                return OrderOutcome(Status.FAIL, error=f"lock-{lock.error}", lock_waits=waits)
            waits += 1
            pause = self.updater.backoff(min(waits, 3))
            if self.env.now + pause >= deadline:
                return OrderOutcome(Status.FAIL, error="lock-wait-timeout", lock_waits=waits)
            yield self.env.timeout(pause)
        outcome = yield from self._place(client, order, deadline, waits)
        yield from client.unlock(product_key, owner, deadline)
        return outcome

    def _place(self, client: StoreClient, order: Order, deadline: float, waits: int | None) -> Proc:
        """The order's steps by protocol; `waits` is None without a lock (else its lock waits)."""
        locked = waits is not None
        retries = 0 if locked else None
        if self.policy.orders == "2pc":
            outcome = yield from self._atomic(client, order, deadline, waits or 0, retries)
            if outcome.status is Status.FAIL or outcome.outcome == SOLD_OUT:
                self.steps.unused(order)  # every commit of it was refused
            return outcome
        saga = self.policy.orders == "saga"
        steps, update = self.steps, self.updater.update

        def told(status: Status, outcome: str | None = None, error: str | None = None) -> Any:
            return OrderOutcome(status, outcome, error, reserved.retries, waits or 0)

        reserved: Updated = yield from update(
            client, order.product_key, steps.reserve(order, held=saga), deadline, retries=retries
        )
        if reserved.status not in (Status.OK, Status.TIMEOUT):  # every write of it was refused
            steps.unused(order)
        if reserved.status is Status.CONFLICT:  # the change was impossible: no stock, no product
            if reserved.row is None:
                return told(Status.FAIL, error="no-such-product")
            return told(Status.OK, SOLD_OUT)
        if reserved.status is not Status.OK:
            error = "lease-lost" if locked and reserved.error == "aborted" else reserved.error
            if reserved.status is Status.TIMEOUT and saga:
                self.sagas.abort(client.home, order, recorded=False)
                return told(Status.FAIL, error="aborted-compensated")
            return told(reserved.status, error=error)
        recorded = yield from self._record(client, order, deadline, saga)
        if recorded.status is not Status.OK:
            if not saga:
                # The units are reserved but the customer is not told: outcome unknown.
                return told(Status.TIMEOUT, error="order-record-unwritten")
            self.sagas.abort(client.home, order, recorded=True)
            return told(Status.FAIL, error="aborted-compensated")
        if not saga:
            return told(Status.OK, CONFIRMED_OUTCOME)
        confirmed = yield from update(
            client,
            order.product_key,
            steps.confirm(order),
            deadline,
            start=(reserved.row, reserved.version),
        )
        if confirmed.status is Status.OK:
            return told(Status.OK, CONFIRMED_OUTCOME)
        if confirmed.status is Status.TIMEOUT:
            self.sagas.finish(client.home, order)
            return told(Status.TIMEOUT, error="confirm-unknown")
        self.sagas.abort(client.home, order, recorded=True)
        return told(Status.FAIL, error="aborted-compensated")

    def _record(self, client: StoreClient, order: Order, deadline: float, saga: bool) -> Proc:
        """Write the order's record: blind in `none` (as first modelled), else conditional."""
        now = self.env.now
        if saga:
            return (
                yield from self.updater.update(
                    client,
                    order.record_key,
                    self.steps.record(order, CONFIRMED),
                    deadline,
                    start=(None, None) if order.layout == "relational" else None,
                )
            )
        record = order.record(CONFIRMED, now, order.order_id)
        if order.layout == "relational":
            write = yield from client.write(order.record_key, record, deadline)
            return Updated(write.status, error=write.error)
        # nosql: the order is embedded in the user row: a second, separate write
        read = yield from client.read(order.record_key, deadline)
        if read.status is not Status.OK or not read.siblings:
            return Updated(Status.TIMEOUT, error="order-record-unwritten")
        user = self.updater.resolve(read.siblings)
        row = user.with_order(record, f"{order.order_id}@u", now)
        write = yield from client.write(order.record_key, row, deadline, context=read.version)
        return Updated(write.status, error=write.error)

    def _atomic(
        self, client: StoreClient, order: Order, deadline: float, waits: int, limit: int | None
    ) -> Proc:
        """Both rows in one atomic commit (2pc), retried on a version conflict like occ."""
        limit = self.policy.max_retries if limit is None else limit
        retries = 0
        relational = order.layout == "relational"
        while True:
            product = yield from client.read(order.product_key, deadline)
            if product.status is not Status.OK:
                return OrderOutcome(product.status, error=product.error, retries=retries)
            row = self.updater.resolve(product.siblings)
            new_row = self.steps.reserve(order, held=False)(row)
            if row is None:
                return OrderOutcome(Status.FAIL, error="no-such-product", retries=retries)
            if new_row is DONE:  # an earlier attempt of this order committed
                return OrderOutcome(Status.OK, CONFIRMED_OUTCOME, None, retries, waits)
            if new_row is IMPOSSIBLE:
                yield from write_back(client, order.product_key, product, row, deadline)
                return OrderOutcome(Status.OK, SOLD_OUT, retries=retries, lock_waits=waits)
            if relational:
                record_row, record_version = None, None
            else:
                user = yield from client.read(order.record_key, deadline)
                if user.status is not Status.OK:
                    return OrderOutcome(user.status, error=user.error, retries=retries)
                record_row, record_version = self.updater.resolve(user.siblings), user.version
            new_record = self.steps.record(order, CONFIRMED)(record_row)
            writes = (
                TxnWrite(order.product_key, new_row, product.version, True),
                TxnWrite(order.record_key, new_record, record_version, True),
            )
            result = yield from client.commit(
                f"{order.order_id}.{retries}", writes, deadline, expected=(row, record_row)
            )
            if result.status is Status.OK:
                return OrderOutcome(Status.OK, CONFIRMED_OUTCOME, None, retries, waits)
            if result.status is not Status.CONFLICT or retries >= limit:
                status = Status.FAIL if result.status is Status.CONFLICT else result.status
                error = "aborted" if result.status is Status.CONFLICT else result.error
                return OrderOutcome(status, error=error, retries=retries, lock_waits=waits)
            pause = self.updater.backoff(retries)
            retries += 1
            if self.env.now + pause >= deadline:
                return OrderOutcome(Status.FAIL, error="aborted", retries=retries)
            yield self.env.timeout(pause)
