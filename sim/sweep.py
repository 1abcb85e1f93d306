"""Parameter sweeps: a grid of scenario overrides × seeds on a process pool or a Dask cluster.

A sweep stands outside the simulator (Mesa's `batch_run`): the scenario does
not know it is swept. Every run is one call of a pure, module-level function
(`run_row`: base scenario dict + overrides + seed in, one flat row out), so it
pickles for any `concurrent.futures.Executor`: a `ProcessPoolExecutor` here, or
a Dask client's executor. Rows are written to the results file as each run
finishes and the returned table is sorted in grid order then seed, never in
completion order, so the same grid and seeds give the same table on either
backend.

The results file is CSV (docs/sweeps.md says why). Cells are written so that
`load_results` reads back exactly what was written: an empty cell is a metric
the run did not produce (another mode's counters, a failed run's metrics),
`null` is a metric that was None, lists are JSON, and a string that would read
back as something else is JSON-quoted. Plain `pandas.read_csv` reads the file
too (both empty and `null` become NaN).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import multiprocessing
import numbers
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import BrokenExecutor, CancelledError, Executor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import CapsimError, ScenarioError
from sim.run import run
from sim.scenario import Scenario, parse_value

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

Row = dict[str, Any]
RowRunner = Callable[[Mapping[str, Any], Mapping[str, Any], int], Row]
"""runner(base scenario dict, overrides, seed) -> row; must be module-level (it pickles)."""
SweepProgress = Callable[[int, int], None]
"""progress(runs_done, runs_total): called with (0, total) first, then after each row is saved."""

BACKENDS = ("local", "dask")
SEED = "seed"
ERROR = "error"
NULL = "null"
DASK_EXTRA = "pip install capsim[dask]"


# --------------------------------------------------------------------------- the run


def run_row(scenario: Mapping[str, Any], overrides: Mapping[str, Any], seed: int) -> Row:
    """One run of a sweep: the pure function every backend calls.

    Args:
        scenario: the base scenario as `Scenario.to_dict()` gives it (a callable
            resolver may stand in `cluster.resolver`; it pickles by reference).
        overrides: dotted path -> value, applied to the base.
        seed: the run's seed.

    Returns:
        The swept fields by dotted path, `seed`, every metric flattened
        (`latency_ms_p99`), and `error` (None here; see `_guarded`).
    """
    result = run(Scenario.from_dict(scenario).with_overrides(overrides), seed=seed)
    return {**overrides, SEED: seed, **result.row(), ERROR: None}


def _guarded(
    runner: RowRunner, scenario: Mapping[str, Any], overrides: Mapping[str, Any], seed: int
) -> Row:
    """`runner`'s row, or, if it raised, a row holding the error in one line.

    Caught in the worker, not the parent: an exception that does not unpickle
    would otherwise break the whole process pool. A failing run is data.
    """
    try:
        return runner(scenario, overrides, seed)
    except Exception as exc:
        return {**overrides, SEED: seed, ERROR: one_line(exc)}


def one_line(exc: BaseException) -> str:
    """`ExcType: message` on one line."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


# --------------------------------------------------------------------------- the plan


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of a grid, the first key varying slowest (like nested loops).

    Args:
        grid: dotted path -> list of values, e.g. `{"cluster.mode": ["weak", "eventual"]}`.

    Returns:
        One override dict per grid point; `[{}]` for an empty grid.

    Raises:
        CapsimError: a key is not a dotted path string, is `seed` (seeds are swept
            by `seeds=`), or its values are not a non-empty list.
    """
    if not isinstance(grid, Mapping):
        raise CapsimError(f"grid: must map dotted paths to lists of values (got {grid!r})")
    for key, values in grid.items():
        if not isinstance(key, str) or not key:
            raise CapsimError(f"grid: keys must be dotted paths (got {key!r})")
        if key == SEED:
            raise CapsimError("grid: seed is swept with seeds= (--seeds), not the grid")
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise CapsimError(f"grid {key}: must be a list of values (got {values!r})")
        if not values:
            raise CapsimError(f"grid {key}: no values")
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """Command-line grid entries (`cluster.mode=strong,weak`) as a grid.

    Values are split at commas outside brackets and quotes, so lists work
    (`faults.0.groups=[[0, 1], [2, 3, 4]],[[0], [1, 2, 3, 4]]`), and each is
    read with `scenario.parse_value` (a TOML literal, else a string).

    Raises:
        CapsimError: an entry has no `=`, an empty value, or repeats a key.
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise CapsimError(f"--grid {item}: expected dotted.key=value1,value2")
        if key in grid:
            raise CapsimError(f"--grid {key}: given twice (list all its values in one --grid)")
        values = _split_top_level(text)
        if any(not v for v in values):
            raise CapsimError(f"--grid {item}: empty value (expected {key}=value1,value2)")
        grid[key] = [parse_value(v) for v in values]
    return grid


