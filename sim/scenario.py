"""Scenarios: a run as data (cluster, network, shop, faults, workload), from TOML or Python.

A `Scenario` is a frozen table (sim/config/table.py): every field is validated
when it is made, in Python or from TOML alike, and a bad value raises
`ScenarioError` naming its dotted path and what is allowed, e.g.
`cluster.read_quorum: must be <= cluster.replication (got 4 > 3)`. Unknown
keys are errors. Modes, fault kinds and workloads are plug-ins: the names and
the tables they accept come from their registries (sim/plugins.py).

Overrides use dotted paths, old or new (`cluster.mode=strong`,
`cluster.read_quorum=1`, `faults.0.end_ms=20000`), applied to the TOML form;
the result is validated again. `to_dict` gives the TOML form back in the
second layout (docs/design.md, "Configuration").
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import Field, model_validator

from sim.config.cluster import ClusterConfig, ModeSettings
from sim.config.limits import (
    MAX_FAULT_WINDOWS,
    MAX_TIME_MS,
    check_nesting,
    check_period,
    check_ticks,
    check_time,
    timers_of,
    zero_allowed,
)
from sim.config.network import NetworkConfig
from sim.config.paths import canonical, parse_value, renamed, set_dotted, set_override
from sim.config.shop import SHOP_KEYS_ELSEWHERE, Resolver, ShopConfig
from sim.config.table import Table, shown
from sim.config.workload import WorkloadConfig, WorkloadSettings
from sim.errors import ScenarioError
from sim.faults.base import Fault, node_id, parse_fault
from sim.plugins import MODES, WORKLOADS

__all__ = [
    "ClusterConfig",
    "Fault",
    "ModeSettings",
    "NetworkConfig",
    "Resolver",
    "Scenario",
    "ShopConfig",
    "WorkloadConfig",
    "WorkloadSettings",
    "load_scenario",
    "parse_value",
    "set_dotted",
]


class Scenario(Table):
    """A whole run: cluster, network, shop policy, the nemesis' schedule, workload."""

    seed: int = Field(0, ge=0)
    duration_ms: float = Field(60000.0, gt=0.0)
    settle_ms: float = Field(30000.0, ge=0.0)
    name: str = ""
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    shop: ShopConfig = Field(default_factory=ShopConfig)
    faults: tuple[Fault, ...] = ()
    workload: WorkloadConfig = Field(default_factory=WorkloadConfig)

    # ----------------------------------------------------------------- validation

    @classmethod
    def normalise(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Shop keys given in other tables move to `[shop]`; fault tables become Fault objects."""
        for section, keys in SHOP_KEYS_ELSEWHERE.items():
            table = data.get(section)
            if isinstance(table, Mapping) and any(k in table for k in keys):
                table = dict(table)
                shop = data.get("shop", {})
                shop = shop.to_dict() if isinstance(shop, ShopConfig) else dict(shop)
                for key in keys:
                    if key in table:
                        if key in shop:
                            raise ScenarioError(
                                f"{section}.{key}: given twice (also as shop.{key})"
                            )
                        shop[key] = table.pop(key)
                data = {**data, section: table, "shop": shop}
        data = quiet_defaults(data)
        if "faults" in data:
            faults = data["faults"]
            if not isinstance(faults, list | tuple):
                raise ScenarioError(f"faults: must be a list of tables (got {shown(faults)})")
            data = {
                **data,
                "faults": tuple(parse_fault(f, f"faults[{i}]") for i, f in enumerate(faults)),
            }
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (
            self.shop.orders == "2pc"
            and not MODES.get(self.cluster.mode, "cluster.mode").atomic_commit
        ):
            raise ScenarioError(
                f"shop.orders: '2pc' needs a mode that commits across shards atomically "
                f"(strong); {self.cluster.mode} mode has no consensus group to log the "
                f"decision in (allowed here: saga, none)"
            )
        check_time(self.duration_ms, "duration_ms")
        check_time(self.settle_ms, "settle_ms")
        nodes = self.cluster.nodes
        for i, fault in enumerate(self.faults):
            fault.check(nodes, f"faults[{i}]")
        self._check_size()
        for i, home in enumerate(self.workload.home_nodes):
            node_id(home, f"workload.home_nodes[{i}]", nodes)
        zones = self.network.zones
        if zones and len(zones) != nodes:
            raise ScenarioError(
                f"network.zones: must list one zone per node ({nodes}) or be empty "
                f"(got {len(zones)})"
            )
        return self

    def _check_size(self) -> None:
        """The run ends within MAX_TIME_MS and its timers and flapping faults fit (limits.py)."""
        end = self.end_ms
        if end > MAX_TIME_MS:
            raise ScenarioError(
                f"settle_ms: the run would end at {end:g} ms (the last of duration_ms and the "
                f"faults' end_ms, plus settle_ms), past the longest simulated time a run holds "
                f"({MAX_TIME_MS:,.0f} ms, 11.6 days)"
            )
        for i, fault in enumerate(self.faults):
            windows = fault.window_count(end)
            if windows > MAX_FAULT_WINDOWS:
                raise ScenarioError(
                    f"faults[{i}].period_ms: the fault would flap {windows:.3g} times (once "
                    f"every 2 x period_ms from start_ms to end_ms, or to the run's end), more "
                    f"than a fault holds ({MAX_FAULT_WINDOWS:,})"
                )
        mode, settings = self.cluster.mode, self.cluster.settings
        for name, every_node in timers_of(mode, settings).items():
            period, path = getattr(settings, name), f"cluster.{mode}.{name}"
            check_period(period, path, off=zero_allowed(settings, name))
            check_ticks(period, self.cluster.nodes if every_node else 1, end, path)

    # ----------------------------------------------------------------- derived

    @property
    def last_heal_ms(self) -> float | None:
        """When the last fault that cuts or crashes heals (None: there is none, or one never heals).

        Clock skew is not a heal: it changes no link (Fault.disrupts).
        """
        faults = [f for f in self.faults if f.disrupts]
        if not faults or any(not f.heals for f in faults):
            return None
        return max(f.end_ms for f in faults if f.end_ms is not None)

    @property
    def end_ms(self) -> float:
        """When the simulation stops: traffic ends, the last fault heals, then settle_ms."""
        ends = [self.duration_ms] + [f.end_ms for f in self.faults if f.end_ms is not None]
        return max(ends) + self.settle_ms

    # ----------------------------------------------------------------- forms

    def to_dict(self) -> dict[str, Any]:
        """The TOML-shaped dict (JSON-ready, second layout); from_dict inverts it."""
        out = super().to_dict()
        if not self.name:
            del out["name"]
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Scenario:
        """Build and validate a scenario from its TOML-shaped dict (either layout)."""
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"scenario: must be a table (got {shown(raw)})")
        data, aliases = canonical(raw)
        try:
            return cls.parse(data)
        except ScenarioError as exc:
            raise renamed(exc, aliases) from None

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A copy with dotted-path overrides applied (`{"cluster.mode": "strong"}`), validated."""
        if not overrides:
            return self
        raw = self.to_dict()
        aliases: dict[str, str] = {}
        for path, value in overrides.items():
            set_override(raw, path, value, aliases)
        try:
            return Scenario.parse(raw)
        except ScenarioError as exc:
            raise renamed(exc, aliases) from None


def quiet_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """For a workload whose reads must not disturb the store (the probe), each mode's QUIET
    settings (no read repair, no anti-entropy) where the scenario does not give them."""
    workload, cluster = data.get("workload", {}), data.get("cluster", {})
    if not isinstance(workload, Mapping) or not isinstance(cluster, Mapping):
        return data  # a WorkloadConfig already has its defaults; a non-table is refused later
    kind = workload.get("kind", WorkloadConfig.model_fields["kind"].default)
    if not isinstance(kind, str) or kind not in WORKLOADS or not WORKLOADS.get(kind, "").quiet:
        return data
    cluster = dict(cluster)
    for name, spec in MODES.items():
        table = cluster.get(name, {})
        if not isinstance(table, Mapping):
            continue
        # a setting counts as given nested (`[cluster.eventual]`) or flat (the first layout)
        quiet = spec.settings.QUIET
        missing = {k: v for k, v in quiet.items() if k not in table and k not in cluster}
        if missing:
            cluster[name] = {**table, **missing}
    return {**data, "cluster": cluster}


def load_scenario(
    path: str | Path, overrides: Iterable[str] = (), seed: int | None = None
) -> Scenario:
    """Read a TOML scenario, apply `key=value` overrides and an optional seed, validate.

    Raises:
        ScenarioError: the file is missing or malformed, or a field is invalid.
    """
    path = Path(path)
    raw = read_toml(path)
    check_nesting(raw, str(path))
    data, aliases = canonical(raw)
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(f"--set {item}: expected dotted.key=value")
        key, _, text = item.partition("=")
        key = key.strip()
        value = parse_value(text.strip(), key)
        check_nesting(value, key)
        set_override(data, key, value, aliases)
    if seed is not None:
        data["seed"] = seed
    try:
        return Scenario.parse(data)
    except ScenarioError as exc:
        raise renamed(exc, aliases) from None


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML table in a file (UTF-8, as TOML requires).

    Raises:
        ScenarioError: the file is missing, unreadable, not UTF-8 or not TOML (one line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory, not a scenario file") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{path}: not UTF-8 text (a bad byte at offset {exc.start}); TOML files are UTF-8"
        ) from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise ScenarioError(f"{path}: not valid TOML (nested too deep to read)") from None
    except ValueError:  # an integer too long to convert (Python's digit limit)
        raise ScenarioError(
            f"{path}: not valid TOML (an integer of more than 4300 digits, too long to read)"
        ) from None
