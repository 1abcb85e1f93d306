"""Scenarios: frozen dataclasses mirroring DESIGN.md's TOML, loading, validation, overrides.

A `Scenario` is built in Python or loaded from TOML with `load_scenario`. Every
field is validated when the object is made (Python or TOML alike); a bad value
raises `ScenarioError` naming the dotted path and what is allowed, e.g.
`cluster.read_quorum: must be <= cluster.replication (got 4 > 3)`.
Unknown keys are errors. Overrides use dotted paths (`cluster.mode=strong`,
`faults.0.end_ms=20000`) on the dict form, then the result is validated again.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.distributions import Distribution, Exponential, parse_distribution
from sim.errors import ScenarioError

MODES = ("strong", "weak", "eventual")
CONCURRENCY = ("occ", "lock")
RESOLVERS = ("merge-orders", "lww")
LAYOUTS = ("relational", "nosql")
WORKLOADS = ("flash-sale", "browse")
FAULT_KINDS = ("partition", "one-way", "isolate", "bridge", "flapping", "crash", "clock-skew")
# Message kinds a latency can be given for: PBS's four (write request, write ack,
# read request, read response) and the protocols' own traffic.
MESSAGE_KINDS = (
    "write",
    "ack",
    "read",
    "response",
    "forward",
    "handoff",
    "sync",
    "vote",
    "append",
)

Resolver = Callable[[Sequence[Any]], Any]


# --------------------------------------------------------------------------- checks


def _fail(path: str, message: str) -> ScenarioError:
    return ScenarioError(f"{path}: {message}")


def _int(value: Any, path: str, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"must be an integer (got {value!r})")
    if low is not None and value < low:
        raise _fail(path, f"must be >= {low} (got {value})")
    if high is not None and value > high:
        raise _fail(path, f"must be <= {high} (got {value})")
    return value


def _num(value: Any, path: str, low: float | None = None, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"must be a number (got {value!r})")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise _fail(path, f"must be finite (got {value})")
    if positive and value <= 0:
        raise _fail(path, f"must be > 0 (got {value})")
    if low is not None and value < low:
        raise _fail(path, f"must be >= {low} (got {value})")
    return value


def _prob(value: Any, path: str) -> float:
    value = _num(value, path, low=0.0)
    if value >= 1.0:
        raise _fail(path, f"must be in [0, 1) (got {value})")
    return value


def _choice(value: Any, path: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise _fail(path, f"unknown {value!r} (allowed: {', '.join(allowed)})")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, f"must be true or false (got {value!r})")
    return value


def _node(value: Any, path: str, nodes: int) -> int:
    value = _int(value, path, low=0)
    if value >= nodes:
        raise _fail(path, f"node {value} does not exist (cluster.nodes = {nodes}: 0..{nodes - 1})")
    return value


def _node_list(value: Any, path: str, nodes: int) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise _fail(path, f"must be a non-empty list of node ids (got {value!r})")
    out = tuple(_node(v, f"{path}[{i}]", nodes) for i, v in enumerate(value))
    if len(set(out)) != len(out):
        raise _fail(path, f"lists a node twice (got {list(out)})")
    return out


def _check_keys(table: Mapping[str, Any], path: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    for key in table:
        if key not in allowed:
            where = f"{path}: unknown key" if path else "unknown key"
            raise ScenarioError(f"{where} {key!r} (allowed: {', '.join(allowed)})")


def _table(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"must be a table (got {value!r})")
    return value


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class ClusterConfig:
    """The `[cluster]` table: nodes, replication, quorums, mode and its mechanisms."""

    nodes: int = 5
    replication: int = 3
    read_quorum: int = 2
    write_quorum: int = 2
    mode: str = "eventual"
    concurrency: str = "occ"
    resolver: str | Resolver = "merge-orders"
    layout: str = "relational"
    sloppy_quorum: bool = True
    anti_entropy_ms: float = 1000.0
    clock_skew_ms: tuple[float, ...] = ()
    virtual_nodes: int = 64
    durable: bool = True
    max_retries: int = 5
    backoff_ms: float = 10.0
    lease_ms: float = 500.0
    vclock_limit: int = 10
    handoff_ms: float = 500.0
    peer_timeout_ms: float = 50.0
    election_timeout_ms: tuple[float, float] = (150.0, 300.0)
    heartbeat_ms: float = 50.0

    def __post_init__(self) -> None:
        p = "cluster"
        _int(self.nodes, f"{p}.nodes", low=1)
        _int(self.replication, f"{p}.replication", low=1)
        if self.replication > self.nodes:
            raise _fail(
                f"{p}.replication",
                f"must be <= cluster.nodes (got {self.replication} > {self.nodes})",
            )
        for name in ("read_quorum", "write_quorum"):
            value = _int(getattr(self, name), f"{p}.{name}", low=1)
            if value > self.replication:
                raise _fail(
                    f"{p}.{name}",
                    f"must be <= cluster.replication (got {value} > {self.replication})",
                )
        _choice(self.mode, f"{p}.mode", MODES)
        _choice(self.concurrency, f"{p}.concurrency", CONCURRENCY)
        if not callable(self.resolver):
            _choice(self.resolver, f"{p}.resolver", RESOLVERS)
        _choice(self.layout, f"{p}.layout", LAYOUTS)
        _bool(self.sloppy_quorum, f"{p}.sloppy_quorum")
        _bool(self.durable, f"{p}.durable")
        _num(self.anti_entropy_ms, f"{p}.anti_entropy_ms", low=0.0)
        skew = self.clock_skew_ms
        if not isinstance(skew, tuple | list):
            raise _fail(f"{p}.clock_skew_ms", f"must be a list of numbers (got {skew!r})")
        if skew and len(skew) != self.nodes:
            raise _fail(
                f"{p}.clock_skew_ms",
                f"must list one value per node ({self.nodes}) or be empty (got {len(skew)})",
            )
        for i, s in enumerate(skew):
            _num(s, f"{p}.clock_skew_ms[{i}]")
        _int(self.virtual_nodes, f"{p}.virtual_nodes", low=1)
        _int(self.max_retries, f"{p}.max_retries", low=0)
        _num(self.backoff_ms, f"{p}.backoff_ms", low=0.0)
        _num(self.lease_ms, f"{p}.lease_ms", positive=True)
        _int(self.vclock_limit, f"{p}.vclock_limit", low=1)
        _num(self.handoff_ms, f"{p}.handoff_ms", positive=True)
        _num(self.peer_timeout_ms, f"{p}.peer_timeout_ms", positive=True)
        et = self.election_timeout_ms
        if not isinstance(et, tuple | list) or len(et) != 2:
            raise _fail(f"{p}.election_timeout_ms", f"must be [low, high] (got {et!r})")
        low = _num(et[0], f"{p}.election_timeout_ms[0]", positive=True)
        high = _num(et[1], f"{p}.election_timeout_ms[1]", positive=True)
        if high < low:
            raise _fail(f"{p}.election_timeout_ms", f"must have low <= high (got {list(et)})")
        hb = _num(self.heartbeat_ms, f"{p}.heartbeat_ms", positive=True)
        if hb >= low:
            raise _fail(
                f"{p}.heartbeat_ms",
                f"must be < cluster.election_timeout_ms[0] (got {hb} >= {low})",
            )

    def skew_of(self, node: int) -> float:
        """The static clock skew of `node` in ms (0 when none is configured)."""
        return float(self.clock_skew_ms[node]) if self.clock_skew_ms else 0.0

    @property
    def resolver_name(self) -> str:
        """The resolver as a string: its name, or the function's qualified name."""
        if callable(self.resolver):
            return getattr(self.resolver, "__qualname__", repr(self.resolver))
        return self.resolver


