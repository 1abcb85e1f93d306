"""Shared plumbing of the experiment scripts: arguments, sweeps with a bar, confidence intervals.

Each experiment answers one question with one sweep (or a few), writes its
table to results/ and its figures to figures/, and prints both paths and a
short text summary. `--quick` is a small grid for CI and first looks (under a
minute on a 2-core machine); without it the grid is larger and uses more seeds.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from sim import Scenario, load_scenario, sweep
from sim.cli import progress_bar
from sim.plugins import MODES

ROOT = Path(__file__).resolve().parent.parent
# Tests point these elsewhere so that they never touch the committed figures.
RESULTS = Path(os.environ.get("CAPSIM_RESULTS", ROOT / "results"))
FIGURES = Path(os.environ.get("CAPSIM_FIGURES", ROOT / "figures"))
SCENARIOS = ROOT / "scenarios"

# Student's t quantile t(0.975, df) for 95% intervals over a few seeds.
_T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    12: 2.179,
    15: 2.131,
    20: 2.086,
    30: 2.042,
}

MODE_COLORS = {spec.name: spec.colour for spec in MODES}
"""Each mode's colour, as its ModeSpec declares it (sim/modes)."""


def arguments(doc: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options every experiment takes."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small grid (CI, first looks)")
    parser.add_argument("--seeds", type=int, help="seeds per grid point (default: 3 quick, 5)")
    parser.add_argument("--backend", choices=("local", "dask"), default="local")
    parser.add_argument("--address", help="Dask scheduler address (with --backend dask)")
    parser.add_argument("--workers", type=int, help="processes (default: every core)")
    parser.add_argument("--resume", action="store_true", help="keep the rows already computed")
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = 3 if args.quick else 5
    return args


def base_scenario(name: str = "flash_sale_partition.toml", **overrides: Any) -> Scenario:
    """A shipped scenario with dotted-path overrides."""
    scenario = load_scenario(SCENARIOS / name)
    return scenario.with_overrides(overrides) if overrides else scenario


def run_sweep(
    name: str,
    base: Scenario,
    args: argparse.Namespace,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    overrides: Sequence[Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Run a sweep with a progress bar; rows go to results/NAME[-quick].csv as they arrive."""
    out = RESULTS / f"{name}{'-quick' if args.quick else ''}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not args.resume:
        for stale in (out, out.with_suffix(".scenario.json")):
            stale.unlink(missing_ok=True)
    with progress_bar(name) as bar:

        def advance(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        bar.bar_format = "{desc}: {n}/{total} runs |{bar}| {elapsed}<{remaining}"
        frame = sweep(
            base,
            grid=grid,
            overrides=overrides,
            seeds=args.seeds,
            backend=args.backend,
            address=args.address,
            workers=args.workers,
            out=out,
            resume=args.resume,
            progress=advance,
        )
    failed = frame["error"].notna().sum()
    if failed:
        print(
            f"warning: {failed} of {len(frame)} runs failed; see the error column of {out}",
            file=sys.stderr,
        )
    frame.attrs["path"] = out
    return frame


def t975(n: int) -> float:
    """Student's t quantile for a 95% two-sided interval with n samples (n-1 d.o.f.)."""
    if n < 2:
        return math.nan
    df = n - 1
    known = [k for k in _T975 if k <= df]
    return _T975[max(known)] if df <= 30 else 1.96


def summarise(frame: pd.DataFrame, by: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """Mean and 95% confidence half-width over seeds of each column, per group."""
    ok = frame[frame["error"].isna()] if "error" in frame else frame
    rows = []
    for keys, group in ok.groupby(list(by), sort=False, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row = dict(zip(by, keys, strict=True))
        for col in columns:
            values = pd.to_numeric(group[col], errors="coerce").dropna()
            n = len(values)
            row[col] = values.mean() if n else math.nan
            row[f"{col}_ci"] = (t975(n) * values.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
        row["runs"] = len(group)
        rows.append(row)
    return pd.DataFrame(rows)


def errorbar_lines(
    ax: Any,
    summary: pd.DataFrame,
    x: str,
    y: str,
    hue: str,
    colors: Mapping[str, str] | None = None,
    label_prefix: str = "",
    linestyle: str = "-",
) -> None:
    """One line per `hue` value with 95% CI error bars over seeds."""
    for value, group in summary.groupby(hue, sort=False):
        group = group.sort_values(x)
        ax.errorbar(
            group[x],
            group[y],
            yerr=group[f"{y}_ci"],
            marker="o",
            capsize=3,
            label=f"{label_prefix}{value}",
            color=(colors or {}).get(value),
            linestyle=linestyle,
        )


def log_x(ax: Any, ticks: Sequence[float]) -> None:
    """A log-scaled x axis with a plain-number tick at each value swept."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    ax.set_xticks(sorted(set(ticks)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def save(fig: Any, name: str, quick: bool, legend_below: bool = False) -> Path:
    """Write a figure to figures/NAME[-quick].png and close it (room below for a legend)."""
    path = FIGURES / f"{name}{'-quick' if quick else ''}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1) if legend_below else None)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def report(table: Path, figures: Sequence[Path], lines: Sequence[str]) -> None:
    """Print where the results went and a short text summary."""
    print(f"table:  {_rel(table)}")
    for fig in figures:
        print(f"figure: {_rel(fig)}")
    for line in lines:
        print(line)


def finish(frame: pd.DataFrame, args: argparse.Namespace, module: Any) -> pd.DataFrame:
    """Label the sweep's table, plot it, print paths and summary (the module's functions)."""
    table = frame.attrs["path"]
    frame = module.label(frame)
    report(table, module.plot(frame, args), module.summary_lines(frame))
    return frame


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def seeds_note(args: argparse.Namespace) -> str:
    """Subtitle text: how many seeds the error bars are over."""
    return f"mean and 95% CI over {args.seeds} seeds"
