"""Linearizability checking of histories (Porcupine's search) and history import/export."""

from sim.check.formats import detect_format, load_history, parse_history
from sim.check.jepsen_edn import to_edn
from sim.check.linearizable import (
    DEFAULT_MAX_MEMORY_MB,
    CheckResult,
    Explanation,
    Operation,
    Verdict,
    check,
)
from sim.check.models import KV, REGISTER, Model, Reach

__all__ = [
    "DEFAULT_MAX_MEMORY_MB",
    "KV",
    "REGISTER",
    "CheckResult",
    "Explanation",
    "Model",
    "Operation",
    "Reach",
    "Verdict",
    "check",
    "detect_format",
    "load_history",
    "parse_history",
    "to_edn",
]
