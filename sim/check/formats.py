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
from sim.check.jepsen_edn import read_edn_history, to_edn
from sim.check.jepsen_log import is_op_line, read_jepsen_log
from sim.check.jsonl import read_jsonl
from sim.errors import HistoryError
from sim.history import INVOKE, NEMESIS, Op

__all__ = [
    "FORMATS",
    "Keyword",
    "check_completions",
    "detect_format",
    "load_history",
    "parse_edn",
    "parse_history",
    "read_history",
    "to_edn",
]

FORMATS = ("jsonl", "edn", "jepsen-log")
"""The formats parse_history reads (plus "auto", which picks one of them)."""

_READERS = {"jsonl": read_jsonl, "edn": read_edn_history, "jepsen-log": read_jepsen_log}
"""Each format's reader: text in, (line, op) pairs out."""


def check_completions(ops: list[tuple[int, Op]]) -> None:
    """Every completion (ok, fail, info) follows an invoke of its process and `f` still open.

    An `ok` with no invoke has no call time: no checker can place it, and
    dropping it (as the search would) turns a broken history into a verdict.
    The nemesis is exempt (Jepsen logs its actions as `info` alone).

    Raises:
        HistoryError: names the line of the first completion without an invoke.
    """
    open_ops: set[tuple[object, str]] = set()
    for line, op in ops:
        if op.process == NEMESIS:
            continue
        slot = (op.process, op.f)
        if op.type == INVOKE:
            open_ops.add(slot)
        elif slot in open_ops:
            open_ops.discard(slot)
        else:
            raise HistoryError(
                f"line {line}: {op.type} of process {op.process!r} ({op.f}) with no invoke "
                "before it (every completion must follow its invoke)"
            )


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
            except json.JSONDecodeError:
                # JSON's object keys are quoted; EDN's op maps start with a keyword
                return "jsonl" if stripped[1:].lstrip().startswith('"') else "edn"
            except (ValueError, RecursionError):  # JSON, but a huge number or deep nesting
                return "jsonl"
        if stripped.startswith(("[", "(", "#")):
            return "edn"  # a vector or list of ops (Knossos, Jepsen), or a tagged record
        if any(is_op_line(rest) for rest in lines[lineno - 1 :]):
            return "jepsen-log"
        raise HistoryError(
            f"line {lineno}: cannot tell the history's format "
            f"(expected JSON lines, Jepsen EDN or a Jepsen log; pass the format)"
        )
    return "jsonl"  # empty: an empty history in any format


def read_history(text: str, format: str = "auto") -> list[tuple[int, Op]]:
    """Parse a history from text, each op with the line it is on.

    Raises:
        HistoryError: the format is unknown or the text is malformed (names the line).
    """
    if format == "auto":
        format = detect_format(text)
    reader = _READERS.get(format)
    if reader is None:
        raise HistoryError(f"format: must be one of auto, {', '.join(FORMATS)} (got {format!r})")
    return reader(text)


def parse_history(text: str, format: str = "auto") -> list[Op]:
    """Parse a history from text: the format's ops as written (any sequence of ops).

    Args:
        text: the history.
        format: "auto" (detect_format), "jsonl", "edn" or "jepsen-log".

    Raises:
        HistoryError: the format is unknown or the text is malformed (names the line).
    """
    return [op for _, op in read_history(text, format)]


def load_history(
    path: str | Path, format: str = "auto", *, require_invokes: bool = False
) -> list[Op]:
    """Read and parse a history file.

    Args:
        path: the file.
        format: "auto" (detect_format), "jsonl", "edn" or "jepsen-log".
        require_invokes: refuse a completion that follows no open invoke
            (`check_completions`): what a checker needs; a timeline draws the rest.

    Raises:
        HistoryError: the file cannot be read or is malformed, or (require_invokes)
            has a completion without an invoke (names the file and the line).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise HistoryError(f"{path}: not a UTF-8 text file") from None
    try:
        ops = read_history(text, format)
        if require_invokes:
            check_completions(ops)
    except HistoryError as exc:
        raise HistoryError(f"{path}: {exc}") from None
    return [op for _, op in ops]
