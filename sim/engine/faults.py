"""The nemesis: turns the scenario's fault schedule into cuts, crashes and clock skew over time.

Faults are data (Jepsen's nemesis is a schedule): each FaultSpec becomes one or
more windows; at a window's start the nemesis installs a cut predicate in the
network's LinkState (or marks a node down, or skews its clock), and removes it
at the end. Each change is recorded in the history as an `info` op of process
"nemesis", so the history alone says when faults were active.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import simpy

from sim.engine.network import LinkState, call_later
from sim.history import INFO, NEMESIS, History, Op
from sim.scenario import FaultSpec

Cut = Callable[[int, int], bool]


class Clocks:
    """Per-node wall clocks: simulated time plus a static and a fault-driven skew (ms)."""

    __slots__ = ("env", "skew")

    def __init__(self, env: simpy.Environment, skew_ms: Sequence[float]) -> None:
        self.env = env
        self.skew = [float(s) for s in skew_ms]

    def now(self, node: int) -> float:
        """Node `node`'s wall clock reading, in ms (used for last-writer-wins timestamps)."""
        return self.env.now + self.skew[node]


def partition_cut(groups: Sequence[Sequence[int]], nodes: int, rest_is_bridge: bool) -> Cut:
    """A cut between groups. Unlisted nodes form one more group, or bridge all (for bridges)."""
    side: list[int | None] = [None if rest_is_bridge else len(groups)] * nodes
    for i, group in enumerate(groups):
        for node in group:
            side[node] = i

    def cut(src: int, dst: int) -> bool:
        a = side[src]
        b = side[dst]
        return a is not None and b is not None and a != b

    return cut


def one_way_cut(from_nodes: Sequence[int], to_nodes: Sequence[int]) -> Cut:
    """Messages from `from_nodes` to `to_nodes` are dropped; the other direction passes."""
    src_set = frozenset(from_nodes)
    dst_set = frozenset(to_nodes)

    def cut(src: int, dst: int) -> bool:
        return src in src_set and dst in dst_set

    return cut


def isolate_cut(node: int) -> Cut:
    """Every message to or from `node` is dropped (the node itself keeps running)."""

    def cut(src: int, dst: int) -> bool:
        return (src == node) != (dst == node)

    return cut


def windows(spec: FaultSpec, end_of_run_ms: float) -> list[tuple[float, float | None]]:
    """The [start, end) windows in which `spec` is active (flapping gives several)."""
    if spec.kind != "flapping":
        return [(spec.start_ms, spec.end_ms)]
    stop = spec.end_ms if spec.end_ms is not None else end_of_run_ms
    out: list[tuple[float, float | None]] = []
    t = spec.start_ms
    while t < stop:
        out.append((t, min(t + spec.period_ms, stop)))
        t += 2 * spec.period_ms
    return out


def describe(spec: FaultSpec) -> object:
    """The fault as a JSON value for the history (`value` of the nemesis op)."""
    if spec.kind in ("partition", "flapping", "bridge"):
        return [list(g) for g in spec.groups]
    if spec.kind == "one-way":
        return {"from": list(spec.from_nodes), "to": list(spec.to_nodes)}
    if spec.kind == "clock-skew":
        return {"node": spec.node, "skew_ms": spec.skew_ms}
    return spec.node


class Nemesis:
    """Applies a fault schedule to the link state, the clocks and (through hooks) the nodes.

    Args:
        env: the SimPy environment.
        faults: the scenario's fault specs.
        nodes: number of nodes.
        links: the network's link state, written here.
        clocks: the nodes' clocks, skewed here.
        history: where fault events are recorded.
        end_of_run_ms: when the run stops (bounds a flapping fault with no end).
        on_crash, on_restart: called with the node id when it crashes / restarts
            (the mode drops volatile state, rebuilds from durable state).
    """

    def __init__(
        self,
        env: simpy.Environment,
        faults: Sequence[FaultSpec],
        nodes: int,
        links: LinkState,
        clocks: Clocks,
        history: History,
        end_of_run_ms: float,
        on_crash: Callable[[int], None] = lambda node: None,
        on_restart: Callable[[int], None] = lambda node: None,
    ) -> None:
        self.env = env
        self.nodes = nodes
        self.links = links
        self.clocks = clocks
        self.history = history
        self.on_crash = on_crash
        self.on_restart = on_restart
        self.active = 0
        self._crashed: dict[int, int] = {}
        self._cuts: dict[int, Cut] = {}
        token = 0
        for spec in faults:
            for start, end in windows(spec, end_of_run_ms):
                token += 1
                call_later(env, start, self._start, spec, token)
                if end is not None:
                    call_later(env, end, self._stop, spec, token)

    def _record(self, f: str, spec: FaultSpec) -> None:
        self.history.append(Op(NEMESIS, INFO, f, None, describe(spec), self.env.now))

    def _start(self, spec: FaultSpec, token: int) -> None:
        self.active += 1
        kind = spec.kind
        if kind in ("partition", "flapping", "bridge"):
            self._install(token, partition_cut(spec.groups, self.nodes, kind == "bridge"))
        elif kind == "one-way":
            self._install(token, one_way_cut(spec.from_nodes, spec.to_nodes))
        elif kind == "isolate":
            self._install(token, isolate_cut(spec.node))
        elif kind == "crash":
            node = spec.node
            self._crashed[node] = self._crashed.get(node, 0) + 1
            if self._crashed[node] == 1:
                self.links.set_down(node, True)
                self.on_crash(node)
        elif kind == "clock-skew":
            self.clocks.skew[spec.node] += spec.skew_ms
        self._record(f"start-{kind}", spec)

    def _stop(self, spec: FaultSpec, token: int) -> None:
        self.active -= 1
        kind = spec.kind
        if kind == "crash":
            node = spec.node
            self._crashed[node] -= 1
            if self._crashed[node] == 0:
                self.links.set_down(node, False)
                self.on_restart(node)
        elif kind == "clock-skew":
            self.clocks.skew[spec.node] -= spec.skew_ms
        else:
            self.links.remove_cut(self._cuts.pop(token))
        self._record(f"stop-{kind}", spec)

    def _install(self, token: int, cut: Cut) -> None:
        self._cuts[token] = cut
        self.links.add_cut(cut)
