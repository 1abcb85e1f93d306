"""capsim's JSON lines history format (`History.to_jsonl`), read with each op's fields checked.

Each line is read on its own, so that whatever is wrong (a truncated line, a
number of 5,000 digits, arrays nested 100,000 deep, a missing field) is one
HistoryError naming the line, never an exception from the JSON decoder.
"""

from __future__ import annotations

import json
from typing import Any

from sim.check.edn import MAX_DEPTH, MAX_INT_DIGITS, hashable
from sim.config.limits import nesting
from sim.errors import HistoryError
from sim.history import TYPES, Op

__all__ = ["parse_jsonl", "read_jsonl"]

_FIELDS = ("process", "type", "f")
_INFINITE = (float("inf"), float("-inf"))


def _load(line: str, lineno: int) -> dict[str, Any]:
    """One line as a JSON object, or a HistoryError saying why not."""
    try:
        raw = json.loads(line)
    except RecursionError:
        raise HistoryError(f"line {lineno}: nested too deep to read") from None
    except json.JSONDecodeError as exc:
        raise HistoryError(
            f"line {lineno}: not JSON ({exc.msg} at column {exc.colno}; a truncated line?)"
        ) from None
    except ValueError:  # Python's limit on integer digits
        raise HistoryError(
            f"line {lineno}: an integer too long to read (at most {MAX_INT_DIGITS} digits)"
        ) from None
    if not isinstance(raw, dict):
        raise HistoryError(f"line {lineno}: expected an op object {{process, type, f, ...}}")
    return raw


def _op(raw: dict[str, Any], lineno: int) -> Op:
    """The op one JSON object holds, its fields checked."""
    if "process" not in raw or "type" not in raw or "f" not in raw:
        missing = ", ".join(k for k in _FIELDS if k not in raw)
        raise HistoryError(f"line {lineno}: not a history op (no {missing})")
    process, op_type, f = raw["process"], raw["type"], raw["f"]
    if op_type not in TYPES:
        raise HistoryError(
            f"line {lineno}: type must be one of {', '.join(TYPES)} (got {str(op_type)[:40]!r})"
        )
    if not isinstance(f, str):
        raise HistoryError(f"line {lineno}: f must be a string (got {str(f)[:40]!r})")
    if isinstance(process, bool) or not isinstance(process, int | str):
        raise HistoryError(
            f"line {lineno}: process must be an integer or a string (got {str(process)[:40]!r})"
        )
    time = raw.get("time", 0.0)
    if type(time) is not float and (isinstance(time, bool) or not isinstance(time, int)):
        raise HistoryError(f"line {lineno}: time must be a number (got {str(time)[:40]!r})")
    if time != time or time in _INFINITE:  # JSON's NaN and Infinity
        raise HistoryError(f"line {lineno}: time must be a finite number (got {time})")
    error = raw.get("error")
    if error is not None and not isinstance(error, str):
        raise HistoryError(f"line {lineno}: error must be a string (got {str(error)[:40]!r})")
    key, value, version = raw.get("key"), raw.get("value"), raw.get("version")
    if isinstance(key, list | dict) or isinstance(value, list | dict) or version is not None:
        for field, item in (("key", key), ("value", value), ("version", version)):
            if nesting(item, MAX_DEPTH) > MAX_DEPTH:
                raise HistoryError(f"line {lineno}: {field} nested deeper than {MAX_DEPTH} levels")
    if isinstance(key, list | dict):
        key = hashable(key)  # the checker partitions by key
    return Op(process, op_type, f, key, value, float(time), error, version)


def read_jsonl(text: str) -> list[tuple[int, Op]]:
    """Ops from JSON lines with the line each is on (blank lines skipped).

    Raises:
        HistoryError: a line is not an op, or a field has the wrong type (names the line).
    """
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            out.append((lineno, _op(_load(line, lineno), lineno)))
    return out


def parse_jsonl(text: str) -> list[Op]:
    """Ops from JSON lines, one object per line (blank lines skipped).

    Raises:
        HistoryError: a line is not an op, or a field has the wrong type (names the line).
    """
    return [op for _, op in read_jsonl(text)]