def _split_top_level(text: str) -> list[str]:
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _points(
    grid: Mapping[str, Sequence[Any]] | None, overrides: Sequence[Mapping[str, Any]] | None
) -> list[dict[str, Any]]:
    if grid is not None and overrides is not None:
        raise CapsimError("sweep: give a grid or a list of overrides, not both")
    if overrides is None:
        return expand_grid(grid or {})
    if isinstance(overrides, Mapping) or not isinstance(overrides, Sequence) or not overrides:
        raise CapsimError(f"overrides: must be a non-empty list of dicts (got {overrides!r})")
    points = []
    for i, point in enumerate(overrides):
        if not isinstance(point, Mapping) or not all(isinstance(k, str) for k in point):
            raise CapsimError(f"overrides[{i}]: must map dotted paths to values (got {point!r})")
        if SEED in point:
            raise CapsimError(f"overrides[{i}]: seed is swept with seeds=, not overrides")
        points.append(dict(point))
    return points


def _seeds(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, bool):
        raise CapsimError(f"seeds: must be a count or a list of seeds (got {seeds!r})")
    if isinstance(seeds, int):
        if seeds < 1:
            raise CapsimError(f"seeds: must be >= 1 (got {seeds})")
        return list(range(seeds))
    out = list(seeds)
    if not out or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in out):
        raise CapsimError(f"seeds: must be a non-empty list of integers >= 0 (got {out!r})")
    return out


def _columns_of(points: Sequence[Mapping[str, Any]]) -> list[str]:
    """The swept columns: every override key, in order of first appearance."""
    return list(dict.fromkeys(key for point in points for key in point))


def describe(point: Mapping[str, Any]) -> str:
    """`cluster.mode=weak, workload.stock=5` (or `base scenario` for no overrides)."""
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "base scenario"


def _run_key(point: Mapping[str, Any], seed: int) -> str:
    """What identifies a run in the results file: its non-null overrides and its seed."""
    items = sorted((k, _canonical(v)) for k, v in point.items() if v is not None)
    return json.dumps([items, seed])


def _base_dict(base: Scenario) -> dict[str, Any]:
    raw = base.to_dict()
    if callable(base.cluster.resolver):
        # to_dict names a user resolver; the function itself goes to the workers.
        raw["cluster"]["resolver"] = base.cluster.resolver
    return raw


# --------------------------------------------------------------------------- the sweep


def sweep(
    base: Scenario,
    grid: Mapping[str, Sequence[Any]] | None = None,
    overrides: Sequence[Mapping[str, Any]] | None = None,
    seeds: int | Sequence[int] = 1,
    backend: str = "local",
    address: str | None = None,
    workers: int | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    progress: SweepProgress | None = None,
    *,
    runner: RowRunner = run_row,
) -> pd.DataFrame:
    """Run every grid point × seed and return one row per run.

    Every point's scenario is validated before anything runs. A run that raises
    is recorded (its overrides, seed and `error`), never fatal to the sweep.

    Args:
        base: the scenario every run starts from.
        grid: dotted path -> list of values; the sweep runs their product.
        overrides: an explicit list of override dicts instead of a grid.
        seeds: K for seeds 0..K-1, or an explicit list of seeds.
        backend: `local` (a process pool on this machine) or `dask`.
        address: the Dask scheduler (`tcp://host:8786`); without it the dask
            backend starts a LocalCluster of `workers` processes.
        workers: processes to use (default: every core). Not with `address`.
        out: the results file (CSV), written row by row as runs finish.
        resume: read `out` and run only the runs missing from it.
        progress: called as `progress(done, total)`, see `SweepProgress`.
        runner: the per-run function (default `run_row`); module-level, so it
            pickles. Tests inject failures with it.

    Returns:
        A DataFrame, in grid order then seed: the swept fields by dotted path,
        `seed`, the metrics (`latency_ms_p99`), `error` (None or "Type: msg").

    Raises:
        ScenarioError: a grid point's scenario is invalid (message names it).
        CapsimError: bad arguments, `out` exists without `resume`, `out` was
            written from another base scenario, or the dask extra is missing.
    """
    points = _points(grid, overrides)
    swept = _columns_of(points)
    seed_list = _seeds(seeds)
    _check_backend(backend, address, workers)
    for point in points:
        try:
            base.with_overrides(point)
        except ScenarioError as exc:
            raise ScenarioError(f"{exc} [grid point {describe(point)}]") from None
    if backend == "dask":
        _import_dask()

    plan = [(point, seed) for point in points for seed in seed_list]
    keys = [_run_key(point, seed) for point, seed in plan]
    if len(set(keys)) != len(keys):
        seen: set[str] = set()
        for key, (point, seed) in zip(keys, plan, strict=True):
            if key in seen:
                raise CapsimError(f"sweep: run {describe(point)} seed {seed} is listed twice")
            seen.add(key)

    base_raw = _base_dict(base)
    results = ResultsFile(Path(out), base.to_dict(), resume) if out is not None else None
    done: dict[str, Row] = results.rows_by_key(swept) if results is not None else {}
    todo = [i for i, key in enumerate(keys) if key not in done]
    log.debug("sweep: %d runs, %d already in %s", len(keys), len(keys) - len(todo), out)
    if progress is not None:
        progress(0, len(todo))
    if todo:
        with _executor(backend, address, workers, len(todo)) as executor:
            if results is not None:
                results.start()
            futures = {
                executor.submit(_guarded, runner, base_raw, plan[i][0], plan[i][1]): i for i in todo
            }
            for count, future in enumerate(as_completed(futures), start=1):
                i = futures[future]
                point, seed = plan[i]
                try:
                    raw = future.result()
                except (BrokenExecutor, CancelledError):
                    raise  # the pool itself failed: stop; resume picks up from here
                except Exception as exc:  # e.g. Dask's KilledWorker: this run's fault
                    raw = {SEED: seed, ERROR: one_line(exc)}
                row = _normal_row(raw, point, swept, seed)
                if results is not None:
                    results.append(row)
                done[keys[i]] = row
                if progress is not None:
                    progress(count, len(todo))
    return _frame([done[key] for key in keys], swept)


