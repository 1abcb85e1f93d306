"""Times convergence: after the last fault heals, watch until every key's replicas agree."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sim.engine.kernel import Engine

PROBE_MS = 10.0
"""Probe period: convergence_ms is measured to this resolution."""


class ConvergenceProbe:
    """Asks the mode every PROBE_MS which keys still diverge, from `start_ms` to the end.

    convergence_ms is the time from `start_ms` (the last heal, or the end of
    traffic when nothing faulted) to the first probe after which no key
    diverged again until the run ended; None if replicas disagreed at the end.
    """

    def __init__(
        self,
        env: Engine,
        divergent_keys: Callable[[], Iterable[str]],
        start_ms: float,
        end_ms: float,
    ) -> None:
        self.env = env
        self.divergent_keys = divergent_keys
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.last_divergent_ms: float | None = None
        self.last_agreeing_ms: float | None = None
        env.call_later(start_ms, self._tick)

    def _tick(self) -> None:
        now = self.env.now
        if any(True for _ in self.divergent_keys()):
            self.last_divergent_ms = now
        elif self.last_agreeing_ms is None or (
            self.last_divergent_ms is not None and self.last_agreeing_ms <= self.last_divergent_ms
        ):
            self.last_agreeing_ms = now
        if now + PROBE_MS <= self.end_ms:
            self.env.call_later(PROBE_MS, self._tick)

    def result(self) -> tuple[bool, float | None]:
        """(converged at the end, convergence_ms or None)."""
        if any(True for _ in self.divergent_keys()):
            return False, None
        since = self.last_agreeing_ms
        if since is None or (self.last_divergent_ms is not None and since < self.last_divergent_ms):
            since = self.env.now  # agreed only after the last probe
        return True, max(0.0, since - self.start_ms)
