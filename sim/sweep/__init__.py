"""Parameter sweeps: a grid of scenario overrides × seeds on a process pool or a Dask cluster."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import BrokenExecutor, CancelledError, Future, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import CapsimError
from sim.run import run
from sim.scenario import Scenario
from sim.sweep.backends import BACKENDS, check_backend, executor, import_dask, lost_worker_errors
from sim.sweep.cells import ERROR, SEED, Row, canonical, one_line
from sim.sweep.plan import Run, SweepStoppedError, expand_grid, parse_grid, plan_runs, swept_columns
from sim.sweep.results import ResultsFile, frame_of, load_results, merge_columns
from sim.sweep.results import _read_csv as _read_csv  # tests read raw cells with it
from sim.sweep.summary import describe, summary_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BACKENDS",
    "ResultsFile",
    "Row",
    "RowRunner",
    "Run",
    "SweepProgress",
    "SweepStoppedError",
    "describe",
    "expand_grid",
    "load_results",
    "one_line",
    "parse_grid",
    "run_row",
    "summary_table",
    "sweep",
]

log = logging.getLogger(__name__)

RowRunner = Callable[[Scenario, int], Row]
"""runner(scenario, seed) -> the run's metrics row; module-level, so that it pickles."""
SweepProgress = Callable[[int, int], None]
"""progress(runs_done, runs_total): called with (0, total) first, then after each row is saved."""


def run_row(scenario: Scenario, seed: int) -> Row:
    """One run of a sweep, the function every backend calls: scenario and seed in, metrics out.

    Returns:
        Every metric flattened (`latency_ms_p99`); the sweep adds the swept
        fields, `seed` and `error`.
    """
    return run(scenario, seed=seed).row()


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

    A sweep stands outside the simulator (Mesa's `batch_run`): the scenario
    does not know it is swept. Each point's scenario is built and validated
    once, here, before anything runs; the workers get it with the seed. Rows
    are written to `out` as runs finish; the table is in grid order then seed,
    never completion order, so it is the same on every backend.

    A run that raises a `CapsimError`, or whose worker dies (a `MemoryError`,
    Dask's `KilledWorker`), is a row with its `error`. Any other exception from
    a run is a bug and stops the sweep (`SweepStoppedError`), as does a broken pool;
    the rows written so far stay in `out`, and `resume` continues.

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
        SweepStoppedError: a run raised what is not a `CapsimError` (its `__cause__`),
            e.g. an `InvariantError`; the message names the run.
        BrokenExecutor, CancelledError: the pool or cluster itself failed.
    """
    check_backend(backend, address, workers)
    runs = plan_runs(base, grid, overrides, seeds)
    if backend == "dask":
        import_dask()
    swept = swept_columns(runs)
    results = ResultsFile(Path(out), base, resume) if out is not None else None
    done: dict[str, Row] = results.rows_by_key(swept) if results is not None else {}
    todo = [one for one in runs if one.key not in done]
    log.debug("sweep: %d runs, %d already in %s", len(runs), len(runs) - len(todo), out)
    if progress is not None:
        progress(0, len(todo))
    if todo:
        with executor(backend, address, workers, len(todo)) as pool:
            if results is not None:
                results.start()
            lost = lost_worker_errors(backend)
            futures = {pool.submit(runner, one.scenario, one.seed): one for one in todo}
            for count, future in enumerate(as_completed(futures), start=1):
                planned = futures[future]
                row = _normal_row(_outcome(future, planned, lost), planned, swept)
                if results is not None:
                    results.append(row)
                done[planned.key] = row
                if progress is not None:
                    progress(count, len(todo))
    return _frame([done[one.key] for one in runs], swept)


def _outcome(future: Future[Row], planned: Run, lost: tuple[type[BaseException], ...]) -> Row:
    """The run's metrics and `error`: None, or the error of a run that failed as data.

    Raises:
        SweepStoppedError: the run raised anything else: a bug stops the sweep.
    """
    try:
        return {**future.result(), ERROR: None}
    except (BrokenExecutor, CancelledError):
        raise  # the pool itself failed: stop; resume picks up from here
    except (CapsimError, MemoryError, *lost) as exc:
        return {ERROR: one_line(exc)}
    except Exception as exc:  # not caught: re-raised, naming the run
        raise SweepStoppedError(planned, exc) from exc


def _normal_row(raw: Mapping[str, Any], planned: Run, swept: Sequence[str]) -> Row:
    """The row in column order (swept, seed, metrics, error), as the file reads it back."""
    row: Row = {key: planned.overrides.get(key) for key in swept}
    row[SEED] = planned.seed
    for key, value in raw.items():
        if key not in row and key != ERROR:
            row[key] = value
    row[ERROR] = raw.get(ERROR)
    return {key: canonical(value) for key, value in row.items()}


def _frame(rows: Sequence[Row], swept: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of rows: swept columns, seed, metrics (merged in row order), error."""
    fixed = {*swept, SEED, ERROR}
    metrics: list[str] = []
    known: set[str] = set()
    for row in rows:
        merge_columns(metrics, known, [k for k in row if k not in fixed])
    return frame_of(rows, [*swept, SEED, *metrics, ERROR])
