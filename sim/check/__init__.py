"""Linearizability checking of histories (Porcupine's search) and history import/export."""

from sim.check.formats import detect_format, load_history, parse_history
from sim.check.jepsen_edn import to_edn
from sim.check.linearizable import CheckResult, Explanation, Operation, Verdict, check
from sim.check.models import KV, REGISTER, Model

__all__ = [
    "KV",
    "REGISTER",
    "CheckResult",
    "Explanation",
    "Model",
    "Operation",
    "Verdict",
    "check",
    "detect_format",
    "load_history",
    "parse_history",
    "to_edn",
]
