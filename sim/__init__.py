"""capsim: a discrete-event simulator of a replicated key-value store behind an online shop.

The public surface: build or load a `Scenario`, `run` it, read the `Result`.
"""

from sim.errors import CapsimError, HistoryError, ScenarioError
from sim.history import History, Op
from sim.run import Result, run
from sim.scenario import (
    ClusterConfig,
    FaultSpec,
    NetworkConfig,
    Scenario,
    WorkloadConfig,
    load_scenario,
)
from sim.sweep import load_results, sweep

__all__ = [
    "CapsimError",
    "ClusterConfig",
    "FaultSpec",
    "History",
    "HistoryError",
    "NetworkConfig",
    "Op",
    "Result",
    "Scenario",
    "ScenarioError",
    "WorkloadConfig",
    "load_results",
    "load_scenario",
    "run",
    "sweep",
]
