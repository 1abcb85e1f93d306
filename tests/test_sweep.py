"""Sweeps: grid order, same table on every backend, resume, failures as rows, bugs stop, CLI."""

from __future__ import annotations

import functools
import importlib
import json
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.cli import main
from sim.errors import CapsimError, InvariantError, ScenarioError
from sim.run import run
from sim.scenario import Scenario
from sim.sweep import (
    ResultsFile,
    SweepStoppedError,
    _read_csv,
    expand_grid,
    load_results,
    parse_grid,
    run_row,
    sweep,
)

GRID = {"cluster.mode": ["weak", "eventual"]}
TOML = """\
duration_ms = 1500
settle_ms = 500
[cluster]
mode = "weak"
[[faults]]
kind = "partition"
start_ms = 200
end_ms = 800
groups = [[0, 1], [2, 3, 4]]
[workload]
customers = 20
stock = 5
"""
BASE = Scenario.from_dict(tomllib.loads(TOML))  # the same scenario as the CLI tests' file


class Interrupted(Exception):
    """Stands for Ctrl-C or a killed parent: raised from the progress callback."""


def raising_runner(error: BaseException, scenario: Scenario, seed: int) -> dict:
    """run_row, except that eventual seed 1 raises `error` (module-level: it pickles).

    Eventual seed 1 is the last run of GRID x 2 seeds; on one worker the runs
    finish in plan order, so the three before it are done when it raises.
    """
    if scenario.cluster.mode == "eventual" and seed == 1:
        raise error
    return run_row(scenario, seed)


def scenario_runner(scenario: Scenario, seed: int) -> dict:
    """What a worker is handed: the type of its scenario argument and the mode in it."""
    return {"given": type(scenario).__name__, "given_mode": scenario.cluster.mode}


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    """The table of GRID x 2 seeds on the local process pool."""
    return sweep(BASE, grid=GRID, seeds=2, workers=2)


# --------------------------------------------------------------------------- the plan


def test_expand_grid_is_the_product_with_the_first_key_slowest() -> None:
    grid = {"cluster.mode": ["weak", "eventual"], "workload.stock": [1, 2, 3]}
    points = expand_grid(grid)
    assert points[:4] == [
        {"cluster.mode": "weak", "workload.stock": 1},
        {"cluster.mode": "weak", "workload.stock": 2},
        {"cluster.mode": "weak", "workload.stock": 3},
        {"cluster.mode": "eventual", "workload.stock": 1},
    ]
    assert len(points) == 6
    assert expand_grid({}) == [{}]


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"cluster.mode": []}, "no values"),
        ({"cluster.mode": "weak"}, "must be a list"),
        ({"seed": [1, 2]}, "seeds="),
        ({"": [1]}, "dotted paths"),
    ],
)
def test_expand_grid_rejects_bad_grids(grid: dict, message: str) -> None:
    with pytest.raises(CapsimError, match=message):
        expand_grid(grid)


def test_parse_grid_splits_at_top_level_commas_and_reads_toml_literals() -> None:
    grid = parse_grid(
        ["cluster.mode=strong,weak", "workload.stock=5, 10", "faults.0.groups=[[0, 1]],[[0], [1]]"]
    )
    assert grid == {
        "cluster.mode": ["strong", "weak"],
        "workload.stock": [5, 10],
        "faults.0.groups": [[[0, 1]], [[0], [1]]],
    }
    for bad in (["cluster.mode"], ["cluster.mode="], ["a=1", "a=2"], ["=1"]):
        with pytest.raises(CapsimError):
            parse_grid(bad)


