"""The `[network]` table: latency (per message kind if wanted), loss, duplication, zones.

Message kinds are latency classes. The engine knows PBS's four (a write
request, its ack, a read request, its response); each mode declares the kinds
of its own protocol traffic (sim/modes), and `latency_by_kind` accepts every
kind some registered mode sends.

Zones are data centres: `zones` gives each node's zone, and a `cross_zone`
draw is added to every message between two zones and to a client's hop (each
way) to a node outside its home node's zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from sim.config.table import Table, as_tuple, shown
from sim.distributions import Constant, Distribution, Exponential, parse_distribution
from sim.errors import ScenarioError
from sim.plugins import MODES

CLIENT_HOP_MS = 0.5
"""The default client-node hop: a client in the same data centre as the node serving it."""

CORE_KINDS = ("write", "ack", "read", "response")
"""PBS's W, A, R, S: write request, write ack, read request, read response."""

ZoneIds = Annotated[tuple[Annotated[int, Field(ge=0)], ...], BeforeValidator(as_tuple)]
"""A zone id per node: integers >= 0 (a TOML list; stored as a tuple)."""


def message_kinds() -> tuple[str, ...]:
    """Every message kind: the core four, then each registered mode's own, without repeats."""
    kinds = dict.fromkeys(CORE_KINDS)
    for spec in MODES:
        kinds.update(dict.fromkeys(spec.message_kinds))
    return tuple(kinds)


def _distribution(value: Any, path: str) -> Distribution:
    if isinstance(value, Distribution) and not isinstance(value, Mapping):
        return value
    if not isinstance(value, Mapping):
        raise ScenarioError(
            f'{path}: must be a table like {{dist = "exponential", mean = 5.0}} '
            f"(got {shown(value)})"
        )
    return parse_distribution(value, path)


class NetworkConfig(Table):
    """The `[network]` table: latencies (per kind, client hop), loss, duplication, zones."""

    PATH = "network"

    latency: Any = Field(default_factory=lambda: Exponential(5.0))
    latency_by_kind: dict[str, Any] = Field(default_factory=dict)
    loss: float = Field(0.0, ge=0.0, lt=1.0)
    duplicate: float = Field(0.0, ge=0.0, lt=1.0)
    client_latency: Any = Field(default_factory=lambda: Constant(CLIENT_HOP_MS))
    """The client-node hop, one draw each way (a client is near its node, not on it)."""
    self_latency: bool = False
    """A node's message to itself pays the latency of its kind like any other (PBS's WARS
    model); false: a coordinator that is also a replica answers in-process at no cost."""
    zones: ZoneIds = ()
    """Each node's zone (data centre), by node id; empty: one zone. Its length is
    checked against cluster.nodes by the Scenario."""
    cross_zone: Any = None
    """Latency added to a message between two zones and to a client's hop to a node
    outside its zone, one draw each way (None: nothing added)."""

    @classmethod
    def normalise(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Tables become distributions; per-kind latencies must name a known message kind."""
        for key in ("latency", "client_latency"):
            if key in data:
                data[key] = _distribution(data[key], f"network.{key}")
        if data.get("cross_zone") is not None:
            data["cross_zone"] = _distribution(data["cross_zone"], "network.cross_zone")
        if "latency_by_kind" in data:
            table = data["latency_by_kind"]
            if not isinstance(table, Mapping):
                raise ScenarioError(
                    f"network.latency_by_kind: must be a table (got {shown(table)})"
                )
            kinds = message_kinds()
            for kind in table:
                if kind not in kinds:
                    raise ScenarioError(
                        f"network.latency_by_kind: unknown key {kind!r} "
                        f"(allowed: {', '.join(kinds)})"
                    )
            data["latency_by_kind"] = {
                kind: _distribution(spec, f"network.latency_by_kind.{kind}")
                for kind, spec in sorted(table.items())
            }
        return data

    def latency_for(self, kind: str) -> Distribution:
        """The latency distribution of messages of `kind`."""
        return self.latency_by_kind.get(kind, self.latency)

    @property
    def zoned(self) -> bool:
        """Whether zones add latency: a cross_zone distribution and two zones or more."""
        return self.cross_zone is not None and len(set(self.zones)) > 1

    def to_dict(self) -> dict[str, Any]:
        """`[network]` as TOML-shaped data; `latency_by_kind` and the zone keys only when given."""
        out = super().to_dict()
        for key in ("latency_by_kind", "zones", "cross_zone"):
            if not out[key]:
                del out[key]
        return out
