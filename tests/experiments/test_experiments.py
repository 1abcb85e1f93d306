"""Every experiment script runs with --quick, writes a table with its columns and a figure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim import load_results
from sim.metrics import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[2]
SWEPT = {
    "cap_partition": ["cluster.mode", "workload.routing", "faults"],
    "flash_sale": [
        "cluster.mode",
        "shop.resolver",
        "workload.arrival_mean_ms",
        "workload.stock",
    ],
    "occ_vs_lock": ["cluster.mode", "shop.concurrency", "workload.customers", "faults"],
    "quorum_tradeoffs": ["cluster.replication", "cluster.read_quorum", "cluster.write_quorum"],
    "siblings": ["workload.arrival_mean_ms", "faults"],
    "staleness": ["name", "network", "cluster.read_quorum", "cluster.write_quorum"],
}


@pytest.mark.parametrize("name", sorted(SWEPT))
def test_quick_run_writes_table_and_figure(name: str, outputs: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / f"{name}.py"), "--quick"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = outputs / "results" / f"{name}-quick.csv"
    figure = outputs / "figures" / f"{name}-quick.png"
    assert f"table:  {table}" in proc.stdout, proc.stdout[-2000:]
    assert figure.exists() and figure.stat().st_size > 10_000
    frame = load_results(table)
    swept = list(frame.columns[: list(frame.columns).index("seed")])
    assert sorted(swept) == sorted(SWEPT[name])
    flat = {
        "latency_ms": "latency_ms_p99",
        "messages": "messages_sent",
        "versions_seen": "versions_seen_1",
    }
    for metric in METRIC_NAMES:
        assert flat.get(metric, metric) in frame.columns, metric
    assert frame["error"].isna().all(), frame["error"].dropna().unique()[:3]
