"""The nemesis: runs the scenario's fault schedule, calling each fault's start and stop on time.

Faults are data (Jepsen's nemesis is a schedule); what a fault does is its own
class's business (sim/faults). The nemesis is the `FaultTarget` they act on:
it installs cuts in the network's LinkState, marks nodes down (and tells the
mode, which drops volatile state), and skews clocks. Each start and stop is
recorded in the history as an `info` op of process "nemesis", so the history
alone says when faults were active.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sim.engine.clocks import Clocks
from sim.engine.kernel import Engine
from sim.engine.network import LinkState
from sim.faults.base import Cut, Fault
from sim.history import INFO, NEMESIS, History, Op


class Nemesis:
    """Applies a fault schedule to the link state, the clocks and (through hooks) the nodes.

    Args:
        env: the engine.
        faults: the scenario's faults.
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
        env: Engine,
        faults: Sequence[Fault],
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
        self._handles: dict[int, Any] = {}
        self._token = 0
        for fault in faults:
            for start, end in fault.windows(end_of_run_ms):
                self._token += 1
                env.call_later(start, self._start, fault, self._token)
                if end is not None:
                    env.call_later(end, self._stop, fault, self._token)

    # ----------------------------------------------------------------- the schedule

    def _start(self, fault: Fault, token: int) -> None:
        self.active += 1
        self._handles[token] = fault.start(self)
        self._record(f"start-{fault.name}", fault)

    def _stop(self, fault: Fault, token: int) -> None:
        self.active -= 1
        fault.stop(self, self._handles.pop(token))
        self._record(f"stop-{fault.name}", fault)

    def _record(self, f: str, fault: Fault) -> None:
        self.history.append(Op(NEMESIS, INFO, f, None, fault.describe(), self.env.now))

    def start_now(self, fault: Fault) -> int:
        """Start `fault` now, off the schedule (a driver stepping the run); returns its token."""
        self._token += 1
        self._start(fault, self._token)
        return self._token

    def stop_now(self, fault: Fault, token: int) -> None:
        """Stop the fault that `start_now` started as `token`."""
        self._stop(fault, token)

    # ----------------------------------------------------------------- FaultTarget

    def cut(self, cut: Cut) -> object:
        """Start dropping what `cut` selects; the cut itself is the handle."""
        self.links.add_cut(cut)
        return cut

    def heal(self, handle: object) -> None:
        """Remove a cut."""
        self.links.remove_cut(handle)  # type: ignore[arg-type]

    def crash(self, node: int) -> None:
        """Take the node down; overlapping crashes of one node nest (it restarts after the last)."""
        self._crashed[node] = self._crashed.get(node, 0) + 1
        if self._crashed[node] == 1:
            self.links.set_down(node, True)
            self.on_crash(node)

    def restart(self, node: int) -> None:
        """End one crash of the node; it comes back when none is left."""
        self._crashed[node] -= 1
        if self._crashed[node] == 0:
            self.links.set_down(node, False)
            self.on_restart(node)

    def skew(self, node: int, delta_ms: float) -> None:
        """Move the node's clock."""
        self.clocks.skew[node] += delta_ms