def _check_backend(backend: str, address: str | None, workers: int | None) -> None:
    if backend not in BACKENDS:
        raise CapsimError(f"backend: unknown {backend!r} (allowed: {', '.join(BACKENDS)})")
    if address is not None and backend != "dask":
        raise CapsimError("address: only the dask backend connects to a scheduler")
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise CapsimError(f"workers: must be an integer >= 1 (got {workers!r})")
        if address is not None:
            raise CapsimError(
                "workers: a remote Dask cluster has its own workers; give address or workers"
            )


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _import_dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise CapsimError(f"the dask backend needs the dask extra: {DASK_EXTRA}") from None
    return distributed


@contextmanager
def _executor(
    backend: str, address: str | None, workers: int | None, runs: int
) -> Iterator[Executor]:
    """An executor for the backend; on exit, pending runs are cancelled and it is shut down."""
    if backend == "local":
        # spawn: a fresh interpreter per worker. fork would copy a parent that may
        # run threads (a Dask client, tqdm's monitor, Jupyter's kernel), which can
        # deadlock a child; the start method is chosen here, never set globally.
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            max_workers=min(workers or _cores(), runs),
            mp_context=multiprocessing.get_context("spawn"),
        )
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return

    distributed = _import_dask()
    cluster = None
    if address is not None:
        try:
            client = distributed.Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise CapsimError(
                f"address: cannot reach the Dask scheduler at {address} ({one_line(exc)})"
            ) from None
    else:
        cluster = distributed.LocalCluster(
            n_workers=min(workers or _cores(), runs),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
    executor = client.get_executor(pure=False)
    try:
        yield executor
    finally:
        executor.shutdown(wait=False)  # cancels what has not finished
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------- rows and tables


def _normal_row(
    raw: Mapping[str, Any], point: Mapping[str, Any], swept: Sequence[str], seed: int
) -> Row:
    """The row in column order (swept, seed, metrics, error), as the file reads it back."""
    row: Row = {key: point.get(key) for key in swept}
    row[SEED] = seed
    for key, value in raw.items():
        if key not in row and key != ERROR:
            row[key] = value
    row[ERROR] = raw.get(ERROR)
    return {key: _canonical(value) for key, value in row.items()}


def _merge_columns(columns: list[str], known: set[str], keys: Sequence[str]) -> None:
    """Add the new `keys` to `columns`, each right after its predecessor in `keys`."""
    for i, key in enumerate(keys):
        if key in known:
            continue
        at = columns.index(keys[i - 1]) + 1 if i else 0
        columns.insert(at, key)
        known.add(key)


def _frame(rows: Sequence[Row], swept: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of rows: swept columns, seed, metrics (merged in row order), error."""
    import pandas as pd

    fixed = {*swept, SEED, ERROR}
    metrics: list[str] = []
    known: set[str] = set()
    for row in rows:
        _merge_columns(metrics, known, [k for k in row if k not in fixed])
    columns = [*swept, SEED, *metrics, ERROR]
    return pd.DataFrame({c: [row.get(c) for row in rows] for c in columns}, columns=columns)


# --------------------------------------------------------------------------- CSV cells

_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?|-?(nan|inf)")


def _encode(value: Any) -> str:
    """One value as a CSV cell that `_decode` turns back into the same value."""
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
    plain = text and "\r" not in text and _decode(text) == text
    return text if plain else json.dumps(text)


def _decode(cell: str) -> Any:
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


def _canonical(value: Any) -> Any:
    """The value as it reads back from the file (tuples become lists, numpy scalars Python)."""
    return _decode(_encode(value))


def _row_line(columns: Sequence[str], row: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    cells = [_encode(row[c]) if c in row else "" for c in columns]
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


# --------------------------------------------------------------------------- the results file


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
        rows.append({c: _decode(v) for c, v in zip(header, cells, strict=True) if v != ""})
    return header, rows


def load_results(path: str | Path) -> pd.DataFrame:
    """A sweep's results file as a DataFrame, in file order (completion order).

    Raises:
        CapsimError: the file cannot be read or is not a sweep's results file.
    """
    import pandas as pd

    header, rows = _read_csv(Path(path))
    return pd.DataFrame({c: [row.get(c) for row in rows] for c in header}, columns=header)


def _flat(raw: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(raw, dict):
        out: dict[str, Any] = {}
        for key, value in raw.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): raw}


class ResultsFile:
    """A sweep's CSV, appended one row per finished run, with the base scenario beside it.

    Made before the sweep starts: it reads the rows to resume from and checks
    the base scenario, writing nothing; `start` writes, once the backend is up.

    Each row is one `write` of one complete line, flushed at once, so an
    interrupted sweep keeps every finished run. When a row brings a column the
    header lacks (another mode's counters), the file is rewritten with the
    wider header into a temporary file that replaces it atomically.
    `<name>.scenario.json` holds the base scenario: a sweep resumes only on the
    base it started from.
    """

    def __init__(self, path: Path, scenario: Mapping[str, Any], resume: bool) -> None:
        self.path = path
        self.meta_path = path.with_name(f"{path.stem}.scenario.json")
        self.columns: list[str] = [SEED, ERROR]
        self._known = set(self.columns)
        self.rows: list[Row] = []
        base = {k: v for k, v in scenario.items() if k not in (SEED, "name")}
        self._base = json.loads(json.dumps(base))
        if path.exists():
            if not resume:
                raise CapsimError(
                    f"{path}: already exists; resume it (--resume, resume=True) "
                    f"or choose another output path"
                )
            self.columns, self.rows = _read_csv(path)
            self._known = set(self.columns)
            self._check_base(self._base)

    def start(self) -> None:
        """Write the base scenario and the rows so far (dropping a torn last line)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.meta_path.write_text(json.dumps({"scenario": self._base}, indent=1) + "\n")
        self._rewrite()

    def _check_base(self, base: dict[str, Any]) -> None:
        try:
            stored = json.loads(self.meta_path.read_text())["scenario"]
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CapsimError(f"{self.meta_path}: unreadable ({one_line(exc)})") from None
        was, now = _flat(stored), _flat(base)
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
            key = _run_key({c: row.get(c) for c in own}, row[SEED])
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
        # Columns before `seed` are the swept ones; _merge_columns keeps them there.
        _merge_columns(self.columns, self._known, list(row))
        if len(self.columns) != grown:
            self._rewrite()
            return
        with self.path.open("a", encoding="utf-8", newline="") as f:
            f.write(_row_line(self.columns, row))

    def _rewrite(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerow(self.columns)
            for row in self.rows:
                f.write(_row_line(self.columns, row))
        os.replace(tmp, self.path)


def summary_table(frame: pd.DataFrame, swept: Sequence[str]) -> pd.DataFrame:
    """Per grid point: runs, failed runs, and the mean of a few headline metrics.

    The means are over the seeds of a point that did not fail; a metric no run
    produced is left out.
    """
    import pandas as pd

    headline = ("availability", "oversell_units", "lost_orders", "latency_ms_p99")
    means = [m for m in headline if m in frame.columns]
    failed = frame[ERROR].notna()
    keys = list(swept) or (lambda _: "all")
    groups = frame.assign(failed=failed).groupby(keys, sort=False, dropna=False)
    table = pd.DataFrame({"runs": groups.size(), "failed": groups["failed"].sum()})
    for metric in means:
        table[metric] = groups[metric].mean()
    return table.reset_index() if swept else table.reset_index(drop=True)
