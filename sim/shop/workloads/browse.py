"""Browsing: customers view products chosen by popularity (Zipf), think, and sometimes buy.

Each arriving customer reads `reads_per_customer` product pages, chosen by a
Zipf law with exponent `zipf_s` over the catalogue, with exponential think
time between, and buys the last one viewed with probability `buy_probability`.
A page view that returns siblings writes the resolver's merge back (the
client, not the store, resolves conflicts).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from sim.client import Proc, StoreClient
from sim.config.workload import WorkloadConfig, WorkloadSettings
from sim.shop.workloads.base import Arrivals, Shop, WorkloadSpec


class BrowseSettings(WorkloadSettings):
    """`[workload.browse]`: popularity, pages per visit, chance to buy, think time."""

    zipf_s: float = Field(1.1, ge=0.0)
    """Popularity exponent over products (0: uniform)."""
    reads_per_customer: int = Field(5, ge=0)
    """Product pages each customer views."""
    buy_probability: float = Field(0.1, ge=0.0, le=1.0)
    """Chance a customer buys the last product viewed."""
    think_ms: float = Field(200.0, ge=0.0)
    """Mean pause between page views."""


class Browse(Arrivals):
    """Customers who view Zipf-popular products and sometimes buy the last one."""

    def __init__(self, shop: Shop, config: WorkloadConfig, settings: BrowseSettings) -> None:
        super().__init__(shop, config, self._visit)
        self.settings = settings
        self.choices = shop.streams.get("customers")
        ranks = np.arange(1, config.products + 1, dtype=float)
        weights = ranks**-settings.zipf_s
        # Generator.choice(p=...) rebuilds this cumulative sum on every call; drawing
        # uniforms and searching it is what choice does, with the same draws.
        cdf = (weights / weights.sum()).cumsum()
        self._zipf_cdf = cdf / cdf[-1]

    def _visit(self, customer: int, client: StoreClient) -> None:
        s = self.settings
        uniforms = self.choices.random(max(s.reads_per_customer, 1))
        picks = self._zipf_cdf.searchsorted(uniforms, side="right").tolist()
        buys = bool(self.choices.random() < s.buy_probability)
        self.shop.env.process(self._browse(client, customer, picks, buys))

    def _browse(self, client: StoreClient, customer: int, picks: list[int], buys: bool) -> Proc:
        shop = self.shop
        env = shop.env
        timeout_ms = self.config.timeout_ms
        think_ms = self.settings.think_ms
        draw = self.choices.standard_exponential  # x think_ms: exponential(think_ms)'s very draw
        for i in range(self.settings.reads_per_customer):
            yield from shop.view(client, picks[i], timeout_ms)
            if think_ms:
                yield env.sleep(think_ms * draw())
        if buys:
            yield from shop.order(
                client, customer, picks[-1], 0, self.config.units_per_order, timeout_ms
            )


WORKLOAD = WorkloadSpec(
    name="browse",
    settings=BrowseSettings,
    build=Browse,
    summary="customers view Zipf-popular products and sometimes buy",
    order=20,
)
