"""History file formats: detecting a history's format, parsing it by name, loading a file.

Three formats, one shape (`list[Op]` from sim/history.py), one module each:

- `jsonl`: capsim's own, one JSON object per line (sim/check/jsonl.py).
- `edn`: Jepsen's history format, one op map per form, or one vector or list
  of them (sim/check/jepsen_edn.py, on the EDN reader and writer in
  sim/check/edn.py and edn_writer.py).

Every reader is one pass over the text (linear in its length).
- `jepsen-log`: the op lines of a Jepsen test's log (sim/check/jepsen_log.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from sim.check.edn import Keyword, parse_edn
from sim.check.jepsen_edn import parse_edn_history, to_edn
from sim.check.jepsen_log import is_op_line, parse_jepsen_log
from sim.check.jsonl import parse_jsonl
from sim.errors import HistoryError
from sim.history import Op

__all__ = [
    "FORMATS",
    "Keyword",
    "detect_format",
    "load_history",
    "parse_edn",
    "parse_history",
    "to_edn",
]

FORMATS = ("jsonl", "edn", "jepsen-log")
"""The formats parse_history reads (plus "auto", which picks one of them)."""

_PARSERS = {"jsonl": parse_jsonl, "edn": parse_edn_history, "jepsen-log": parse_jepsen_log}


def detect_format(text: str) -> str:
    """Guess a history's format from its text: "jsonl", "edn" or "jepsen-log".

    Raises:
        HistoryError: no format fits.
    """
    lines = text.splitlines()
    for lineno, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith("{"):
            try:
                return "jsonl" if isinstance(json.loads(stripped), dict) else "edn"
            except ValueError:
                return "edn"
        if stripped.startswith(("[", "(", "#")):
            return "edn"  # a vector or list of ops (Knossos, Jepsen), or a tagged record
        if any(is_op_line(rest) for rest in lines[lineno - 1 :]):
            return "jepsen-log"
        raise HistoryError(
            f"line {lineno}: cannot tell the history's format "
            f"(expected JSON lines, Jepsen EDN or a Jepsen log; pass the format)"
        )
    return "jsonl"  # empty: an empty history in any format


def parse_history(text: str, format: str = "auto") -> list[Op]:
    """Parse a history from text.

    Args:
        text: the history.
        format: "auto" (detect_format), "jsonl", "edn" or "jepsen-log".

    Raises:
        HistoryError: the format is unknown or the text is malformed (names the line).
    """
    if format == "auto":
        format = detect_format(text)
    parser = _PARSERS.get(format)
    if parser is None:
        raise HistoryError(f"format: must be one of auto, {', '.join(FORMATS)} (got {format!r})")
    return parser(text)


def load_history(path: str | Path, format: str = "auto") -> list[Op]:
    """Read and parse a history file.

    Raises:
        HistoryError: the file cannot be read or is malformed.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise HistoryError(f"{path}: not a UTF-8 text file") from None
    try:
        return parse_history(text, format)
    except HistoryError as exc:
        raise HistoryError(f"{path}: {exc}") from None
