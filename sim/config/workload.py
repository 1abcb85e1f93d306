"""The `[workload]` table: who shops and how they arrive, and each workload kind's own table.

The fields here are what every workload shares (the catalogue, the customers,
their arrivals and timeout, their home nodes); a workload kind declares its own
settings (sim/shop/workloads), kept in `[workload.<kind>]` and accepted flat
as in the first layout (`workload.zipf_s` is `workload.browse.zipf_s`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, model_validator

from sim.config.limits import MAX_CUSTOMERS, MAX_PRODUCTS, at_most, check_requests
from sim.config.plugin_tables import WithPluginTables
from sim.config.shop import SHOP_KEYS_ELSEWHERE
from sim.config.table import Ints, Table
from sim.plugins import WORKLOADS


class WorkloadSettings(Table):
    """A workload kind's own settings table, `[workload.<kind>]` (fields optional)."""


class WorkloadConfig(WithPluginTables):
    """The `[workload]` table: kind, catalogue, customers, arrivals, timeout, homes, routing."""

    PATH = "workload"
    REGISTRY = WORKLOADS
    TABLES = "kinds"
    SELECTOR = "kind"
    MOVED: ClassVar[Mapping[str, str]] = {k: f"shop.{k}" for k in SHOP_KEYS_ELSEWHERE["workload"]}

    kind: str = "flash-sale"
    products: int = Field(1, ge=1)
    stock: int = Field(10, ge=0)
    customers: int = Field(100, ge=1)
    units_per_order: int = Field(1, ge=1)
    arrival_mean_ms: float = Field(100.0, gt=0.0)
    timeout_ms: float = Field(1000.0, gt=0.0)
    home_nodes: Ints = ()
    routing: Literal["home", "side", "any"] = "any"
    """Which nodes serve a client: its home node only, its side of a cut, or any live
    node behind a load balancer (sim/routing.py)."""
    kinds: dict[str, Any] = Field(default_factory=dict)
    """Each registered workload's settings by name (TOML: `[workload.<kind>]`)."""

    @classmethod
    def normalise(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Check the kind first (a clearer error than its table's), then gather the tables."""
        if "kind" in data:
            WORKLOADS.get(data["kind"], "workload.kind")
        return super().normalise(data)

    @model_validator(mode="after")
    def _check(self) -> Self:
        """The catalogue, the customers and their requests fit in one run (limits.py)."""
        at_most(self.products, MAX_PRODUCTS, "workload.products", "the most products a run holds")
        at_most(
            self.customers, MAX_CUSTOMERS, "workload.customers", "the most customers a run holds"
        )
        check_requests(self.customers, self.kind, self.settings)
        return self
