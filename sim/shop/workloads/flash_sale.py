"""The flash sale: customers arrive and each tries once to buy a product chosen uniformly.

The race for the last units is the point: every buyer writes the same few
product rows at once.
"""

from __future__ import annotations

from sim.client import StoreClient
from sim.config.workload import WorkloadConfig, WorkloadSettings
from sim.shop.workloads.base import Arrivals, Shop, WorkloadSpec


class FlashSaleSettings(WorkloadSettings):
    """A flash sale has no settings of its own: `[workload]` says who buys and how much."""


class FlashSale(Arrivals):
    """Each arriving customer buys `units_per_order` units of a uniformly chosen product."""

    def __init__(self, shop: Shop, config: WorkloadConfig, settings: FlashSaleSettings) -> None:
        super().__init__(shop, config, self._buy)
        self.choices = shop.streams.get("customers")

    def _buy(self, customer: int, client: StoreClient) -> None:
        cfg = self.config
        product = int(self.choices.integers(cfg.products))
        self.shop.env.process(
            self.shop.order(client, customer, product, 0, cfg.units_per_order, cfg.timeout_ms)
        )


WORKLOAD = WorkloadSpec(
    name="flash-sale",
    settings=FlashSaleSettings,
    build=FlashSale,
    summary="customers race to buy one of few products",
    order=10,
)
