"""What a workload is and what it drives: the shop front, customers arriving, orders recorded.

A workload is one module that declares `WORKLOAD = WorkloadSpec(...)`: its
name (the scenario's `workload.kind`), its own settings table
(`[workload.<kind>]`) and `build(shop, config, settings)`, which returns an
object whose `start()` sets customers going. It drives the store only through
the `Shop` it is given: store clients, the order placer, the resolver, the
history, named random streams. docs/design.md, "How to add a workload", walks
through one.

Every customer request is a shop operation in the history (`order`,
`browse`, ...), around the store operations it makes; its outcome is what
availability, oversell and lost orders are computed from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sim.client import Proc, StoreClient, new_op
from sim.config.shop import Resolver
from sim.config.workload import WorkloadConfig, WorkloadSettings
from sim.engine.kernel import Engine
from sim.history import FAIL, INFO, INVOKE, OK, History, Op
from sim.modes.base import Status
from sim.rng import Streams
from sim.shop.model import product_key
from sim.shop.orders import OrderPlacer
from sim.shop.resolvers import resolve
from sim.shop.rows import write_back

OUTCOME = {Status.OK: OK, Status.FAIL: FAIL, Status.TIMEOUT: INFO}
"""A request's status as the type of its completion in the history."""


class Workload(Protocol):
    """A run's customers: `start` schedules them; they then act as SimPy processes."""

    def start(self) -> None:
        """Set the customers going."""


@dataclass(frozen=True)
class WorkloadSpec:
    """What a workload module declares about itself (`WORKLOAD = WorkloadSpec(...)`).

    Attributes:
        name: the scenario's `workload.kind` value.
        settings: its own settings table class (`[workload.<name>]`).
        build: `build(shop, config, settings)` -> the Workload of one run.
        summary: one line for listings.
        order: where it is listed among the workloads.
        quiet: its reads must not change the store: the modes' repair-on-read and
            background repair default off (each mode's `ModeSettings.QUIET`) unless the
            scenario sets them.
    """

    name: str
    settings: type[WorkloadSettings]
    build: Callable[[Shop, WorkloadConfig, Any], Workload]
    summary: str = ""
    order: int = 100
    quiet: bool = False


class Shop:
    """The shop front a workload drives: clients, order placement, resolver, history, streams.

    Args:
        env: the engine.
        history: where shop operations are recorded.
        placer: places orders (protocol and concurrency control live there).
        client: builds the store client of customer i.
        resolver: merges the siblings a read returns.
        streams: the run's named random streams.
        duration_ms: no customer arrives after this.
        home_of: a customer's home node (None for a process that is no customer).
        router: the routing policy's state (its counters are reported).
        node_client: a store client on a node (no router, no hop), for a process id.
        nodes: the number of nodes.
    """

    def __init__(
        self,
        env: Engine,
        history: History,
        placer: OrderPlacer,
        client: Callable[[int], StoreClient],
        resolver: Resolver,
        streams: Streams,
        duration_ms: float,
        home_of: Callable[[Any], int | None] = lambda process: None,
        router: Any = None,
        node_client: Callable[[int, str], StoreClient] | None = None,
        nodes: int = 1,
    ) -> None:
        self.env = env
        self.history = history
        self.placer = placer
        self.client = client
        self.resolver = resolver
        self.streams = streams
        self.duration_ms = duration_ms
        self.home_of = home_of
        self.router = router
        self.node_client = node_client
        self.nodes = nodes

    def stats(self) -> dict[str, Any]:
        """The shop's own counters: sagas started, landed, lost with a node, still pending;
        customers moved to another node by the router."""
        sagas = self.placer.sagas
        return {
            "sagas_started": sagas.started,
            "sagas_landed": sagas.landed,
            "sagas_lost": sagas.lost,
            "sagas_pending": sagas.pending(),
            "routing_moves": self.router.moves if self.router is not None else 0,
        }

    def order(
        self,
        client: StoreClient,
        customer: int,
        product: int,
        n: int,
        units: int,
        timeout_ms: float,
    ) -> Proc:
        """Customer `customer`'s n-th order of `units` of `product`, recorded as an `order` op."""
        env = self.env
        key = product_key(product)
        order_id = f"o{customer}.{n}"
        value = {"product": key, "units": units, "order": order_id}
        self.history.append(Op(client.process, INVOKE, "order", key, value, env.now))
        outcome = yield from self.placer.place(
            client, key, customer, units, order_id, env.now + timeout_ms
        )
        done = dict(
            value, outcome=outcome.outcome, retries=outcome.retries, lock_waits=outcome.lock_waits
        )
        self.history.append(
            Op(client.process, OUTCOME[outcome.status], "order", key, done, env.now, outcome.error)
        )

    def view(self, client: StoreClient, product: int, timeout_ms: float) -> Proc:
        """One page view of `product`, recorded as a `browse` op.

        A read that returns siblings writes the resolver's merge back (the client
        resolves conflicts); the op's value says how many units are available and
        how many versions the read saw. (Every customer's every page: the hot path.)
        """
        env = self.env
        key = product_key(product)
        record = self.history.ops.append
        now = env.now
        record(new_op((client.process, INVOKE, "browse", key, None, now, None, None)))
        deadline = now + timeout_ms
        read = yield from client.read(key, deadline)
        status = read.status
        shown = None
        if status is Status.OK:
            siblings = read.siblings
            if siblings:
                row = siblings[0] if len(siblings) == 1 else resolve(siblings, self.resolver)
                shown = {"available": row.available(env.now), "versions": len(siblings)}
                if len(siblings) > 1:
                    yield from write_back(client, key, read, row, deadline)
            outcome = OK
        else:
            outcome = INFO if status is Status.TIMEOUT else FAIL
        record(new_op((client.process, outcome, "browse", key, shown, env.now, read.error, None)))


class Arrivals:
    """Customers arriving as a Poisson process until the end of traffic.

    `config.customers` arrive with exponential gaps (mean `arrival_mean_ms`,
    drawn from the "arrivals" stream); each that arrives before `duration_ms`
    is handed to `visit(customer, client)`, which starts what it does.
    """

    def __init__(
        self, shop: Shop, config: WorkloadConfig, visit: Callable[[int, StoreClient], None]
    ) -> None:
        self.shop = shop
        self.config = config
        self.visit = visit

    def start(self) -> None:
        """Start the arrival process."""
        self.shop.env.process(self._arrive())

    def _arrive(self) -> Proc:
        cfg = self.config
        env = self.shop.env
        gaps: np.ndarray = self.shop.streams.get("arrivals").exponential(
            cfg.arrival_mean_ms, cfg.customers
        )
        for customer in range(cfg.customers):
            yield env.timeout(float(gaps[customer]))
            if env.now >= self.shop.duration_ms:
                return
            self.visit(customer, self.shop.client(customer))
