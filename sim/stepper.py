"""A run driven step by step: the world `run()` builds, with operations and faults issued now.

A state machine (tests/machine) and `python -m sim replay` drive the same
objects `sim.run.run` wires together (engine, mode, shop, nemesis), but
instead of a workload and a fault schedule fixed in advance, each step says
what happens next: a client operation starts now, a fault starts or stops
now, or simulated time passes. Steps are plain JSON objects, recorded in
order, so a failing sequence is saved as a case (sim/replay.py) and replays
to the same history byte for byte:

    {"do": "order",   "node": 1, "product": 0}     an order of units_per_order units
    {"do": "browse",  "node": 1, "product": 0}     one page view
    {"do": "read" | "write" | "cas", "node": 2, "key": "x"}   a store op on a register
    {"do": "start",   "fault": {"kind": "partition", "groups": [[0], [1, 2]]}}
    {"do": "stop",    "fault": 3}                  the fault of the 4th start (0-based)
    {"do": "heal"}                                 stop every active fault
    {"do": "advance", "ms": 250}                   let simulated time pass
    {"do": "settle",  "ms": 3000}                  heal, watch convergence, let time pass

Each client operation is a fresh process whose home node is `node` (so no
process ever has two operations open). Register keys are plain names (no
colon: the shop's keys have one); a write's value is a `Register` whose tag
names the write. A `start` fault table has no times: it starts now and lasts
until stopped (a `flapping` one toggles every `period_ms` meanwhile).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.client import Proc, StoreClient
from sim.errors import CapsimError, ScenarioError
from sim.faults.base import Fault, parse_fault
from sim.history import History
from sim.metrics import RunRecord, compute
from sim.modes import build_mode
from sim.modes.base import Status
from sim.probe import ConvergenceProbe
from sim.run import build_shop, build_world, final_state, load_data, start_nemesis, user_resolver
from sim.scenario import Scenario

CLIENT_OPS = ("order", "browse", "read", "write", "cas")
STEPS = (*CLIENT_OPS, "start", "stop", "heal", "advance", "settle")
MAX_STEP_MS = 3_600_000.0
"""Longest time one advance or settle may pass (an hour of simulated time)."""
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")


class StepError(CapsimError):
    """A step is malformed or impossible now (stopping a fault that is not active)."""


@dataclass(frozen=True)
class Register:
    """A register value written by a step: its tag names the write; lww orders by written_ms."""

    tag: str
    written_ms: float


def check_step(step: Any, scenario: Scenario, path: str = "step") -> None:
    """Raise StepError naming `path`'s field unless `step` is a well-formed step for `scenario`.

    What depends on the run's state (which faults are active) is checked by `apply`.
    """
    if not isinstance(step, dict):
        raise StepError(f"{path}: must be a step object (got {step!r:.60})")
    do = step.get("do")
    if do not in STEPS:
        raise StepError(f"{path}.do: unknown {do!r} (allowed: {', '.join(STEPS)})")
    fields = {
        "order": ("node", "product"),
        "browse": ("node", "product"),
        "start": ("fault",),
        "stop": ("fault",),
        "heal": (),
        "advance": ("ms",),
        "settle": ("ms",),
    }.get(do, ("node", "key"))
    extra = sorted(set(step) - {"do", *fields})
    if extra:
        raise StepError(f"{path}.{extra[0]}: unknown field of a {do} step")
    for name in fields:
        if name not in step:
            raise StepError(f"{path}.{name}: missing")
    if "node" in fields:
        _index(step["node"], scenario.cluster.nodes, f"{path}.node")
    if "product" in fields:
        _index(step["product"], scenario.workload.products, f"{path}.product")
    if "key" in fields:
        key = step["key"]
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise StepError(
                f"{path}.key: must be a register name (a letter, then letters, digits, _.-; "
                f"at most 40) (got {key!r:.60})"
            )
    if "ms" in fields:
        ms = step["ms"]
        if (
            not isinstance(ms, int | float)
            or isinstance(ms, bool)
            or not math.isfinite(ms)
            or not 0 < ms <= MAX_STEP_MS
        ):
            raise StepError(f"{path}.ms: must be a number in (0, {MAX_STEP_MS:g}] (got {ms!r})")
    if do == "start":
        fault_of(step["fault"], scenario, f"{path}.fault")
    if do == "stop":
        _index(step["fault"], None, f"{path}.fault")


def _index(value: Any, limit: int | None, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise StepError(f"{path}: must be an integer >= 0 (got {value!r:.60})")
    if limit is not None and value >= limit:
        raise StepError(f"{path}: must be < {limit} (got {value})")
    return value


def fault_of(table: Any, scenario: Scenario, path: str) -> Fault:
    """The Fault a `start` step's table describes, validated against the cluster (starts at 0)."""
    if not isinstance(table, dict):
        raise StepError(f"{path}: must be a fault table (got {table!r:.60})")
    timed = sorted({"start_ms", "end_ms"} & set(table))
    if timed:
        raise StepError(f"{path}.{timed[0]}: a stepped fault starts now and lasts until stopped")
    try:
        fault = parse_fault({**table, "start_ms": 0.0}, path)
        fault.check(scenario.cluster.nodes, path)
    except ScenarioError as exc:
        raise StepError(str(exc)) from None
    return fault


