"""The composition root: build a World from a Scenario, run it, and return a Result.

This is the only module that wires the parts together (STYLE.md §2): engine,
mode, nemesis, shop, probe, metrics. `run` is a pure function of the scenario
and the seed: the same inputs give the same history, byte for byte, in any
process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import simpy

from sim.client import StoreClient
from sim.engine.faults import Clocks, Nemesis
from sim.engine.loop import run_until
from sim.engine.network import LinkState, Network
from sim.engine.ring import Ring
from sim.engine.world import World
from sim.history import INVOKE, OK, History, Op
from sim.metrics import RunRecord, compute
from sim.modes import build_mode
from sim.modes.base import Mode
from sim.probe import ConvergenceProbe
from sim.rng import Streams
from sim.scenario import Scenario
from sim.shop.model import make_catalogue, make_users, product_key, user_key
from sim.shop.orders import OrderPlacer, OrderPolicy
from sim.shop.resolvers import resolver_for
from sim.shop.workload import Shoppers

Progress = Callable[[float, float], None]
"""progress(simulated_ms_done, simulated_ms_total), called about a hundred times a run."""

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


def _load(mode: Mode, history: History, key: str, value: Any) -> None:
    """Initial data: installed on the replicas and recorded as a completed write at t=0."""
    mode.load(key, value)
    history.append(Op(LOADER, INVOKE, "write", key, value.tag, 0.0))
    history.append(Op(LOADER, OK, "write", key, value.tag, 0.0))


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
    """
    if seed is not None and seed != scenario.seed:
        scenario = scenario.with_overrides({"seed": seed})
    seed = scenario.seed
    cluster = scenario.cluster
    workload = scenario.workload
    end_ms = scenario.end_ms

    env = simpy.Environment()
    streams = Streams(seed)
    history = History()
    links = LinkState()
    clocks = Clocks(env, [cluster.skew_of(i) for i in range(cluster.nodes)])
    network = Network(env, scenario.network, streams.get("network"), links)
    ring = Ring(list(range(cluster.nodes)), cluster.virtual_nodes)
    world = World(env, network, ring, clocks, links, streams, cluster.nodes)
    mode = build_mode(world, cluster)
    Nemesis(
        env,
        scenario.faults,
        cluster.nodes,
        links,
        clocks,
        history,
        end_ms,
        on_crash=mode.crash,
        on_restart=mode.restart,
    )

    catalogue = make_catalogue(
        workload.products, workload.stock, cluster.layout, streams.get("catalogue")
    )
    for row in catalogue:
        _load(mode, history, product_key(row.id), row)
    if cluster.layout == "nosql":
        for user in make_users(workload.customers):
            _load(mode, history, user_key(user.id), user)

    resolver = resolver_for(cluster.resolver)
    policy = OrderPolicy(
        cluster.concurrency,
        cluster.layout,
        resolver,
        cluster.max_retries,
        cluster.backoff_ms,
        cluster.lease_ms,
    )
    placer = OrderPlacer(env, policy, streams.get("backoff"))
    homes = workload.home_nodes

    def make_client(customer: int) -> StoreClient:
        home = homes[customer % len(homes)] if homes else customer % cluster.nodes
        return StoreClient(env, mode, links, history, customer, home)

    shoppers = Shoppers(
        env,
        workload,
        placer,
        make_client,
        history,
        streams.get("arrivals"),
        streams.get("customers"),
        scenario.duration_ms,
        resolver,
    )
    shoppers.start()
    heal = scenario.last_heal_ms
    probe = ConvergenceProbe(
        env, mode.divergent_keys, heal if heal is not None else scenario.duration_ms, end_ms
    )

    run_until(env, end_ms, progress)

    converged, convergence_ms = probe.result()
    final = {}
    for key in mode.stored_keys():
        siblings = mode.final(key).siblings
        final[key] = (
            None if not siblings else siblings[0] if len(siblings) == 1 else resolver(siblings)
        )
    linearizable = None
    if check:
        from sim.check import check as check_history

        verdict = check_history(history.ops, timeout_s=check_timeout_s).verdict.value
        # unknown (the checker ran out of time) stays None: never an invented verdict
        linearizable = {"linearizable": True, "not-linearizable": False}.get(verdict)
    record = RunRecord(
        history=history,
        final=final,
        inventory={product_key(r.id): r.inventory for r in catalogue},
        layout=cluster.layout,
        network=network.stats(),
        converged=converged,
        convergence_ms=convergence_ms,
        mode_stats=mode.stats(),
        linearizable=linearizable,
    )
    return Result(scenario, seed, compute(record), history)