def test_every_point_is_validated_before_anything_runs(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    with pytest.raises(ScenarioError, match=r"cluster.mode: unknown 'strnog' \(allowed: "):
        sweep(BASE, grid={"cluster.mode": ["weak", "strnog"]}, out=out)
    assert not out.exists()


def test_the_dask_backend_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(CapsimError, match=r"pip install capsim\[dask\]"):
        sweep(BASE, grid=GRID, backend="dask")


def test_bad_backend_arguments_fail_at_once() -> None:
    for kwargs in (
        {"backend": "ray"},
        {"address": "tcp://x:1"},
        {"workers": 0},
        {"backend": "dask", "address": "tcp://x:1", "workers": 2},
        {"seeds": 0},
        {"seeds": [1, 1]},
        {"grid": GRID, "overrides": [{}]},
    ):
        with pytest.raises(CapsimError):
            sweep(BASE, **kwargs)


# --------------------------------------------------------------------------- the run


def test_run_row_is_the_runs_metrics_flattened() -> None:
    scenario = BASE.with_overrides({"cluster.mode": "eventual"})
    assert run_row(scenario, 3) == run(scenario, seed=3).row()


def test_the_worker_is_handed_the_points_scenario_not_a_dict() -> None:
    table = sweep(BASE, grid=GRID, seeds=2, workers=2, runner=scenario_runner)
    assert table["given"].tolist() == ["Scenario"] * 4
    assert table["given_mode"].tolist() == table["cluster.mode"].tolist()
    assert list(table.columns) == ["cluster.mode", "seed", "given", "given_mode", "error"]


# --------------------------------------------------------------------------- the table


def test_rows_are_in_grid_order_then_seed(reference: pd.DataFrame) -> None:
    assert list(reference["cluster.mode"]) == ["weak", "weak", "eventual", "eventual"]
    assert list(reference["seed"]) == [0, 1, 0, 1]
    assert list(reference.columns[:3]) == ["cluster.mode", "seed", "requests"]
    assert reference.columns[-1] == "error"
    assert {"availability", "oversell_units", "latency_ms_p99"} <= set(reference.columns)
    assert reference["error"].isna().all()
    assert reference["messages_sent"].gt(0).all()


def test_local_and_dask_give_the_same_table(reference: pd.DataFrame) -> None:
    pytest.importorskip("distributed")
    on_dask = sweep(BASE, grid=GRID, seeds=2, backend="dask", workers=2)
    pd.testing.assert_frame_equal(on_dask, reference)


def test_explicit_overrides_and_seeds(reference: pd.DataFrame) -> None:
    table = sweep(
        BASE,
        overrides=[{"cluster.mode": "eventual"}, {"workload.stock": 3}],
        seeds=[1],
        workers=1,
    )
    assert list(table.columns[:3]) == ["cluster.mode", "workload.stock", "seed"]
    assert table["cluster.mode"].tolist()[0] == "eventual"
    assert pd.isna(table["cluster.mode"].tolist()[1])
    assert table["workload.stock"].isna().tolist() == [True, False]
    assert table.loc[0, "requests"] == reference.loc[3, "requests"]  # eventual, seed 1


def test_an_interrupted_sweep_resumes_with_no_duplicates(
    tmp_path: Path, reference: pd.DataFrame
) -> None:
    out = tmp_path / "sweep.csv"

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        sweep(BASE, grid=GRID, seeds=2, workers=2, out=out, progress=stop_after_two)
    assert len(load_results(out)) == 2
    with out.open("a") as f:  # a line torn by the kill: no newline, so not a row
        f.write("weak,1,3")

    calls: list[tuple[int, int]] = []

    def record(done: int, total: int) -> None:
        calls.append((done, total))

    resumed = sweep(
        BASE,
        grid=GRID,
        seeds=2,
        workers=2,
        out=out,
        resume=True,
        progress=record,
    )
    assert calls[0] == (0, 2) and calls[-1] == (2, 2)
    pd.testing.assert_frame_equal(resumed, reference)
    on_disk = load_results(out)
    assert len(on_disk) == 4
    assert not on_disk.duplicated(["cluster.mode", "seed"]).any()

    calls.clear()
    again = sweep(BASE, grid=GRID, seeds=2, out=out, resume=True, progress=record)
    assert calls == [(0, 0)]  # nothing left to run: no pool started
    pd.testing.assert_frame_equal(again, reference)
    assert len(load_results(out)) == 4


@pytest.mark.parametrize(
    ("error", "recorded"),
    [
        (CapsimError("boom\nsecond line"), "CapsimError: boom second line"),
        (MemoryError(), "MemoryError"),
    ],
)
def test_a_run_failing_as_data_is_a_row_and_the_others_complete(
    tmp_path: Path, reference: pd.DataFrame, error: BaseException, recorded: str
) -> None:
    out = tmp_path / "sweep.csv"
    runner = functools.partial(raising_runner, error)
    table = sweep(BASE, grid=GRID, seeds=2, workers=2, out=out, runner=runner)
    failed = table[table["error"].notna()]
    assert failed[["cluster.mode", "seed"]].values.tolist() == [["eventual", 1]]
    assert failed["error"].iloc[0] == recorded
    assert failed["requests"].isna().all()
    ok = table["error"].isna()
    pd.testing.assert_frame_equal(
        table.loc[ok, ["cluster.mode", "seed", "requests", "availability"]],
        reference.loc[ok, ["cluster.mode", "seed", "requests", "availability"]],
        check_dtype=False,  # a failed run's metrics are NaN, so its int columns are floats
    )
    assert load_results(out)["error"].notna().sum() == 1


@pytest.mark.parametrize("error", [InvariantError("replicas disagree"), KeyError("x")])
def test_a_bug_in_a_run_stops_the_sweep_naming_the_run(
    tmp_path: Path, reference: pd.DataFrame, error: BaseException
) -> None:
    out = tmp_path / "sweep.csv"
    runner = functools.partial(raising_runner, error)
    with pytest.raises(
        SweepStoppedError, match=r"^run cluster.mode=eventual seed 1 stopped"
    ) as info:
        sweep(BASE, grid=GRID, seeds=2, workers=1, out=out, runner=runner)
    assert type(info.value.__cause__) is type(error)
    assert (info.value.run.overrides, info.value.run.seed) == ({"cluster.mode": "eventual"}, 1)
    saved = load_results(out)
    assert saved[["cluster.mode", "seed"]].values.tolist() == [
        ["weak", 0],
        ["weak", 1],
        ["eventual", 0],
    ]
    assert saved["error"].isna().all()
    pd.testing.assert_frame_equal(
        saved[["cluster.mode", "seed", "requests"]],
        reference.loc[:2, ["cluster.mode", "seed", "requests"]],
    )


# --------------------------------------------------------------------------- the file


def test_an_existing_file_is_resumed_only_on_request_and_on_its_base(tmp_path: Path) -> None:
    out = tmp_path / "sweep.csv"
    out.write_text("cluster.mode,seed,error\n")
    with pytest.raises(CapsimError, match="already exists"):
        sweep(BASE, grid=GRID, out=out)
    other = BASE.with_overrides({"workload.stock": 7}).to_dict()
    del other["seed"]
    (tmp_path / "sweep.scenario.json").write_text(json.dumps({"scenario": other}))
    with pytest.raises(CapsimError, match=r"different base scenario \(workload.stock: 7"):
        sweep(BASE, grid=GRID, out=out, resume=True)


cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    st.lists(st.integers(), max_size=3),
)


