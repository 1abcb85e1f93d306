"""The plan of a sweep: grid points × seeds as a list of runs, each with its validated scenario."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sim.errors import CapsimError, ScenarioError
from sim.scenario import Scenario, parse_value
from sim.sweep.cells import SEED, canonical, one_line
from sim.sweep.summary import describe


@dataclass(frozen=True, slots=True)
class Run:
    """One run of a sweep: its overrides of the base, the scenario they make, its seed."""

    overrides: Mapping[str, Any]
    scenario: Scenario
    seed: int

    @property
    def key(self) -> str:
        """What identifies the run in the results file (see `run_key`)."""
        return run_key(self.overrides, self.seed)


class SweepStoppedError(Exception):
    """A run raised what is not a `CapsimError` (a bug: `InvariantError`, `KeyError`, ...).

    It stops the sweep rather than becoming a row: a bug must be seen, not
    averaged over. `run` is the run; the exception it raised is `__cause__`.
    """

    def __init__(self, run: Run, cause: BaseException) -> None:
        super().__init__(
            f"run {describe(run.overrides)} seed {run.seed} stopped the sweep: {one_line(cause)}"
        )
        self.run = run


def plan_runs(
    base: Scenario,
    grid: Mapping[str, Sequence[Any]] | None,
    overrides: Sequence[Mapping[str, Any]] | None,
    seeds: int | Sequence[int],
) -> list[Run]:
    """Every grid point × seed, in grid order then seed; each point's scenario built once.

    Raises:
        ScenarioError: a point's scenario is invalid (the message names the point).
        CapsimError: a bad grid, overrides or seeds, or a run listed twice.
    """
    points = _points(grid, overrides)
    seed_list = _seeds(seeds)
    scenarios = [_scenario(base, point) for point in points]
    runs = [
        Run(point, scenario, seed)
        for point, scenario in zip(points, scenarios, strict=True)
        for seed in seed_list
    ]
    seen: set[str] = set()
    for run in runs:
        if run.key in seen:
            raise CapsimError(
                f"sweep: run {describe(run.overrides)} seed {run.seed} is listed twice"
            )
        seen.add(run.key)
    return runs


def swept_columns(runs: Sequence[Run]) -> list[str]:
    """The swept columns: every override key, in order of first appearance."""
    return list(dict.fromkeys(key for run in runs for key in run.overrides))


def run_key(overrides: Mapping[str, Any], seed: int) -> str:
    """A run's identity in the results file: its non-null overrides and its seed."""
    items = sorted((k, canonical(v)) for k, v in overrides.items() if v is not None)
    return json.dumps([items, seed])


def _scenario(base: Scenario, point: Mapping[str, Any]) -> Scenario:
    try:
        return base.with_overrides(point)
    except ScenarioError as exc:
        raise ScenarioError(f"{exc} [grid point {describe(point)}]") from None


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
