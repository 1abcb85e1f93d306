"""capsim's JSON lines history format (`History.to_jsonl`), read with each op's fields checked."""

from __future__ import annotations

from sim.errors import HistoryError
from sim.history import TYPES, History, Op

__all__ = ["parse_jsonl"]


def parse_jsonl(text: str) -> list[Op]:
    """Ops from JSON lines, one object per line (blank lines skipped).

    Raises:
        HistoryError: a line is not an op, or a field has the wrong type (names the line).
    """
    ops = History.from_jsonl(text).ops
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    for op, line in zip(ops, lines, strict=True):
        if op.type not in TYPES:
            raise HistoryError(
                f"line {line}: type must be one of {', '.join(TYPES)} (got {op.type!r})"
            )
        if not isinstance(op.f, str):
            raise HistoryError(f"line {line}: f must be a string (got {op.f!r})")
        if isinstance(op.process, bool) or not isinstance(op.process, int | str):
            raise HistoryError(
                f"line {line}: process must be an integer or a string (got {op.process!r})"
            )
    return ops
