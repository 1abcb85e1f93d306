"""Shoppers as SimPy processes: flash-sale buyers and browsers, arriving as a Poisson process.

- flash-sale: `customers` arrive with exponential gaps (mean `arrival_mean_ms`)
  until `duration_ms`; each tries once to buy `units_per_order` units of a
  product chosen uniformly. The race for the last units is the point.
- browse: each arriving customer reads `reads_per_customer` products chosen by
  a Zipf law (exponent `zipf_s`) with think time between, and buys the last one
  viewed with probability `buy_probability`.

Every customer request is a shop operation in the history (`order`, `browse`),
around the store operations it makes; its outcome is what availability, oversell
and lost orders are computed from.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from sim.client import Proc, StoreClient
from sim.history import FAIL, INFO, INVOKE, OK, History, Op
from sim.modes.base import Status
from sim.scenario import WorkloadConfig
from sim.shop.model import product_key
from sim.shop.orders import OrderPlacer, resolve

_OUTCOME = {Status.OK: OK, Status.FAIL: FAIL, Status.TIMEOUT: INFO}


class Shoppers:
    """Generates customers and runs each one's requests.

    Args:
        env: the SimPy environment.
        config: the `[workload]` table.
        placer: places orders (concurrency control lives there).
        make_client: builds the store client of customer i.
        history: where shop operations are recorded.
        arrivals: random stream for inter-arrival gaps.
        choices: random stream for what customers pick.
        duration_ms: no customer arrives after this.
        resolver: merges siblings a browse read returns (written back).
    """

    def __init__(
        self,
        env: simpy.Environment,
        config: WorkloadConfig,
        placer: OrderPlacer,
        make_client: Callable[[int], StoreClient],
        history: History,
        arrivals: np.random.Generator,
        choices: np.random.Generator,
        duration_ms: float,
        resolver: Callable,
    ) -> None:
        self.env = env
        self.config = config
        self.placer = placer
        self.make_client = make_client
        self.history = history
        self.arrivals = arrivals
        self.choices = choices
        self.duration_ms = duration_ms
        self.resolver = resolver
        ranks = np.arange(1, config.products + 1, dtype=float)
        weights = ranks**-config.zipf_s
        self._zipf = weights / weights.sum()
        self.arrived = 0

    def start(self) -> None:
        """Start the arrival process."""
        self.env.process(self._arrive())

    def _arrive(self) -> Proc:
        cfg = self.config
        gaps = self.arrivals.exponential(cfg.arrival_mean_ms, cfg.customers)
        for customer in range(cfg.customers):
            yield self.env.timeout(float(gaps[customer]))
            if self.env.now >= self.duration_ms:
                return
            self.arrived += 1
            client = self.make_client(customer)
            if cfg.kind == "flash-sale":
                product = int(self.choices.integers(cfg.products))
                self.env.process(self._order(client, customer, product, 0))
            else:
                picks = self.choices.choice(
                    cfg.products, size=max(cfg.reads_per_customer, 1), p=self._zipf
                )
                buys = bool(self.choices.random() < cfg.buy_probability)
                self.env.process(self._browse(client, customer, picks, buys))

    def _order(self, client: StoreClient, customer: int, product: int, n: int) -> Proc:
        env = self.env
        cfg = self.config
        key = product_key(product)
        order_id = f"o{customer}.{n}"
        value = {"product": key, "units": cfg.units_per_order, "order": order_id}
        self.history.append(Op(client.process, INVOKE, "order", key, value, env.now))
        deadline = env.now + cfg.timeout_ms
        outcome = yield from self.placer.place(
            client, key, customer, cfg.units_per_order, order_id, deadline
        )
        done = dict(
            value, outcome=outcome.outcome, retries=outcome.retries, lock_waits=outcome.lock_waits
        )
        self.history.append(
            Op(client.process, _OUTCOME[outcome.status], "order", key, done, env.now, outcome.error)
        )

    def _browse(self, client: StoreClient, customer: int, picks: np.ndarray, buys: bool) -> Proc:
        env = self.env
        cfg = self.config
        for i in range(cfg.reads_per_customer):
            key = product_key(int(picks[i]))
            self.history.append(Op(client.process, INVOKE, "browse", key, None, env.now))
            deadline = env.now + cfg.timeout_ms
            read = yield from client.read(key, deadline)
            status = read.status if read.status in (Status.OK, Status.TIMEOUT) else Status.FAIL
            shown = None
            if read.status is Status.OK and read.siblings:
                product = resolve(read, self.resolver)
                shown = {"available": product.available, "versions": len(read.siblings)}
                if len(read.siblings) > 1:
                    # The client, not the store, resolves conflicts: write the merge back.
                    yield from client.write(key, product, deadline, context=read.version)
            self.history.append(
                Op(client.process, _OUTCOME[status], "browse", key, shown, env.now, read.error)
            )
            if cfg.think_ms:
                yield env.timeout(float(self.choices.exponential(cfg.think_ms)))
        if buys:
            yield from self._order(client, customer, int(picks[-1]), 0)
