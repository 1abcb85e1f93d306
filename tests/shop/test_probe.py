"""The probe workload (issue 12): its settings, its quiet defaults, and what every mode reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import Scenario, load_scenario, run
from sim.cli import main
from sim.shop.workloads.probe import DEFAULT_OFFSETS_MS

PROBE = """
name = "probe"
seed = 3
duration_ms = 4000
settle_ms = 2000
[cluster]
nodes = 3
replication = 3
mode = "eventual"
[cluster.eventual]
read_quorum = 1
write_quorum = 1
sloppy_quorum = false
[network]
latency = { dist = "exponential", mean = 1.0 }
client_latency = { dist = "constant", value = 0.0 }
self_latency = true
[network.latency_by_kind]
write = { dist = "exponential", mean = 10.0 }
[workload]
kind = "probe"
[workload.probe]
trials = 300
offsets_ms = [0, 5, 20, 100]
write_interval_ms = 200
"""


@pytest.fixture
def probe_file(tmp_path: Path) -> Path:
    path = tmp_path / "probe.toml"
    path.write_text(PROBE)
    return path


def test_defaults_are_a_log_grid_of_ten_thousand_trials() -> None:
    settings = Scenario.from_dict({"workload": {"kind": "probe"}}).workload.settings
    assert settings.trials == 10_000
    assert settings.offsets_ms == DEFAULT_OFFSETS_MS
    assert settings.offsets_ms[0] == 0.0 and settings.offsets_ms[-1] == 10_000.0


def test_the_probe_turns_read_repair_and_anti_entropy_off_unless_given(probe_file: Path) -> None:
    quiet = load_scenario(probe_file).cluster.modes["eventual"]
    assert quiet.read_repair is False and quiet.anti_entropy_ms == 0.0
    nested = load_scenario(probe_file, ["cluster.eventual.read_repair=true"])
    assert nested.cluster.modes["eventual"].read_repair is True
    assert nested.cluster.modes["eventual"].anti_entropy_ms == 0.0
    flat = Scenario.from_dict(
        {"cluster": {"anti_entropy_ms": 500.0}, "workload": {"kind": "probe"}}
    )
    assert flat.cluster.modes["eventual"].anti_entropy_ms == 500.0
    assert flat.cluster.modes["eventual"].read_repair is False
    shop = Scenario.from_dict({"workload": {"kind": "flash-sale"}}).cluster.modes["eventual"]
    assert shop.read_repair is True and shop.anti_entropy_ms > 0
    # once applied, the values travel with the scenario (a sweep's overrides keep them)
    again = load_scenario(probe_file).with_overrides({"seed": 4}).cluster.modes["eventual"]
    assert again.read_repair is False and again.anti_entropy_ms == 0.0


def test_the_cli_says_what_the_probe_turned_off(probe_file: Path, capsys) -> None:
    assert main(["run", str(probe_file)]) == 0
    err = capsys.readouterr().err
    assert "cluster.eventual.read_repair = false" in err
    assert "cluster.eventual.anti_entropy_ms = 0.0" in err


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("workload.probe.offsets_ms=[0, -5, 10]", "workload.probe.offsets_ms: offsets must be"),
        ("workload.probe.offsets_ms=[0, 10, 5]", "workload.probe.offsets_ms: must be strictly"),
        ("workload.probe.offsets_ms=[]", "workload.probe.offsets_ms: must list at least one"),
        ("workload.probe.trials=0", "workload.probe.trials"),
        ("workload.probe.write_interval_ms=0", "workload.probe.write_interval_ms"),
    ],
)
def test_bad_probe_settings_are_one_line_and_exit_2(
    probe_file: Path, override: str, expected: str, capsys
) -> None:
    assert main(["run", str(probe_file), "--set", override]) == 2
    out, err = capsys.readouterr()
    assert out == "" and expected in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_reads_repair_nothing_by_default_and_do_when_asked(probe_file: Path) -> None:
    quiet = run(load_scenario(probe_file))
    assert quiet.metrics["mode"]["read_repairs"] == 0
    loud = run(load_scenario(probe_file, ["cluster.eventual.read_repair=true"]))
    assert loud.metrics["mode"]["read_repairs"] > 0


@pytest.mark.parametrize("mode", ["strong", "weak", "eventual"])
def test_every_mode_runs_the_probe(probe_file: Path, mode: str) -> None:
    m = run(load_scenario(probe_file, [f"cluster.mode={mode}"])).metrics
    vis, ks = m["t_visibility"], m["k_staleness"]
    assert vis["offsets_ms"] == [0.0, 5.0, 20.0, 100.0]
    assert vis["trials"] == 300 and min(vis["reads"]) >= 290
    assert all(lo <= p <= hi for p, (lo, hi) in zip(vis["p_consistent"], vis["ci95"], strict=True))
    assert ks["k"][0] == 1 and len(ks["p_within_k"]) == len(ks["k"])
    if mode == "strong":  # linearizable: a read that starts after the commit sees it
        assert vis["p_consistent"] == [1.0] * 4
        assert vis["t_999_ms"] == 0.0 and ks["p_within_k"][0] == 1.0
    if mode == "eventual":  # R + W <= N: some reads at t = 0 miss the write
        assert vis["p_consistent"][0] < 0.8 and vis["p_consistent"][-1] == 1.0


def test_runs_without_probe_reads_report_null() -> None:
    m = run(load_scenario(Path(__file__).parents[2] / "scenarios" / "flash_sale_partition.toml"))
    assert m.metrics["t_visibility"] is None and m.metrics["k_staleness"] is None


@pytest.mark.parametrize(("r", "w"), [(1, 3), (2, 2), (3, 1)])
def test_overlapping_quorums_see_every_commit_at_once(probe_file: Path, r: int, w: int) -> None:
    """R + W > N: every read quorum meets the write's quorum (README, "How eventual")."""
    quorums = [f"cluster.eventual.read_quorum={r}", f"cluster.eventual.write_quorum={w}"]
    vis = run(load_scenario(probe_file, quorums)).metrics["t_visibility"]
    assert vis["p_consistent"] == [1.0] * 4 and min(vis["reads"]) >= 290