@dataclass
class _Active:
    """A fault started by a step: its first start, and the nemesis token while it is on."""

    fault: Fault
    started_ms: float
    token: int | None
    generation: int = 0

    @property
    def period_ms(self) -> float | None:
        """A flapping fault's half-cycle (None: the fault does not flap)."""
        return getattr(self.fault, "period_ms", None)

    def window(self, end_ms: float) -> Fault:
        """The fault as one scheduled window, from its current start to `end_ms` (for metrics)."""
        update: dict[str, Any] = {"start_ms": self.started_ms, "end_ms": end_ms}
        if self.period_ms is not None:  # a flapping fault's on-window: one period long
            update["period_ms"] = max(end_ms - self.started_ms, 1e-9)
        return self.fault.model_copy(update=update)


class Stepper:
    """One run of `scenario`'s cluster, shop and data, driven by steps instead of a schedule.

    The scenario's own faults run as scheduled (usually there are none); its
    workload is not started: the steps are the traffic. `history` grows as
    steps run; `metrics()` computes DESIGN.md's metrics over what ran so far.
    """

    def __init__(self, scenario: Scenario) -> None:
        if scenario.workload.home_nodes:
            raise StepError(
                "workload.home_nodes: a stepped run needs the default homes (i % nodes)"
            )
        self.scenario = scenario
        self.history = History()
        self.steps: list[dict[str, Any]] = []
        world = self.world = build_world(scenario)
        mode = self.mode = build_mode(world, scenario.cluster)
        self.resolver = user_resolver(scenario.shop.resolver)
        self.shop = build_shop(world, scenario, mode, self.history, self.resolver)
        sagas = self.shop.placer.sagas
        self.nemesis = start_nemesis(
            world, scenario, self.history, (mode.crash, sagas.crash), (mode.restart,)
        )
        self.inventory = load_data(world, scenario, mode, self.history)
        self.faults: list[_Active] = []
        self.windows: list[Fault] = []
        self._ops = 0
        self._orders: dict[int, int] = {}
        self._probe: ConvergenceProbe | None = None

    @property
    def now(self) -> float:
        """Simulated time, in ms."""
        return self.world.env.now

    def active(self) -> list[int]:
        """Ids of the faults started by steps and not stopped yet."""
        return [i for i, a in enumerate(self.faults) if a.generation >= 0]

    # ----------------------------------------------------------------- steps

    def apply(self, step: Mapping[str, Any]) -> None:
        """Run one step now and record it.

        A step that is malformed or impossible now raises StepError and is not
        recorded; once valid it is recorded before it runs, so that a step during
        which the simulator fails is in `steps` (and in a case saved then).
        """
        step = dict(step)
        check_step(step, self.scenario)
        do = step["do"]
        if do == "stop" and step["fault"] not in self.active():
            raise StepError(f"stop: fault {step['fault']} is not active (active: {self.active()})")
        self.steps.append(step)
        if do in CLIENT_OPS:
            self._client_op(step)
        elif do == "start":
            self._start(fault_of(step["fault"], self.scenario, "fault"))
        elif do == "stop":
            self._stop(step["fault"])
        elif do == "heal":
            self._heal()
        elif do == "advance":
            self._advance(step["ms"])
        else:
            self._heal()
            self._probe = ConvergenceProbe(
                self.world.env, self.mode, self.now, self.now + step["ms"]
            )
            self._advance(step["ms"])

    def _advance(self, ms: float) -> None:
        env = self.world.env
        env.run(until=env.now + float(ms))

    def _client(self, node: int) -> StoreClient:
        """A new process whose home is `node`."""
        process = self._ops * self.world.nodes + node
        self._ops += 1
        return self.shop.client(process)

    def _client_op(self, step: dict[str, Any]) -> None:
        client = self._client(step["node"])
        workload = self.scenario.workload
        timeout = workload.timeout_ms
        do = step["do"]
        if do == "order":
            customer = client.process % workload.customers
            n = self._orders.get(customer, 0)
            self._orders[customer] = n + 1
            body = self.shop.order(
                client, customer, step["product"], n, workload.units_per_order, timeout
            )
        elif do == "browse":
            body = self.shop.view(client, step["product"], timeout)
        else:
            body = self._store_op(client, do, step["key"], timeout)
        self.world.env.process(body)

    def _store_op(self, client: StoreClient, do: str, key: str, timeout: float) -> Proc:
        deadline = self.now + timeout
        value = Register(f"{key}.w{client.process}", self.now)
        if do == "read":
            yield from client.read(key, deadline)
        elif do == "write":
            yield from client.write(key, value, deadline)
        else:  # cas: read, then write conditionally on the version read
            read = yield from client.read(key, deadline)
            if read.status is Status.OK:
                expected = self.shop.resolver(read.siblings) if read.siblings else None
                yield from client.write(key, value, deadline, read.version, True, expected)

    # ----------------------------------------------------------------- faults

    def _start(self, fault: Fault) -> None:
        active = _Active(fault, self.now, self.nemesis.start_now(fault))
        self.faults.append(active)
        if active.period_ms is not None:
            self.world.call_later(
                active.period_ms, self._flap, len(self.faults) - 1, active.generation
            )

    def _flap(self, fault_id: int, generation: int) -> None:
        """A flapping fault's toggle: off if on, on if off (ignored once stopped)."""
        active = self.faults[fault_id]
        if active.generation != generation:
            return
        if active.token is None:
            active.token = self.nemesis.start_now(active.fault)
            active.started_ms = self.now
        else:
            self._off(active)
        active.generation += 1
        assert active.period_ms is not None
        self.world.call_later(active.period_ms, self._flap, fault_id, active.generation)

    def _off(self, active: _Active) -> None:
        """End the fault's current on-window, noting it for the metrics."""
        assert active.token is not None
        self.nemesis.stop_now(active.fault, active.token)
        active.token = None
        if self.now > active.started_ms:
            self.windows.append(active.window(self.now))

    def _stop(self, fault_id: int) -> None:
        active = self.faults[fault_id]
        if active.token is not None:
            self._off(active)
        active.generation = -1

    def _heal(self) -> None:
        for fault_id in self.active():
            self._stop(fault_id)

    # ----------------------------------------------------------------- results

    def metrics(self, check: bool = False, check_timeout_s: float | None = 60.0) -> dict[str, Any]:
        """DESIGN.md's metrics over the run so far; faults count over the windows they were on.

        `converged` and `convergence_ms` come from the last settle step's probe
        (without one: whether replicas agree now, and None).
        """
        from sim.run import linearizable

        mode = self.mode
        if self._probe is not None:
            converged, convergence_ms = self._probe.result()
        else:
            converged, convergence_ms = not any(True for _ in mode.divergent_keys()), None
        ongoing = [a.window(self.now) for a in self.faults if a.token is not None]
        record = RunRecord(
            history=self.history,
            final=final_state(mode, self.resolver),
            inventory=self.inventory,
            layout=self.scenario.shop.layout,
            network=self.world.network.stats(),
            converged=converged,
            convergence_ms=convergence_ms,
            mode_stats=mode.stats(),
            linearizable=linearizable(self.history, check_timeout_s) if check else None,
            faults=(*self.scenario.faults, *self.windows, *ongoing),
            nodes=self.world.nodes,
            end_ms=self.now,
            home_of=self.shop.home_of,
            shop_stats=self.shop.stats(),
        )
        return compute(record)
