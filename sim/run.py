"""The composition root: build a World from a Scenario, run it, and return a Result.

This is the only module that wires the parts together (STYLE.md §2): engine,
mode, nemesis, shop, workload, probe, metrics. `run` reads as the list of its
steps, each a function below. It is a pure function of the scenario and the
seed: the same inputs give the same history, byte for byte, in any process.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sim.client import StoreClient
from sim.config.network import CORE_KINDS
from sim.config.shop import Resolver, resolver_for
from sim.distributions import Constant, Sampler
from sim.engine.clocks import Clocks
from sim.engine.kernel import Engine, ensure_internals
from sim.engine.loop import quiet_gc, run_until
from sim.engine.nemesis import Nemesis
from sim.engine.network import LinkState, Network
from sim.engine.ring import Ring
from sim.engine.world import World
from sim.errors import InvariantError, RunError
from sim.history import INVOKE, OK, History, Op
from sim.metrics import RunRecord, compute
from sim.modes import build_mode, spec_of
from sim.modes.base import Mode
from sim.plugins import WORKLOADS
from sim.probe import ConvergenceProbe
from sim.rng import Streams
from sim.routing import Router
from sim.scenario import Scenario
from sim.shop.model import (
    OrderRow,
    ProductRow,
    UserRow,
    make_catalogue,
    make_users,
    product_key,
    user_key,
)
from sim.shop.orders import OrderPlacer, OrderSteps
from sim.shop.resolvers import resolve
from sim.shop.rows import Updater
from sim.shop.saga import Sagas
from sim.shop.workloads.base import Shop

Progress = Callable[[float, float], None]
"""progress(simulated_ms_done, simulated_ms_total), called about fifty times a run."""

LOADER = "loader"


@dataclass(frozen=True)
class Result:
    """A run's outcome: the metrics (DESIGN.md's names), the history, and the inputs."""

    scenario: Scenario
    seed: int
    metrics: dict[str, Any]
    history: History

    def to_json(self) -> str:
        """`{"scenario", "seed", "metrics"}` as one JSON object (what the CLI prints)."""
        return json.dumps(
            {"scenario": self.scenario.to_dict(), "seed": self.seed, "metrics": self.metrics},
            sort_keys=False,
        )

    def row(self) -> dict[str, Any]:
        """The metrics flattened into one row (`latency_ms.p99` -> `latency_ms_p99`)."""
        return flatten(self.metrics)

    def to_frame(self) -> Any:
        """The history as a pandas DataFrame, one row per operation."""
        import pandas as pd

        return pd.DataFrame(
            [op.to_dict() for op in self.history.ops],
            columns=["process", "type", "f", "key", "value", "time", "error", "version"],
        )


def flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts become `a_b` columns; lists stay values."""
    out: dict[str, Any] = {}
    for name, value in metrics.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{key}_"))
        else:
            out[key] = value
    return out


def run(
    scenario: Scenario,
    seed: int | None = None,
    *,
    check: bool = False,
    check_timeout_s: float | None = 60.0,
    progress: Progress | None = None,
) -> Result:
    """Simulate `scenario` with `seed` (default: the scenario's) and measure it.

    Args:
        scenario: what to run.
        seed: overrides scenario.seed.
        check: also check the history for linearizability (fills `linearizable`).
        check_timeout_s: give the checker this long (wall clock); past it the
            verdict is unknown and `linearizable` stays None.
        progress: called as the simulated clock advances.

    Returns:
        The Result, whose `metrics` hold every name of DESIGN.md.

    Raises:
        RunError: a user's resolver raised.
    """
    if seed is not None and seed != scenario.seed:
        scenario = scenario.with_overrides({"seed": seed})
    history = History()
    world = build_world(scenario)
    mode = build_mode(world, scenario.cluster)
    resolver = user_resolver(scenario.shop.resolver)
    shop = build_shop(world, scenario, mode, history, resolver)
    start_nemesis(world, scenario, history, (mode.crash, shop.placer.sagas.crash), (mode.restart,))
    inventory = load_data(world, scenario, mode, history)
    start_workload(shop, scenario)
    probe = watch_convergence(world, scenario, mode)
    run_until(world.env, scenario.end_ms, progress)
    with quiet_gc():  # measuring walks the whole history: keep the collector off it
        converged, convergence_ms = probe.result()
        record = RunRecord(
            history=history,
            final=final_state(mode, resolver),
            inventory=inventory,
            layout=scenario.shop.layout,
            network=world.network.stats(),
            converged=converged,
            convergence_ms=convergence_ms,
            mode_stats=mode.stats(),
            linearizable=linearizable(history, check_timeout_s) if check else None,
            faults=scenario.faults,
            nodes=world.nodes,
            end_ms=scenario.end_ms,
            home_of=shop.home_of,
            shop_stats=shop.stats(),
        )
        metrics = compute(record)
    # The world is left to the collector (its objects reference one another); the
    # history goes with the Result, freed with it (History.handed_over).
    return Result(scenario, scenario.seed, metrics, history.handed_over())


