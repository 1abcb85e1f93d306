"""EDN text for values: the writer that gives back what sim/check/edn.py reads."""

from __future__ import annotations

import math
from typing import Any

from sim.check.edn import Keyword, Symbol, is_keyword_name

__all__ = ["write_edn", "write_edn_name"]


def _edn_string(s: str) -> str:
    return (
        '"'
        + s.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
        + '"'
    )


def write_edn_name(name: str) -> str:
    """A name as a keyword when EDN allows it, else as a string."""
    return ":" + name if is_keyword_name(name) else _edn_string(name)


def write_edn(value: Any) -> str:
    """One value as EDN text.

    Raises:
        TypeError: the value has no EDN form.
    """
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Keyword):
        return write_edn_name(value)
    if isinstance(value, Symbol):
        return str(value)
    if isinstance(value, str):
        return _edn_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "##NaN"
        if math.isinf(value):
            return "##Inf" if value > 0 else "##-Inf"
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(write_edn(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{write_edn(k)} {write_edn(v)}" for k, v in value.items()) + "}"
    if isinstance(value, set | frozenset):
        return "#{" + " ".join(sorted(write_edn(v) for v in value)) + "}"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as EDN")