@dataclass(frozen=True)
class NetworkConfig:
    """The `[network]` table: latency (per kind if wanted), loss and duplication."""

    latency: Distribution = field(default_factory=lambda: Exponential(5.0))
    latency_by_kind: Mapping[str, Distribution] = field(default_factory=dict)
    loss: float = 0.0
    duplicate: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.latency, Distribution):
            raise _fail("network.latency", f"must be a distribution (got {self.latency!r})")
        for kind, dist in self.latency_by_kind.items():
            _choice(kind, "network.latency_by_kind", MESSAGE_KINDS)
            if not isinstance(dist, Distribution):
                raise _fail(f"network.latency_by_kind.{kind}", "must be a distribution")
        _prob(self.loss, "network.loss")
        _prob(self.duplicate, "network.duplicate")

    def latency_for(self, kind: str) -> Distribution:
        """The latency distribution of messages of `kind`."""
        return self.latency_by_kind.get(kind, self.latency)


@dataclass(frozen=True)
class FaultSpec:
    """One entry of `[[faults]]`: what breaks, when, and between whom.

    `end_ms` None means the fault never heals. For `partition` and `flapping`,
    nodes not listed in any group form one more group together; for `bridge`,
    the unlisted nodes are the bridge, reaching both groups.
    """

    kind: str
    start_ms: float
    end_ms: float | None = None
    groups: tuple[tuple[int, ...], ...] = ()
    from_nodes: tuple[int, ...] = ()
    to_nodes: tuple[int, ...] = ()
    node: int | None = None
    skew_ms: float = 0.0
    period_ms: float = 0.0

    @property
    def heals(self) -> bool:
        """Whether the fault ends within the run."""
        return self.end_ms is not None


