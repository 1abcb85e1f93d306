"""Sagas that did not end within the customer's request: finished or compensated from the home node.

A saga's last steps are left to the node that coordinated the order: an
abort releases the hold and cancels the record; a finish confirms the hold,
or aborts if the hold lapsed or was released meanwhile. Each node works
through its log of unfinished sagas in rounds, one process per node: a round
changes each product row once for all the sagas that touch it (a batch: sagas
on a hot row would otherwise fight each other for it), then cancels the
records of the aborted ones, and a round that did not land everything is
retried after a back-off. Every step is idempotent (releasing a released hold,
cancelling a cancelled record, writes nothing), so a retry after an unknown
outcome is safe.

A saga leaves the log only when a round finds its changes in place, so a write
is read back once: last-writer-wins (weak mode) may discard a compensation
written during traffic, and the saga then writes it again.

The log of a node is durable state when the cluster is durable: a node that
crashes resumes its sagas when it restarts. Without durability a crash loses
them; a hold then lapses after `hold_ms` and the next writer of the row
releases it (the cart hold is the backstop).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from typing import Any

from sim.client import Proc, StoreClient
from sim.engine.kernel import Engine
from sim.engine.network import LinkState
from sim.modes.base import Status
from sim.shop.model import CANCELLED, CONFIRMED, lineage_of
from sim.shop.orders import Order, OrderSteps
from sim.shop.rows import DONE, IMPOSSIBLE, Updater

RETRY_MS = 50.0
"""The first pause between rounds that did not land everything (doubles, with jitter)."""
MAX_PAUSE_MS = 1_000.0
"""The longest pause between rounds."""


class _Saga:
    """One unfinished order: what is left to do."""

    __slots__ = (
        "abort",
        "order",
        "patience_until",
        "recorded",
        "row_done",
        "row_landed",
        "unseen",
        "wrote",
    )

    def __init__(
        self, order: Order, abort: bool, recorded: bool, patience_until: float = 0.0
    ) -> None:
        self.order = order
        self.abort = abort  # else: finish (confirm)
        self.recorded = recorded  # a record write was attempted: cancel it on abort
        self.patience_until = patience_until  # a finish waits this long for an unseen hold
        self.row_done = False  # a read found the product row's part in place
        self.row_landed = False  # this round's change of the product row landed
        self.unseen = False  # the row read lacked the hold to confirm: look again
        self.wrote = False  # this round wrote something: read it back next round


class Sagas:
    """Every node's log of unfinished sagas, and one process per node working through it.

    Args:
        env: the engine.
        steps: the order steps (changes of one row each).
        updater: read-modify-write with retries.
        client: builds a store client bound to a node, for a history process id.
        links: who is down (a down node's sagas wait).
        nodes: number of nodes.
        durable: whether a node's log survives its crash.
        timeout_ms: the deadline of each attempt.
        fronts: the nodes that are some customer's home (default: every node).
    """

    def __init__(
        self,
        env: Engine,
        steps: OrderSteps,
        updater: Updater,
        client: Callable[[int, str], StoreClient],
        links: LinkState,
        nodes: int,
        durable: bool,
        timeout_ms: float,
        fronts: Sequence[int] = (),
    ) -> None:
        self.env = env
        self.steps = steps
        self.updater = updater
        self.client = client
        self.links = links
        self.durable = durable
        self.timeout_ms = timeout_ms
        self.logs: list[dict[str, _Saga]] = [{} for _ in range(nodes)]
        self.working = [False] * nodes
        self.incarnation = [0] * nodes
        self._ids = itertools.count()
        steps.join(nodes, fronts)  # a product row's horizon waits for each front's claim
        self.started = 0
        self.landed = 0
        self.lost = 0

    def abort(self, home: int, order: Order, recorded: bool) -> None:
        """Release the order's hold and (if one was attempted) cancel its record."""
        self._add(home, _Saga(order, True, recorded))

    def finish(self, home: int, order: Order) -> None:
        """Confirm the order's hold; abort instead if it can no longer be confirmed.

        The hold landed (its write was acknowledged), so a row read without it
        is stale: until the hold would have lapsed the saga looks again rather
        than abort (an abort's release loses to the confirmation that may be
        in flight, and the cancelled record then strands the units).
        """
        self._add(home, _Saga(order, False, True, self.env.now + self.steps.policy.hold_ms))

    def crash(self, node: int) -> None:
        """Without durability the node's log is lost (its holds lapse after hold_ms), and its
        shop front numbers reservations afresh, as a new actor (OrderSteps.crash)."""
        if not self.durable:
            self.steps.crash(node)  # its front numbers reservations afresh, as a new actor
            self.lost += len(self.logs[node])
            self.logs[node].clear()
            self.incarnation[node] += 1
            self.working[node] = False

    def pending(self) -> int:
        """Sagas not landed yet."""
        return sum(len(log) for log in self.logs)

    def _add(self, home: int, saga: _Saga) -> None:
        self.started += 1
        self.logs[home][saga.order.order_id] = saga
        if not self.working[home]:
            self.working[home] = True
            self.env.process(self._work(home, self.incarnation[home]))

    def _work(self, home: int, incarnation: int) -> Proc:
        """Rounds over the node's log until it is empty (or lost with the node)."""
        client = self.client(home, f"saga-{home}.{next(self._ids)}")
        failures = 0
        log = self.logs[home]
        while log and self.incarnation[home] == incarnation:
            if home not in self.links.down:
                landed = yield from self._round(client, log)
                failures = 0 if landed else failures + 1
                if not log:
                    break
            pause = min(MAX_PAUSE_MS, RETRY_MS * 2 ** min(failures, 10))
            yield self.env.timeout(pause * float(self.updater.rng.uniform(0.5, 1.5)))
        if self.incarnation[home] == incarnation:
            self.working[home] = False

    def _round(self, client: StoreClient, log: dict[str, _Saga]) -> Proc:
        """One pass over the log; True if every saga in it landed.

        A saga leaves the log once a round finds all its changes already in
        place (nothing to write): a write is read back in the next round, so
        that one last-writer-wins discarded (weak mode) is made again.
        """
        by_product: dict[str, list[_Saga]] = {}
        for saga in log.values():
            saga.wrote = False
            saga.row_landed = saga.row_done
            if not saga.row_done:
                by_product.setdefault(saga.order.product_key, []).append(saga)
        everything = True
        for key in sorted(by_product):
            sagas = sorted(by_product[key], key=lambda s: s.order.order_id)
            deadline = self.env.now + self.timeout_ms  # each step its own: a lost message
            done = yield from self.updater.update(client, key, self._batch(sagas), deadline)
            if done.status is not Status.OK:
                everything = False
                continue
            for saga in sagas:
                saga.wrote = done.wrote
                saga.row_landed = not saga.unseen
                saga.row_done = not done.wrote and not saga.unseen
                everything = everything and not saga.unseen
        for order_id, saga in sorted(log.items()):
            # The record is cancelled only once the release has landed: until then a
            # late confirmation may still win the row, and the order is sold after all.
            if saga.abort and saga.recorded and saga.row_landed:
                step = self.steps.record(saga.order, CANCELLED)
                deadline = self.env.now + self.timeout_ms  # costs one step, not the round
                done = yield from self.updater.update(client, saga.order.record_key, step, deadline)
                if done.status not in (Status.OK, Status.CONFLICT):  # CONFLICT: no such user
                    everything = False
                    continue
                saga.wrote = saga.wrote or done.wrote
            if saga.row_done and not saga.wrote and log.pop(order_id, None) is not None:
                self.landed += 1  # (a crash without durability may have emptied the log)
        return everything

    def _batch(self, sagas: list[_Saga]) -> Callable[[Any], Any]:
        """One change of a product row for every saga on it: confirm, or else release."""

        def change(row: Any) -> Any:
            if row is None:  # a stand-in's "not found": decide nothing, try again later
                return IMPOSSIBLE
            new = row
            now = self.env.now
            for saga in sagas:
                saga.unseen = False
                mine = new.reservation(saga.order.order_id, saga.order.dot)
                if saga.abort and mine is not None and mine.state == CONFIRMED:
                    # Only the order's own confirmation confirms it: one whose outcome was
                    # unknown landed after this finish turned to abort. The order is sold.
                    saga.abort = False
                if not saga.abort:
                    if mine is None and now < saga.patience_until:
                        saga.unseen = True  # a stale replica: the hold is elsewhere
                        continue
                    confirmed = self.steps.confirm(saga.order)(new)
                    if confirmed is not IMPOSSIBLE:
                        new = new if confirmed is DONE else confirmed
                        continue
                    saga.abort = True  # the hold lapsed or was released: the order is off
                released = self.steps.release(saga.order)(new)
                new = new if released is DONE else released
            if new is row:
                return DONE
            return dataclasses.replace(new, parents=lineage_of(row))  # one write, from `row`

        return change