@given(st.lists(cells, min_size=1, max_size=4))
def test_every_cell_reads_back_as_written(values: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = ResultsFile(Path(tmp) / "r.csv", BASE, resume=False)
        results.start()
        row = {"x": 1, "seed": 0, **{f"m{i}": v for i, v in enumerate(values)}, "error": None}
        results.append(row)
        results.append({"x": 2, "seed": 0, "error": "E: m"})  # no metrics: empty cells
        header, rows = _read_csv(results.path)
    assert header == list(row)
    assert rows == [row, {"x": 2, "seed": 0, "error": "E: m"}]


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    ("grid", "named"),
    [
        ("cluster.mdoe=weak", "cluster: unknown key 'mdoe' (allowed: nodes,"),
        ("cluster.mode=weak,strnog", "cluster.mode: unknown 'strnog' (allowed: strong,"),
        ("workload.stock=5,-1", "workload.stock: must be >= 0"),
        ("cluster.mode", "--grid cluster.mode: expected"),
    ],
)
def test_cli_bad_grid_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grid: str, named: str
) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TOML)
    out = tmp_path / "r.csv"
    assert main(["sweep", str(scenario), "--grid", grid, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and "Traceback" not in err
    assert not out.exists()


def test_cli_sweep_writes_the_file_and_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reference: pd.DataFrame
) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TOML)
    out = tmp_path / "out" / "r.csv"
    argv = ["sweep", str(scenario), "--grid", "cluster.mode=weak,eventual", "--seeds", "2"]
    assert main([*argv, "--workers", "2", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert f"results: {out} (4 rows, 0 failed" in stdout
    assert "availability" in stdout and "oversell_units" in stdout
    written = load_results(out)
    assert len(written) == 4
    got = written.sort_values(["cluster.mode", "seed"]).reset_index(drop=True)
    want = reference.sort_values(["cluster.mode", "seed"]).reset_index(drop=True)
    assert got["oversell_units"].tolist() == want["oversell_units"].tolist()
    assert main([*argv, "--out", str(out)]) == 2  # exists: --resume or another path


def test_cli_a_run_that_stops_the_sweep_exits_1_with_the_command_that_replays_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `sim.sweep` the attribute is the function (sim/__init__.py); the package is in sys.modules.
    package = importlib.import_module("sim.sweep")
    runner = functools.partial(raising_runner, InvariantError("replicas disagree"))
    monkeypatch.setattr(package, "sweep", functools.partial(package.sweep, runner=runner))
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TOML)
    out = tmp_path / "r.csv"
    argv = ["sweep", str(scenario), "--grid", "cluster.mode=weak,eventual", "--seeds", "2"]
    assert main([*argv, "--set", "workload.stock=4", "--workers", "1", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    err = err.rstrip("\n")
    assert err.startswith("capsim: run cluster.mode=eventual seed 1 stopped the sweep: ")
    assert "InvariantError: replicas disagree (3 rows are in" in err
    assert err.endswith(
        f"python -m sim run {scenario} --seed 1 --set workload.stock=4 --set cluster.mode=eventual"
    )
    assert len(load_results(out)) == 3
