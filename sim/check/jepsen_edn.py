"""Jepsen's EDN history format: op maps read as Op, and written back by to_edn.

One map per op, e.g.
`{:index 0, :process 0, :type :invoke, :f :read, :key "x", :value nil, :time 0}`.
Read as one map per top-level form, or one top-level vector or list of maps
(Knossos's data files are vectors; a pretty-printed history is a list); `;`
comments and `#_` discards are skipped, record tags (`#jepsen.history.Op{...}`)
accepted and ignored. Jepsen's `:time` is
nanoseconds; an Op's is milliseconds, so it is divided by 10^6 on import and
multiplied (then rounded to whole nanoseconds) on export. A map without
`:time` gets its line number.

Jepsen's tools assume a process never invokes again after an `info` (Jepsen
retires the thread's process and gives it a new id). capsim keeps a client's
id, so `to_edn` renumbers like Jepsen: a process that continues after an info
becomes `id + n`, where n is one more than the largest integer process id
(Jepsen's concurrency when ids are 0..n-1), and again after each later info.
Parsing an exported history therefore gives the same ops with those new ids;
the checker's verdict is the same either way.

A transaction (`:f :txn`) is written with Jepsen's micro-op vectors: capsim's
`["write", k, v]` as `[:w k v]`, `["cas", k, [a, b]]` as `[:cas k [a b]]`
(and `["read", k, v]` as `[:r k v]`); reading turns them back, so an exported
transaction parses to the same op.
"""

from __future__ import annotations

from typing import Any

from sim.check.edn import Keyword, hashable, is_keyword_name, read_forms
from sim.check.edn_writer import write_edn, write_edn_name
from sim.errors import HistoryError
from sim.history import INFO, INVOKE, TYPES, History, Op

__all__ = ["parse_edn_history", "read_edn_history", "to_edn"]


def _name(value: Any) -> str | None:
    """A keyword, symbol or string as a plain str; anything else None."""
    return str(value) if isinstance(value, str) else None


TXN = "txn"
_MICRO_TO_EDN = {"write": "w", "read": "r", "cas": "cas"}
_MICRO_FROM_EDN = {edn: ours for ours, edn in _MICRO_TO_EDN.items()}


def _micro_ops(value: Any, names: dict[str, str], keyword: bool) -> Any:
    """A transaction's micro-ops with their names mapped (others, and other values, as they are)."""
    if not isinstance(value, list | tuple):
        return value
    out = []
    for micro in value:
        if isinstance(micro, list | tuple) and micro and isinstance(micro[0], str):
            name = names.get(str(micro[0]), str(micro[0]))
            micro = [Keyword(name) if keyword else name, *micro[1:]]
        out.append(micro)
    return out


def _op_from_edn(form: Any, line: int) -> Op:
    """One Jepsen op map as an Op."""
    if not isinstance(form, dict):
        raise HistoryError(f"line {line}: expected an op map {{:process .. :type ..}}")
    if "process" not in form or "type" not in form or "f" not in form:
        missing = [k for k in ("process", "type", "f") if k not in form]
        raise HistoryError(f"line {line}: op map has no {', '.join(':' + k for k in missing)}")
    process = form["process"]
    if isinstance(process, str):
        process = str(process)
    elif isinstance(process, bool) or not isinstance(process, int):
        raise HistoryError(
            f"line {line}: :process must be an integer or a keyword (got {process!r})"
        )
    op_type = _name(form["type"])
    if op_type not in TYPES:
        raise HistoryError(
            f"line {line}: :type must be one of :invoke, :ok, :fail, :info (got {form['type']!r})"
        )
    f = _name(form["f"])
    if f is None:
        raise HistoryError(f"line {line}: :f must be a keyword (got {form['f']!r})")
    raw_time = form.get("time")
    if raw_time is None:
        time_ms = float(line)
    elif isinstance(raw_time, int | float) and not isinstance(raw_time, bool):
        time_ms = raw_time / 1e6  # Jepsen's :time is nanoseconds
    else:
        raise HistoryError(f"line {line}: :time must be a number (got {raw_time!r})")
    error = form.get("error")
    if error is not None and not isinstance(error, str):
        error = write_edn(error)
    elif error is not None:
        error = str(error)
    key = form.get("key")
    value = form.get("value")
    if f == TXN:
        value = _micro_ops(value, _MICRO_FROM_EDN, keyword=False)
    return Op(
        process,
        op_type,
        f,
        hashable(key),
        value,
        time_ms,
        error,
        form.get("version"),
    )


def read_edn_history(text: str) -> list[tuple[int, Op]]:
    """Ops from a Jepsen EDN history with the line each op's map starts on.

    Raises:
        HistoryError: the text is not EDN or an op map is malformed (names the line).
    """
    return [(line, _op_from_edn(form, line)) for line, form in read_forms(text, unwrap_vector=True)]


def parse_edn_history(text: str) -> list[Op]:
    """Ops from a Jepsen EDN history (see the module docstring).

    Raises:
        HistoryError: the text is not EDN or an op map is malformed (names the line).
    """
    return [op for _, op in read_edn_history(text)]


def to_edn(ops: list[Op] | History) -> str:
    """Jepsen EDN for a history: one op map per line, keys in a fixed order.

    Processes that invoke again after an `info` are renumbered as Jepsen does
    (see the module docstring), so Jepsen's checkers can read the result.

    Raises:
        HistoryError: a value has no EDN form (the message names the op).
    """
    ops = list(ops)
    ints = [op.process for op in ops if isinstance(op.process, int)]
    n = max(ints, default=-1) + 1  # Jepsen's concurrency, when ids are 0..n-1
    current: dict[int, int] = {}  # process -> id its next invoke gets
    opened: dict[tuple[int, str], int] = {}  # (process, f) -> id its invoke got
    lines = []
    for index, op in enumerate(ops):
        process: Any = op.process
        if isinstance(process, int):
            if op.type == INVOKE:
                pid = current.get(process, process)
                opened[(process, op.f)] = pid
            else:
                pid = opened.pop((process, op.f), current.get(process, process))
                if op.type == INFO:
                    # Jepsen: a process whose op crashed never invokes again; its
                    # thread continues as process + concurrency.
                    current[process] = current.get(process, process) + n
            process = pid
        else:
            process = Keyword(process) if is_keyword_name(process) else process
        fields = [
            f":index {index}",
            f":process {write_edn(process)}",
            f":type :{op.type}",
            f":f {write_edn_name(op.f)}",
        ]
        try:
            fields.append(f":key {write_edn(op.key)}")
            value = _micro_ops(op.value, _MICRO_TO_EDN, keyword=True) if op.f == TXN else op.value
            fields.append(f":value {write_edn(value)}")
            fields.append(f":time {round(op.time * 1e6)}")  # Jepsen's :time is nanoseconds
            if op.error is not None:
                fields.append(f":error {write_edn_name(op.error)}")
            if op.version is not None:
                fields.append(f":version {write_edn(op.version)}")
        except TypeError as exc:
            raise HistoryError(f"op {index + 1}: {exc}") from None
        lines.append("{" + ", ".join(fields) + "}\n")
    return "".join(lines)