@dataclass(frozen=True)
class WorkloadConfig:
    """The `[workload]` table: the shop's products, customers and how they arrive."""

    kind: str = "flash-sale"
    products: int = 1
    stock: int = 10
    customers: int = 100
    units_per_order: int = 1
    arrival_mean_ms: float = 100.0
    timeout_ms: float = 1000.0
    home_nodes: tuple[int, ...] = ()
    zipf_s: float = 1.1
    reads_per_customer: int = 5
    buy_probability: float = 0.1
    think_ms: float = 200.0

    def __post_init__(self) -> None:
        p = "workload"
        _choice(self.kind, f"{p}.kind", WORKLOADS)
        _int(self.products, f"{p}.products", low=1)
        _int(self.stock, f"{p}.stock", low=0)
        _int(self.customers, f"{p}.customers", low=1)
        _int(self.units_per_order, f"{p}.units_per_order", low=1)
        _num(self.arrival_mean_ms, f"{p}.arrival_mean_ms", positive=True)
        _num(self.timeout_ms, f"{p}.timeout_ms", positive=True)
        _num(self.zipf_s, f"{p}.zipf_s", low=0.0)
        _int(self.reads_per_customer, f"{p}.reads_per_customer", low=0)
        prob = _num(self.buy_probability, f"{p}.buy_probability", low=0.0)
        if prob > 1:
            raise _fail(f"{p}.buy_probability", f"must be in [0, 1] (got {prob})")
        _num(self.think_ms, f"{p}.think_ms", low=0.0)


