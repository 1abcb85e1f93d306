"""A sweep killed with SIGKILL leaves no process behind: its pool workers end with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = """\
duration_ms = 1500
settle_ms = 500
[cluster]
mode = "weak"
[workload]
customers = 20
"""


def children(pid: int) -> set[int]:
    """Every descendant of `pid` (children, their children...), read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting to be reaped counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `condition` every 0.05 s until it holds; fail naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_killing_a_sweep_ends_its_workers_and_resource_tracker(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "rows.csv"
    command = [sys.executable, "-m", "sim", "sweep", str(scenario), "--seeds", "200"]
    sweep = subprocess.Popen(
        [*command, "--grid", "workload.stock=1,2", "--workers", "2", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        # Rows arriving: the workers are up and running runs (their initializer ran).
        wait_for(lambda: out.exists() and out.read_text().count("\n") >= 3, 60, "first rows")
        spawned = children(sweep.pid)
        assert len(spawned) >= 2, f"expected the pool's workers under the sweep: {spawned}"
    finally:
        sweep.send_signal(signal.SIGKILL)
        sweep.wait()
    try:
        wait_for(lambda: not any(alive(p) for p in spawned), 5, f"{sorted(spawned)} to end")
    finally:
        for pid in spawned:  # a failed test leaves no orphan either
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
