"""Placing an order, the critical path: read the product, check stock, reserve, record the order.

Two ways to guard the last item (DESIGN.md, "Concurrency control on orders"):
- occ: read the product and its version, write the new reservation on the
  condition that the version is unchanged; on conflict back off and retry
  (bounded), then give up (an abort).
- lock: take a lease lock on the product, read, write, release; while another
  buyer holds it, wait and try again until the deadline. The write is still
  conditional on the version read under the lock: a fencing check, so that a
  holder whose lease ran out cannot overwrite its successor (a lease alone is
  not safe: Kleppmann, "How to do distributed locking").
Whether either is globally safe depends on the mode: in strong mode the check
runs in the replicated state machine; in weak and eventual modes it runs on one
node or one quorum, and the measured oversell shows it.

When a read returns siblings (eventual mode), the client's resolver merges
them; the order's write carries the merged value plus the new reservation and
the read's context, which is the write-back DESIGN.md asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.client import Proc, StoreClient
from sim.config.shop import Resolver, ShopConfig
from sim.engine.kernel import Engine
from sim.modes.base import ReadResult, Status
from sim.shop.model import CONFIRMED, OrderRow, ProductRow, Reservation, order_key, user_key
from sim.shop.resolvers import resolve

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


def write_back(
    client: StoreClient, key: str, read: ReadResult, merged: Any, deadline: float
) -> Proc:
    """After a read that returned siblings, write the resolver's merge back with its context.

    The client, not the store, resolves conflicts (DESIGN.md): without this a
    product that sold out during a partition would keep its siblings forever.
    The outcome does not change what the customer is told.
    """
    if len(read.siblings) > 1:
        yield from client.write(key, merged, deadline, context=read.version)


class OrderPlacer:
    """Places orders for the customers of one run through their store clients.

    Args:
        env: the engine.
        policy: the `[shop]` table (concurrency control, layout, retries, lease).
        resolver: merges the siblings a read returns.
        rng: the back-off's random stream.
    """

    def __init__(
        self, env: Engine, policy: ShopConfig, resolver: Resolver, rng: np.random.Generator
    ) -> None:
        self.env = env
        self.policy = policy
        self.resolver = resolver
        self.rng = rng

    def _backoff(self, attempt: int) -> float:
        # Exponential back-off with jitter, so that retrying buyers spread out.
        return self.policy.backoff_ms * (2 ** min(attempt, 6)) * float(self.rng.uniform(0.5, 1.5))

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
        if self.policy.concurrency == "lock":
            outcome = yield from self._place_locked(
                client, product_key, user_id, units, order_id, deadline
            )
        else:
            outcome = yield from self._place_optimistic(
                client, product_key, user_id, units, order_id, deadline
            )
        return outcome

    def _reserve(
        self, product: ProductRow, user_id: int, units: int, order_id: str, attempt: int
    ) -> ProductRow:
        now = self.env.now
        return product.with_reservation(
            Reservation(order_id, user_id, units, now), f"{order_id}#{attempt}", now
        )

    def _place_optimistic(
        self,
        client: StoreClient,
        key: str,
        user_id: int,
        units: int,
        order_id: str,
        deadline: float,
    ) -> Proc:
        retries = 0
        for attempt in range(self.policy.max_retries + 1):
            read = yield from client.read(key, deadline)
            if read.status is not Status.OK:
                return OrderOutcome(Status.FAIL, error=read.error, retries=retries)
            product = resolve(read.siblings, self.resolver)
            if product is None:
                return OrderOutcome(Status.FAIL, error="no-such-product", retries=retries)
            if product.available < units:
                yield from write_back(client, key, read, product, deadline)
                return OrderOutcome(Status.OK, SOLD_OUT, retries=retries)
            new = self._reserve(product, user_id, units, order_id, attempt)
            write = yield from client.write(
                key, new, deadline, context=read.version, conditional=True, expected=product
            )
            if write.status is Status.OK:
                return (
                    yield from self._record(
                        client, user_id, key, units, order_id, deadline, retries, 0
                    )
                )
            if write.status is not Status.CONFLICT:
                status = Status.TIMEOUT if write.status is Status.TIMEOUT else Status.FAIL
                return OrderOutcome(status, error=write.error, retries=retries)
            if attempt == self.policy.max_retries:
                break
            retries += 1
            pause = self._backoff(attempt)
            if self.env.now + pause >= deadline:
                break
            yield self.env.timeout(pause)
        return OrderOutcome(Status.FAIL, error="aborted", retries=retries)

    def _place_locked(
        self,
        client: StoreClient,
        key: str,
        user_id: int,
        units: int,
        order_id: str,
        deadline: float,
    ) -> Proc:
        owner = order_id
        waits = 0
        while True:
            lock = yield from client.lock(key, owner, self.policy.lease_ms, deadline)
            if lock.status is Status.OK:
                break
            if lock.status is not Status.BUSY:
                # Nothing was written: the order certainly did not happen.
                return OrderOutcome(Status.FAIL, error=f"lock-{lock.error}", lock_waits=waits)
            waits += 1
            pause = self._backoff(min(waits, 3))
            if self.env.now + pause >= deadline:
                return OrderOutcome(Status.FAIL, error="lock-wait-timeout", lock_waits=waits)
            yield self.env.timeout(pause)
        read = yield from client.read(key, deadline)
        if read.status is not Status.OK or not read.siblings:
            yield from client.unlock(key, owner, deadline)
            return OrderOutcome(
                Status.FAIL, error=read.error or "no-such-product", lock_waits=waits
            )
        product = resolve(read.siblings, self.resolver)
        if product.available < units:
            yield from write_back(client, key, read, product, deadline)
            yield from client.unlock(key, owner, deadline)
            return OrderOutcome(Status.OK, SOLD_OUT, lock_waits=waits)
        new = self._reserve(product, user_id, units, order_id, 0)
        write = yield from client.write(
            key, new, deadline, context=read.version, conditional=True, expected=product
        )
        if write.status is not Status.OK:
            yield from client.unlock(key, owner, deadline)
            status = Status.TIMEOUT if write.status is Status.TIMEOUT else Status.FAIL
            error = "lease-lost" if write.status is Status.CONFLICT else write.error
            return OrderOutcome(status, error=error, lock_waits=waits)
        outcome = yield from self._record(client, user_id, key, units, order_id, deadline, 0, waits)
        yield from client.unlock(key, owner, deadline)
        return outcome

    def _record(
        self,
        client: StoreClient,
        user_id: int,
        product_key: str,
        units: int,
        order_id: str,
        deadline: float,
        retries: int,
        waits: int,
    ) -> Proc:
        """Write the order record; the reservation is already in the product row."""
        now = self.env.now
        product_id = int(product_key.split(":", 1)[1])
        order = OrderRow(
            order_id, now, order_id, user_id, product_id, units, now, "card", CONFIRMED
        )
        if self.policy.layout == "relational":
            write = yield from client.write(order_key(order_id), order, deadline)
        else:
            # nosql: the order is embedded in the user row: a second, separate
            # write (not atomic with the product's), which can be lost alone.
            ukey = user_key(user_id)
            read = yield from client.read(ukey, deadline)
            if read.status is not Status.OK or not read.siblings:
                return OrderOutcome(
                    Status.TIMEOUT,
                    error="order-record-unwritten",
                    retries=retries,
                    lock_waits=waits,
                )
            user = resolve(read.siblings, self.resolver)
            write = yield from client.write(
                ukey, user.with_order(order, f"{order_id}@u", now), deadline, context=read.version
            )
        if write.status is not Status.OK:
            # The units are reserved but the customer is not told: outcome unknown.
            return OrderOutcome(
                Status.TIMEOUT, error="order-record-unwritten", retries=retries, lock_waits=waits
            )
        return OrderOutcome(Status.OK, CONFIRMED_OUTCOME, retries=retries, lock_waits=waits)