def build_world(scenario: Scenario) -> World:
    """The engine, one random stream per subsystem, links, clocks, the network and the ring."""
    cluster = scenario.cluster
    ensure_internals()
    env = Engine()
    streams = Streams(scenario.seed)
    links = LinkState()
    clocks = Clocks(env, [cluster.skew_of(i) for i in range(cluster.nodes)])
    kinds = (*CORE_KINDS, *spec_of(cluster.mode).message_kinds)
    network = Network(env, scenario.network, streams.get("network"), links, kinds)
    ring = Ring(list(range(cluster.nodes)), cluster.virtual_nodes)
    return World(
        env, network, ring, clocks, links, streams, cluster.nodes, cluster.replication,
        cluster.durable, scenario.network.self_latency,
    )  # fmt: skip


def start_nemesis(
    world: World,
    scenario: Scenario,
    history: History,
    on_crash: Sequence[Callable[[int], None]],
    on_restart: Sequence[Callable[[int], None]],
) -> Nemesis:
    """Schedule the faults; crashes and restarts reach the mode and the shop's sagas."""

    def crash(node: int) -> None:
        for hook in on_crash:
            hook(node)

    def restart(node: int) -> None:
        for hook in on_restart:
            hook(node)

    return Nemesis(
        world.env,
        scenario.faults,
        world.nodes,
        world.links,
        world.clocks,
        history,
        scenario.end_ms,
        on_crash=crash,
        on_restart=restart,
    )


def load_data(world: World, scenario: Scenario, mode: Mode, history: History) -> dict[str, int]:
    """The catalogue (and, in the nosql layout, the users) on the replicas; returns the stock.

    Each row is recorded as a completed write of process "loader" at t=0.
    """
    workload = scenario.workload
    layout = scenario.shop.layout
    catalogue = make_catalogue(
        workload.products, workload.stock, layout, world.streams.get("catalogue")
    )
    rows: list[tuple[str, Any]] = [(product_key(row.id), row) for row in catalogue]
    if layout == "nosql":
        rows += [(user_key(user.id), user) for user in make_users(workload.customers)]
    for key, value in rows:
        mode.load(key, value)
        history.append(Op(LOADER, INVOKE, "write", key, value.tag, 0.0))
        history.append(Op(LOADER, OK, "write", key, value.tag, 0.0))
    return {product_key(row.id): row.inventory for row in catalogue}


def user_resolver(name: str) -> Resolver:
    """The scenario's resolver; a user's function that raises ends the run with a RunError."""
    function = resolver_for(name)
    if getattr(function, "__module__", "").startswith("sim."):
        return function  # a built-in: if it raises, that is a bug, not the user's

    def guarded(siblings: Sequence[Any]) -> Any:
        try:
            return function(siblings)
        except InvariantError:
            raise
        except Exception as exc:
            raise RunError(f"shop.resolver {name} raised {type(exc).__name__}: {exc}") from exc

    return guarded


def client_hop(scenario: Scenario, streams: Streams) -> Callable[[], float] | None:
    """The client-node hop's latency sampler (None when it is a constant 0: no hop at all)."""
    dist = scenario.network.client_latency
    if isinstance(dist, Constant) and dist.value == 0:
        return None
    return Sampler(dist, streams.get("client"))


