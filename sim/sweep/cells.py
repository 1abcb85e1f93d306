"""The CSV cell codec of a results file (it reads back what it wrote) and errors in one line."""

from __future__ import annotations

import csv
import io
import json
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Row = dict[str, Any]
"""One run: column name -> value (swept fields, `seed`, metrics, `error`)."""

SEED = "seed"
ERROR = "error"
NULL = "null"

_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?|-?(nan|inf)")


def encode(value: Any) -> str:
    """One value as a CSV cell that `decode` turns back into the same value.

    `null` is None; `True`/`False` are booleans; numbers keep full precision
    (`repr`); lists and dicts are JSON; a string that would read back as
    something else is JSON-quoted. An empty cell, which `encode` never writes,
    is a metric the run did not produce (another mode's counters, a failed
    run's metrics). Plain `pandas.read_csv` reads the file too (both empty and
    `null` become NaN there).
    """
    if value is None:
        return NULL
    if isinstance(value, np.generic):
        value = value.item()  # numpy scalar -> Python scalar
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, separators=(", ", ": "))
    text = value if isinstance(value, str) else str(value)
    # A string that would read back as something else ("", "5", "null") is quoted, and
    # so is one with a carriage return, which Python 3.11's csv writer leaves unquoted.
    plain = text and "\r" not in text and decode(text) == text
    return text if plain else json.dumps(text)


def decode(cell: str) -> Any:
    """The value `encode` wrote as `cell`."""
    if cell == NULL:
        return None
    if cell in ("True", "False"):
        return cell == "True"
    if _INT.fullmatch(cell):
        return int(cell)
    if _FLOAT.fullmatch(cell):
        return float(cell)
    if cell[:1] in ('"', "[", "{"):
        try:
            return json.loads(cell)
        except ValueError:
            return cell
    return cell


def canonical(value: Any) -> Any:
    """The value as it reads back from the file (tuples become lists, numpy scalars Python)."""
    return decode(encode(value))


def row_line(columns: Sequence[str], row: Mapping[str, Any]) -> str:
    """One CSV line of `row` under `columns`; a column the row lacks is an empty cell."""
    buffer = io.StringIO()
    cells = [encode(row[c]) if c in row else "" for c in columns]
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def one_line(exc: BaseException) -> str:
    """`ExcType: message` on one line: how an error is written in the `error` column."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
