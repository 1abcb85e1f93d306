"""The command line: one-line errors with exit 2, JSON output, checker exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main
from sim.metrics import METRIC_NAMES

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = str(ROOT / "scenarios" / "flash_sale_partition.toml")
CONFORMANCE = ROOT / "tests" / "check" / "conformance" / "jepsen-etcd"
SMALL = [
    "--set",
    "workload.customers=30",
    "--set",
    "duration_ms=4000",
    "--set",
    "faults.0.start_ms=500",
    "--set",
    "faults.0.end_ms=2000",
    "--set",
    "settle_ms=1000",
]


def bad(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "missing.toml"], "no such scenario file"),
        (["run", SCENARIO, "--set", "cluster.read_quorum=9"], "cluster.read_quorum: must be <="),
        (["run", SCENARIO, "--set", "cluster.mode=paxos"], "cluster.mode: unknown 'paxos'"),
        (["run", SCENARIO, "--set", "nonsense"], "expected dotted.key=value"),
        (["run", SCENARIO, "--set", "faults.0.groups=[[0,1],[1,2]]"], "groups overlap"),
        (
            ["run", SCENARIO, "--set", "network.zones=[0,1,0]"],
            "network.zones: must list one zone per node (5) or be empty (got 3)",
        ),
        (["run", SCENARIO, "--seed", "x"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
        (["check", "missing.log"], "missing.log"),
        (["check", str(CONFORMANCE / "etcd_000.log"), "--timeout", "-1"], "--timeout"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(argv, expected, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        raise SystemExit(main(argv))
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert expected in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_toml_field_in_a_file(tmp_path: Path, capsys) -> None:
    path = bad(tmp_path, "[cluster]\nnodes = 3\nreplication = 5\n")
    assert main(["run", path]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("capsim: cluster.replication: must be <= cluster.nodes (got 5 > 3)")


def test_run_json_has_scenario_seed_and_every_metric(capsys, tmp_path: Path) -> None:
    history = tmp_path / "h.jsonl"
    assert main(["run", SCENARIO, *SMALL, "--seed", "3", "--json", "--history", str(history)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["seed"] == 3
    assert payload["scenario"]["seed"] == 3
    assert payload["scenario"]["workload"]["customers"] == 30
    assert set(METRIC_NAMES) <= set(payload["metrics"])
    assert history.read_text().count("\n") > 30


def test_run_summary_is_readable(capsys) -> None:
    assert main(["run", SCENARIO, *SMALL]) == 0
    out = capsys.readouterr().out
    assert "availability" in out and "oversell_units" in out


def test_history_checks_round_trip_through_the_cli(tmp_path: Path, capsys) -> None:
    history = tmp_path / "weak.jsonl"
    main(["run", SCENARIO, "--history", str(history)])
    capsys.readouterr()
    # weak mode under a partition: the product's register history is not linearizable
    assert main(["check", str(history)]) == 1


@pytest.mark.parametrize(("name", "code"), [("etcd_002.log", 0), ("etcd_000.log", 1)])
def test_check_exit_codes_on_conformance_files(name: str, code: int, capsys) -> None:
    assert main(["check", str(CONFORMANCE / name)]) == code
    assert main(["check", str(CONFORMANCE / name), "--json"]) == code
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last)["verdict"] in ("linearizable", "not-linearizable")


def test_strong_history_exported_as_edn_checks_linearizable(tmp_path: Path, capsys) -> None:
    edn = tmp_path / "strong.edn"
    assert (
        main(
            [
                "run",
                SCENARIO,
                *SMALL,
                "--set",
                "cluster.mode=strong",
                "--history",
                str(edn),
                "--check",
            ]
        )
        == 0
    )
    assert "linearizable                     true" in capsys.readouterr().out
    assert edn.read_text().startswith("{:index 0, :process :loader")
    assert main(["check", str(edn), "--format", "edn"]) == 0


def test_a_reader_that_goes_away_gets_no_traceback() -> None:
    """`python -m sim run ... --json | head -0`: the pipe is closed before anything is
    written; exit 141, and nothing but silence on stderr."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", "scenarios/flash_sale_partition.toml", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 141, err
    assert "Traceback" not in err