def zone_hops(
    scenario: Scenario, streams: Streams, hop: Callable[[], float] | None
) -> dict[int, tuple[Callable[[], float] | None, ...]]:
    """Per zone, the hop from a client in it to each node (empty: no zones).

    To a node in the client's zone the hop is `hop`; to one in another zone it
    is `hop` plus a cross_zone draw, each way (from a stream of its own, so the
    hop's own draws are those of a run without zones).
    """
    network = scenario.network
    if not network.zoned:
        return {}
    cross = Sampler(network.cross_zone, streams.get("client-zone"))

    far = cross if hop is None else _added(hop, cross)
    zones = network.zones
    return {zone: tuple(hop if z == zone else far for z in zones) for zone in set(zones)}


def _added(first: Callable[[], float], second: Callable[[], float]) -> Callable[[], float]:
    """A latency that is a draw of `first` plus a draw of `second`."""
    return lambda: first() + second()


def build_shop(
    world: World, scenario: Scenario, mode: Mode, history: History, resolver: Resolver
) -> Shop:
    """The shop front: store clients behind the router, order placement, background sagas."""
    shop = scenario.shop
    workload = scenario.workload
    env, links = world.env, world.links
    homes = workload.home_nodes
    hop = client_hop(scenario, world.streams)
    hops_by_zone = zone_hops(scenario, world.streams, hop)
    router = Router(
        env, workload.routing, links, world.nodes, workload.timeout_ms, world.streams.get("routing")
    )

    def home_of(process: Any) -> int | None:
        if not isinstance(process, int):
            return None
        return homes[process % len(homes)] if homes else process % world.nodes

    def client(customer: int) -> StoreClient:
        home = home_of(customer)
        hops = hops_by_zone.get(scenario.network.zones[home]) if hops_by_zone else None
        return StoreClient(env, mode, links, history, customer, home, router, hop, hops)

    def node_client(node: int, process: str) -> StoreClient:
        return StoreClient(env, mode, links, history, process, node, None, hop)

    updater = Updater(
        env, resolver, shop.max_retries, shop.backoff_ms, world.streams.get("backoff")
    )
    steps = OrderSteps(env, shop)
    sagas = Sagas(
        env,
        steps,
        updater,
        node_client,
        links,
        world.nodes,
        world.durable,
        workload.timeout_ms,
        homes,
    )
    placer = OrderPlacer(env, shop, updater, steps, sagas)

    def on_node(node: int, process: str) -> StoreClient:  # a client on its node: no hop
        return StoreClient(env, mode, links, history, process, node)

    return Shop(
        env,
        history,
        placer,
        client,
        resolver,
        world.streams,
        scenario.duration_ms,
        home_of,
        router,
        on_node,
        world.nodes,
    )


def start_workload(shop: Shop, scenario: Scenario) -> None:
    """The workload's customers, set going."""
    workload = scenario.workload
    spec = WORKLOADS.get(workload.kind, "workload.kind")
    spec.build(shop, workload, workload.settings).start()


def watch_convergence(world: World, scenario: Scenario, mode: Mode) -> ConvergenceProbe:
    """Probe the replicas from the last heal (or the end of traffic) to the end of the run."""
    heal = scenario.last_heal_ms
    start = heal if heal is not None else scenario.duration_ms
    return ConvergenceProbe(world.env, mode, start, scenario.end_ms)


SHOP_ROWS = (ProductRow, UserRow, OrderRow)
"""The values a shop resolver knows how to merge."""


def final_state(mode: Mode, resolver: Resolver) -> dict[str, Any]:
    """Each key's value at the end, resolved as a client would resolve it (None if absent).

    Siblings that are not shop rows (the probe's versions) stay the tuple the store
    holds: no shop resolver knows them, and no order metric reads them.
    """
    out: dict[str, Any] = {}
    for key in mode.stored_keys():
        siblings = mode.final(key).siblings
        if len(siblings) > 1 and not all(isinstance(s, SHOP_ROWS) for s in siblings):
            out[key] = tuple(siblings)
        else:
            out[key] = resolve(siblings, resolver)
    return out


def linearizable(history: History, timeout_s: float | None) -> bool | None:
    """The checker's verdict on the history; None when it ran out of time (never invented)."""
    from sim.check import check as check_history

    verdict = check_history(history.ops, timeout_s=timeout_s).verdict.value
    return {"linearizable": True, "not-linearizable": False}.get(verdict)
