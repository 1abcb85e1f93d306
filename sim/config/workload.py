"""The `[workload]` table: who shops and how they arrive, and each workload kind's own table.

The fields here are what every workload shares (the catalogue, the customers,
their arrivals and timeout, their home nodes); a workload kind declares its own
settings (sim/shop/workloads), kept in `[workload.<kind>]` and accepted flat
as in the first layout (`workload.zipf_s` is `workload.browse.zipf_s`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sim.config import plugin_tables
from sim.config.table import Ints, Table
from sim.plugins import WORKLOADS


class WorkloadSettings(Table):
    """A workload kind's own settings table, `[workload.<kind>]` (fields optional)."""


class WorkloadConfig(Table):
    """The `[workload]` table: kind, catalogue, customers, arrivals, timeout, home nodes."""

    PATH = "workload"

    kind: str = "flash-sale"
    products: int = Field(1, ge=1)
    stock: int = Field(10, ge=0)
    customers: int = Field(100, ge=1)
    units_per_order: int = Field(1, ge=1)
    arrival_mean_ms: float = Field(100.0, gt=0.0)
    timeout_ms: float = Field(1000.0, gt=0.0)
    home_nodes: Ints = ()
    kinds: dict[str, Any] = Field(default_factory=dict)
    """Each registered workload's settings by name (TOML: `[workload.<kind>]`)."""

    @property
    def settings(self) -> Any:
        """The settings table of this workload's kind."""
        return self.kinds[self.kind]

    @classmethod
    def own_keys(cls) -> tuple[str, ...]:
        """The fields of `[workload]` itself."""
        return tuple(k for k in cls.model_fields if k != "kinds")

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Own fields, then one table per registered workload."""
        return cls.own_keys() + WORKLOADS.names()

    @classmethod
    def canonical_key(cls, key: str) -> tuple[str, ...]:
        """Where a key of `[workload]` lives: itself, or `<kind>.<key>` for each kind with it."""
        return plugin_tables.canonical_key(key, cls.own_keys(), WORKLOADS)

    @classmethod
    def normalise(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Gather the kind tables and flat kind settings into `kinds`; check the kind."""
        if "kinds" in data:
            return data
        if "kind" in data:
            WORKLOADS.get(data["kind"], "workload.kind")
        out, kinds = plugin_tables.gather(data, "workload", cls.own_keys(), WORKLOADS)
        return {**out, "kinds": kinds}

    def to_dict(self) -> dict[str, Any]:
        """`[workload]` with each kind's table nested under its name (empty tables left out)."""
        out = {k: v for k, v in super().to_dict().items() if k != "kinds"}
        return {**out, **plugin_tables.dump(self.kinds)}