@dataclass(frozen=True)
class Scenario:
    """A whole run: cluster, network, the nemesis' schedule, the workload, seed and times."""

    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    faults: tuple[FaultSpec, ...] = ()
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    seed: int = 0
    duration_ms: float = 60000.0
    settle_ms: float = 30000.0
    name: str = ""

    def __post_init__(self) -> None:
        _int(self.seed, "seed", low=0)
        _num(self.duration_ms, "duration_ms", positive=True)
        _num(self.settle_ms, "settle_ms", low=0.0)
        nodes = self.cluster.nodes
        for i, fault in enumerate(self.faults):
            _validate_fault(fault, f"faults[{i}]", nodes)
        for i, home in enumerate(self.workload.home_nodes):
            _node(home, f"workload.home_nodes[{i}]", nodes)

    # ----------------------------------------------------------------- derived

    @property
    def last_heal_ms(self) -> float | None:
        """When the last fault heals (None if there are no faults or one never heals)."""
        if not self.faults or any(not f.heals for f in self.faults):
            return None
        return max(f.end_ms for f in self.faults if f.end_ms is not None)

    @property
    def end_ms(self) -> float:
        """When the simulation stops: traffic ends, the last fault heals, then settle_ms."""
        ends = [self.duration_ms] + [f.end_ms for f in self.faults if f.end_ms is not None]
        return max(ends) + self.settle_ms

    # ----------------------------------------------------------------- forms

    def to_dict(self) -> dict[str, Any]:
        """The TOML-shaped dict of this scenario (JSON-ready); from_dict inverts it."""
        c = self.cluster
        cluster = {f.name: getattr(c, f.name) for f in dataclasses.fields(c)}
        cluster["resolver"] = c.resolver_name
        cluster["clock_skew_ms"] = list(c.clock_skew_ms)
        cluster["election_timeout_ms"] = list(c.election_timeout_ms)
        network: dict[str, Any] = {
            "latency": self.network.latency.to_dict(),
            "loss": self.network.loss,
            "duplicate": self.network.duplicate,
        }
        if self.network.latency_by_kind:
            network["latency_by_kind"] = {
                k: d.to_dict() for k, d in sorted(self.network.latency_by_kind.items())
            }
        w = self.workload
        workload = {f.name: getattr(w, f.name) for f in dataclasses.fields(w)}
        workload["home_nodes"] = list(w.home_nodes)
        out: dict[str, Any] = {
            "seed": self.seed,
            "duration_ms": self.duration_ms,
            "settle_ms": self.settle_ms,
        }
        if self.name:
            out["name"] = self.name
        out["cluster"] = cluster
        out["network"] = network
        out["faults"] = [_fault_to_dict(f) for f in self.faults]
        out["workload"] = workload
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Scenario:
        """Build and validate a scenario from its TOML-shaped dict."""
        raw = _table(raw, "scenario")
        _check_keys(
            raw,
            "",
            (
                "seed",
                "duration_ms",
                "settle_ms",
                "name",
                "cluster",
                "network",
                "faults",
                "workload",
            ),
        )
        cluster = _cluster_from(raw.get("cluster", {}))
        network = _network_from(raw.get("network", {}))
        faults_raw = raw.get("faults", [])
        if not isinstance(faults_raw, list):
            raise _fail("faults", f"must be a list of tables (got {faults_raw!r})")
        faults = tuple(_fault_from(f, f"faults[{i}]") for i, f in enumerate(faults_raw))
        workload = _workload_from(raw.get("workload", {}))
        name = raw.get("name", "")
        if not isinstance(name, str):
            raise _fail("name", f"must be a string (got {name!r})")
        return cls(
            cluster=cluster,
            network=network,
            faults=faults,
            workload=workload,
            seed=raw.get("seed", 0),
            duration_ms=raw.get("duration_ms", 60000.0),
            settle_ms=raw.get("settle_ms", 30000.0),
            name=name,
        )

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A copy with dotted-path overrides applied (`{"cluster.mode": "strong"}`), validated."""
        raw = self.to_dict()
        for path, value in overrides.items():
            set_dotted(raw, path, value)
        if callable(self.cluster.resolver) and "cluster.resolver" not in overrides:
            raw["cluster"]["resolver"] = self.cluster.resolver
        return Scenario.from_dict(raw)


# --------------------------------------------------------------------------- parsing


def _cluster_from(raw: Any) -> ClusterConfig:
    raw = dict(_table(raw, "cluster"))
    _check_keys(raw, "cluster", [f.name for f in dataclasses.fields(ClusterConfig)])
    for key in ("clock_skew_ms", "election_timeout_ms"):
        if isinstance(raw.get(key), list):
            raw[key] = tuple(raw[key])
    for key in (
        "anti_entropy_ms",
        "backoff_ms",
        "lease_ms",
        "handoff_ms",
        "heartbeat_ms",
        "peer_timeout_ms",
    ):
        if key in raw:
            raw[key] = _num(raw[key], f"cluster.{key}")
    return ClusterConfig(**raw)


def _network_from(raw: Any) -> NetworkConfig:
    raw = _table(raw, "network")
    _check_keys(raw, "network", ("latency", "latency_by_kind", "loss", "duplicate"))
    kwargs: dict[str, Any] = {}
    if "latency" in raw:
        kwargs["latency"] = parse_distribution(
            _table(raw["latency"], "network.latency"), "network.latency"
        )
    if "latency_by_kind" in raw:
        table = _table(raw["latency_by_kind"], "network.latency_by_kind")
        _check_keys(table, "network.latency_by_kind", MESSAGE_KINDS)
        kwargs["latency_by_kind"] = {
            kind: parse_distribution(
                _table(spec, f"network.latency_by_kind.{kind}"), f"network.latency_by_kind.{kind}"
            )
            for kind, spec in table.items()
        }
    for key in ("loss", "duplicate"):
        if key in raw:
            kwargs[key] = _num(raw[key], f"network.{key}")
    return NetworkConfig(**kwargs)


_FAULT_KEYS: dict[str, tuple[str, ...]] = {
    "partition": ("groups",),
    "flapping": ("groups", "period_ms"),
    "bridge": ("groups",),
    "one-way": ("from", "to"),
    "isolate": ("node",),
    "crash": ("node",),
    "clock-skew": ("node", "skew_ms"),
}


def _fault_from(raw: Any, path: str) -> FaultSpec:
    raw = _table(raw, path)
    if "kind" not in raw:
        raise _fail(f"{path}.kind", f"missing (allowed: {', '.join(FAULT_KINDS)})")
    kind = _choice(raw["kind"], f"{path}.kind", FAULT_KINDS)
    own = _FAULT_KEYS[kind]
    _check_keys(raw, path, ("kind", "start_ms", "end_ms", *own))
    for key in own:
        if key not in raw:
            raise _fail(f"{path}.{key}", f"missing (a {kind} fault needs {', '.join(own)})")
    if "start_ms" not in raw:
        raise _fail(f"{path}.start_ms", "missing")
    groups = raw.get("groups", ())
    if not isinstance(groups, list | tuple):
        raise _fail(f"{path}.groups", f"must be a list of lists of node ids (got {groups!r})")
    for i, g in enumerate(groups):
        if not isinstance(g, list | tuple):
            raise _fail(f"{path}.groups[{i}]", f"must be a list of node ids (got {g!r})")
    end = raw.get("end_ms")
    return FaultSpec(
        kind=kind,
        start_ms=_num(raw["start_ms"], f"{path}.start_ms", low=0.0),
        end_ms=None if end is None else _num(end, f"{path}.end_ms"),
        groups=tuple(tuple(g) for g in groups),
        from_nodes=tuple(raw.get("from", ())),
        to_nodes=tuple(raw.get("to", ())),
        node=raw.get("node"),
        skew_ms=_num(raw.get("skew_ms", 0.0), f"{path}.skew_ms"),
        period_ms=_num(raw.get("period_ms", 0.0), f"{path}.period_ms", low=0.0),
    )


def _validate_fault(fault: FaultSpec, path: str, nodes: int) -> None:
    _choice(fault.kind, f"{path}.kind", FAULT_KINDS)
    _num(fault.start_ms, f"{path}.start_ms", low=0.0)
    if fault.end_ms is not None:
        _num(fault.end_ms, f"{path}.end_ms")
        if fault.end_ms <= fault.start_ms:
            raise _fail(
                f"{path}.end_ms",
                f"must be > {path}.start_ms (got {fault.end_ms} <= {fault.start_ms})",
            )
    kind = fault.kind
    if kind in ("partition", "flapping", "bridge"):
        if not fault.groups:
            raise _fail(f"{path}.groups", "must list at least one group of node ids")
        seen: dict[int, int] = {}
        for i, group in enumerate(fault.groups):
            for node in _node_list(list(group), f"{path}.groups[{i}]", nodes):
                if node in seen:
                    raise _fail(
                        f"{path}.groups",
                        f"groups overlap: node {node} is in groups {seen[node]} and {i}",
                    )
                seen[node] = i
        rest = nodes - len(seen)
        if kind == "bridge":
            if len(fault.groups) != 2:
                raise _fail(
                    f"{path}.groups", f"a bridge needs exactly 2 groups (got {len(fault.groups)})"
                )
            if rest == 0:
                raise _fail(
                    f"{path}.groups", "a bridge needs at least one unlisted node to be the bridge"
                )
        elif len(fault.groups) + (1 if rest else 0) < 2:
            raise _fail(
                f"{path}.groups",
                "a partition needs at least two sides (list the "
                "groups, unlisted nodes form one more)",
            )
        if kind == "flapping":
            _num(fault.period_ms, f"{path}.period_ms", positive=True)
    elif kind == "one-way":
        src = _node_list(list(fault.from_nodes), f"{path}.from", nodes)
        dst = _node_list(list(fault.to_nodes), f"{path}.to", nodes)
        both = sorted(set(src) & set(dst))
        if both:
            raise _fail(f"{path}.to", f"overlaps {path}.from (nodes {both})")
    else:
        if fault.node is None:
            raise _fail(f"{path}.node", "missing")
        _node(fault.node, f"{path}.node", nodes)


def _fault_to_dict(f: FaultSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": f.kind, "start_ms": f.start_ms}
    if f.end_ms is not None:
        out["end_ms"] = f.end_ms
    for key in _FAULT_KEYS[f.kind]:
        value = {
            "groups": [list(g) for g in f.groups],
            "from": list(f.from_nodes),
            "to": list(f.to_nodes),
            "node": f.node,
            "skew_ms": f.skew_ms,
            "period_ms": f.period_ms,
        }[key]
        out[key] = value
    return out


def _workload_from(raw: Any) -> WorkloadConfig:
    raw = dict(_table(raw, "workload"))
    _check_keys(raw, "workload", [f.name for f in dataclasses.fields(WorkloadConfig)])
    if isinstance(raw.get("home_nodes"), list):
        raw["home_nodes"] = tuple(raw["home_nodes"])
    for key in ("arrival_mean_ms", "timeout_ms", "zipf_s", "buy_probability", "think_ms"):
        if key in raw:
            raw[key] = _num(raw[key], f"workload.{key}")
    return WorkloadConfig(**raw)


# --------------------------------------------------------------------------- files


def parse_value(text: str) -> Any:
    """A command-line override value: a TOML literal (`5`, `true`, `[1, 2]`), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def set_dotted(raw: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at a dotted path in a nested dict/list (`faults.0.end_ms`)."""
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise ScenarioError(f"--set {path}: not a dotted path (e.g. cluster.mode=strong)")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            node = node[_index(part, where, len(node))]
        elif isinstance(node, dict):
            if part not in node:
                if part in ("cluster", "network", "workload") or i > 0:
                    node[part] = {}
                else:
                    raise ScenarioError(
                        f"{where}: unknown section (allowed: cluster, network, faults, workload)"
                    )
            node = node[part]
        else:
            raise ScenarioError(f"{where}: is a value, not a table")
    last = parts[-1]
    if isinstance(node, list):
        node[_index(last, path, len(node))] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError(f"{path}: parent is a value, not a table")


def _index(part: str, path: str, length: int) -> int:
    if not part.isdigit() or int(part) >= length:
        raise ScenarioError(f"{path}: no such list entry (have {length})")
    return int(part)


def load_scenario(
    path: str | Path, overrides: Iterable[str] = (), seed: int | None = None
) -> Scenario:
    """Read a TOML scenario, apply `key=value` overrides and an optional seed, validate.

    Raises:
        ScenarioError: the file is missing or malformed, or a field is invalid.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read ({exc})") from None
    raw = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(f"--set {item}: expected dotted.key=value")
        key, _, text = item.partition("=")
        set_dotted(raw, key.strip(), parse_value(text.strip()))
    if seed is not None:
        raw["seed"] = seed
    return Scenario.from_dict(raw)
