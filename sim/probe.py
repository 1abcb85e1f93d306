"""Times convergence as repair: from the last heal until every key that diverged agrees again.

At the last heal (of a fault that cut or crashed; or at the end of traffic
when nothing faulted) the probe notes each divergent key and what its
replicas must come to hold (`Mode.repair_target`). Every PROBE_MS it asks the
mode whether those keys are repaired; writes invoked after the heal make new
versions that supersede the target rather than new divergence to wait for, so
traffic that goes on after the heal does not count as failing to converge.
"""

from __future__ import annotations

from typing import Any

from sim.engine.kernel import Engine

PROBE_MS = 10.0
"""Probe period: convergence_ms is measured to this resolution."""


class ConvergenceProbe:
    """Watches the keys that diverged at `start_ms` until all are repaired.

    `convergence_ms`: from `start_ms` to the first probe that found every such
    key repaired (0 when none diverged); None if one was still unrepaired at the
    end. `converged`: at the end of the run, every key's live replicas agree.
    """

    def __init__(self, env: Engine, mode: Any, start_ms: float, end_ms: float) -> None:
        self.env = env
        self.mode = mode
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.targets: dict[str, Any] | None = None
        self.repaired_ms: float | None = None
        env.call_later(max(0.0, start_ms - env.now), self._start)

    def _start(self) -> None:
        mode = self.mode
        self.targets = {key: mode.repair_target(key) for key in mode.divergent_keys()}
        self._tick()

    def _tick(self) -> None:
        targets = self.targets
        assert targets is not None
        mode = self.mode
        for key in [k for k, target in targets.items() if mode.repaired(k, target)]:
            del targets[key]
        if not targets:
            self.repaired_ms = self.env.now
            return
        if self.env.now + PROBE_MS <= self.end_ms:
            self.env.call_later(PROBE_MS, self._tick)

    def result(self) -> tuple[bool, float | None]:
        """(converged at the end, convergence_ms or None)."""
        converged = not any(True for _ in self.mode.divergent_keys())
        if self.repaired_ms is None:
            return converged, None
        return converged, max(0.0, self.repaired_ms - self.start_ms)
