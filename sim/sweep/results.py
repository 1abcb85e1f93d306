"""The results file of a sweep: one CSV line per finished run, resumable, with its base scenario."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import CapsimError
from sim.scenario import Scenario
from sim.sweep.cells import ERROR, SEED, Row, decode, one_line, row_line
from sim.sweep.plan import run_key

if TYPE_CHECKING:
    import pandas as pd


class ResultsFile:
    """A sweep's CSV, appended one row per finished run, with the base scenario beside it.

    Made before the sweep starts: it reads the rows to resume from and checks
    the base scenario, writing nothing; `start` writes, once the backend is up.

    Each row is one `write` of one complete line, flushed at once, so an
    interrupted sweep keeps every finished run. When a row brings a column the
    header lacks (another mode's counters), the file is rewritten with the
    wider header into a temporary file that replaces it atomically.
    `<name>.scenario.json` holds the base scenario (`Scenario.to_dict()`, seed
    and name left out): a sweep resumes only on the base it started from.
    """

    def __init__(self, path: Path, base: Scenario, resume: bool) -> None:
        self.path = path
        self.meta_path = path.with_name(f"{path.stem}.scenario.json")
        self.columns: list[str] = [SEED, ERROR]
        self._known = set(self.columns)
        self.rows: list[Row] = []
        # Through JSON, so that it compares equal to what the file holds (lists, not tuples).
        raw = {k: v for k, v in base.to_dict().items() if k not in (SEED, "name")}
        self._base = json.loads(json.dumps(raw))
        if path.is_dir():
            raise CapsimError(f"{path}: is a directory (expected the results file's name)")
        if path.exists():
            if not resume:
                raise CapsimError(
                    f"{path}: already exists; resume it (--resume, resume=True) "
                    f"or choose another output path"
                )
            self.columns, self.rows = _read_csv(path)
            self._known = set(self.columns)
            self._check_base()

    def start(self) -> None:
        """Write the base scenario and the rows so far (dropping a torn last line)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.meta_path.write_text(json.dumps({"scenario": self._base}, indent=1) + "\n")
        self._rewrite()

    def _check_base(self) -> None:
        try:
            stored = json.loads(self.meta_path.read_text())["scenario"]
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CapsimError(f"{self.meta_path}: unreadable ({one_line(exc)})") from None
        was, now = _flat(stored), _flat(self._base)
        diff = [k for k in sorted(was.keys() | now.keys()) if was.get(k) != now.get(k)]
        if diff:
            shown = "; ".join(f"{k}: {was.get(k)!r} in the file, {now.get(k)!r} now" for k in diff)
            raise CapsimError(
                f"{self.path}: written from a different base scenario ({shown}); "
                f"choose another output path"
            )

    def rows_by_key(self, swept: Sequence[str]) -> dict[str, Row]:
        """The rows already in the file by run key, shaped like the rows of this sweep."""
        own = self.columns[: self.columns.index(SEED)]
        out: dict[str, Row] = {}
        for row in self.rows:
            key = run_key({c: row.get(c) for c in own}, row[SEED])
            if key in out:
                continue  # the same run twice (a hand-merged file): keep the first
            shaped: Row = {c: row.get(c) for c in swept}
            shaped.update((k, v) for k, v in row.items() if k not in own and k not in shaped)
            shaped[ERROR] = shaped.pop(ERROR, None)
            out[key] = shaped
        return out

    def append(self, row: Row) -> None:
        """Add one finished run (the file is complete after every call)."""
        self.rows.append(row)
        grown = len(self.columns)
        # Columns before `seed` are the swept ones; merge_columns keeps them there.
        merge_columns(self.columns, self._known, list(row))
        if len(self.columns) != grown:
            self._rewrite()
            return
        with self.path.open("a", encoding="utf-8", newline="") as f:
            f.write(row_line(self.columns, row))

    def _rewrite(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerow(self.columns)
            for row in self.rows:
                f.write(row_line(self.columns, row))
        os.replace(tmp, self.path)


def load_results(path: str | Path) -> pd.DataFrame:
    """A sweep's results file as a DataFrame, in file order (completion order).

    Raises:
        CapsimError: the file cannot be read or is not a sweep's results file.
    """
    header, rows = _read_csv(Path(path))
    return frame_of(rows, header)


def frame_of(rows: Sequence[Row], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of `rows` with exactly `columns`; a cell a row lacks is None."""
    import pandas as pd

    return pd.DataFrame({c: [row.get(c) for row in rows] for c in columns}, columns=columns)


def merge_columns(columns: list[str], known: set[str], keys: Sequence[str]) -> None:
    """Add the new `keys` to `columns`, each right after its predecessor in `keys`."""
    for i, key in enumerate(keys):
        if key in known:
            continue
        at = columns.index(keys[i - 1]) + 1 if i else 0
        columns.insert(at, key)
        known.add(key)


def _read_csv(path: Path) -> tuple[list[str], list[Row]]:
    """Header and rows of a results file; a torn last line (no newline) is dropped."""
    try:
        with path.open(encoding="utf-8", newline="") as f:  # a "\r" in a cell stays one
            text = f.read()
    except OSError as exc:
        raise CapsimError(f"{path}: cannot read ({one_line(exc)})") from None
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # interrupted mid-write: that run reruns
    lines = list(csv.reader(io.StringIO(text, newline="")))
    if not lines or SEED not in lines[0]:
        raise CapsimError(f"{path}: not a sweep results file (no {SEED} column)")
    header, rows = lines[0], []
    for n, cells in enumerate(lines[1:], start=2):
        if len(cells) != len(header):
            raise CapsimError(f"{path}: row {n} has {len(cells)} cells, the header {len(header)}")
        rows.append({c: decode(v) for c, v in zip(header, cells, strict=True) if v != ""})
    return header, rows


def _flat(raw: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(raw, dict):
        out: dict[str, Any] = {}
        for key, value in raw.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): raw}
