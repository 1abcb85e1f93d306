"""Jepsen's log format: the op lines Jepsen's `jepsen.util` logger prints, read as Op.

A line looks like `INFO  jepsen.util - 3<TAB>:invoke<TAB>:cas<TAB>[3 0]` (tabs
and spaces mixed). Other lines are skipped. There is no key (key None) and no
time (time = line number). A keyword in the value column of a fail or info
line (`:info :write :timed-out`) is the error; the op then carries its
invoke's value, as in Jepsen's EDN.
"""

from __future__ import annotations

import re
from typing import Any

from sim.check.edn import MAX_DEPTH, Keyword, parse_edn
from sim.config.limits import shown
from sim.errors import HistoryError
from sim.history import INVOKE, NEMESIS, TYPES, Op

__all__ = ["is_op_line", "parse_jepsen_log", "read_jepsen_log"]

_LOG_OP = re.compile(
    r"jepsen\.util\s+-\s+(?P<process>\d+|:[^\s]+)\s+(?P<type>:\S+)\s+(?P<f>:\S+)"
    r"(?:\s+(?P<value>.*?))?\s*$"
)


def is_op_line(line: str) -> bool:
    """True when `line` holds a jepsen.util op line."""
    return _LOG_OP.search(line) is not None


def parse_jepsen_log(text: str) -> list[Op]:
    """Ops from the jepsen.util lines of a Jepsen log (see the module docstring).

    Raises:
        HistoryError: an op line is malformed, or the text has no op line (names the line).
    """
    return [op for _, op in read_jepsen_log(text)]


def read_jepsen_log(text: str) -> list[tuple[int, Op]]:
    """Ops from the jepsen.util lines of a Jepsen log, with the line each is on.

    Raises:
        HistoryError: an op line is malformed, or the text has no op line (names the line).
    """
    ops: list[tuple[int, Op]] = []
    invoked: dict[Any, Any] = {}  # process -> value of its open invoke
    seen_text = False
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        seen_text = True
        m = _LOG_OP.search(line)
        if m is None:
            continue  # another logger's line
        raw_process, raw_type, f = m["process"], m["type"][1:], m["f"][1:]
        process: int | str = int(raw_process) if raw_process.isdigit() else raw_process[1:]
        if raw_type not in TYPES:
            if process == NEMESIS or not isinstance(process, int):
                continue  # e.g. a nemesis message that is not an op
            raise HistoryError(
                f"line {lineno}: type must be one of :invoke, :ok, :fail, :info (got :{raw_type})"
            )
        value: Any = None
        if m["value"]:
            try:
                forms = parse_edn(m["value"], MAX_DEPTH)
            except HistoryError as exc:
                why = str(exc).partition(": ")[2]  # drop parse_edn's own "line 1: "
                raise HistoryError(
                    f"line {lineno}: bad value {shown(m['value'])} ({why})"
                ) from None
            if len(forms) != 1:
                raise HistoryError(f"line {lineno}: expected one value (got {shown(m['value'])})")
            value = forms[0]
        error = None
        if raw_type == INVOKE:
            invoked[process] = value
        else:
            opened_value = invoked.pop(process, None)
            if raw_type in ("fail", "info") and isinstance(value, Keyword):
                # `:info :write :timed-out`: the keyword is the error, not the value.
                error, value = str(value), opened_value
        ops.append((lineno, Op(process, raw_type, f, None, value, float(lineno), error)))
    if seen_text and not ops:
        raise HistoryError(
            "line 1: no Jepsen op lines (expected 'INFO jepsen.util - PROCESS :TYPE :F VALUE')"
        )
    return ops
