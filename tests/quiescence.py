"""How long a run was free of writes at its end: when "the replicas agree at the end" may be asked.

Convergence is a promise about a quiet store. Sagas go on compensating in the
background during the settle, and a write that lands just before the end
leaves a replica a loss or two behind; anti-entropy repairs it, but needs
rounds to do it. So properties assert repair of what diverged at the last
heal always (`convergence_ms` is not None), and agreement at the end only
when the last write could have landed at least QUIET_MS before the end.
"""

from __future__ import annotations

from typing import Any

from sim.history import INVOKE

QUIET_MS = 1_500.0
"""Seven anti-entropy periods of the generated scenarios (200 ms) and then some."""

WRITES = frozenset({"write", "cas", "txn"})


def quiet_ms(result: Any) -> float:
    """Time from the latest moment any write could still land to the end of the run.

    A write is taken to land by its client's deadline (invoke + timeout_ms); a
    message still in flight then is a few latencies late, well inside QUIET_MS.
    """
    scenario = result.scenario
    last = 0.0
    for op in result.history:
        if op.type == INVOKE and op.f in WRITES:
            last = max(last, op.time + scenario.workload.timeout_ms)
    return scenario.end_ms - last
