"""capsim: a discrete-event simulator of a replicated key-value store behind an online shop.

The public surface: build or load a `Scenario`, `run` it, read the `Result`.
"""

from sim.errors import CapsimError, HistoryError, InvariantError, RunError, ScenarioError
from sim.faults.base import Fault, fault
from sim.history import History, Op
from sim.run import Result, run
from sim.scenario import (
    ClusterConfig,
    NetworkConfig,
    Scenario,
    ShopConfig,
    WorkloadConfig,
    load_scenario,
)
from sim.sweep import load_results, sweep

__all__ = [
    "CapsimError",
    "ClusterConfig",
    "Fault",
    "History",
    "HistoryError",
    "InvariantError",
    "NetworkConfig",
    "Op",
    "Result",
    "RunError",
    "Scenario",
    "ScenarioError",
    "ShopConfig",
    "WorkloadConfig",
    "fault",
    "load_results",
    "load_scenario",
    "run",
    "sweep",
]
