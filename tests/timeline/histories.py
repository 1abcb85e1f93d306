"""Histories for the timeline's tests: a small non-linearizable one with faults, and counting.

`count_ops` and `count_faults` count from the history file itself, independently of
sim/timeline, what the page must draw.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sim.history import History, Op

ROOT = Path(__file__).resolve().parents[2]
ETCD = ROOT / "tests" / "check" / "conformance" / "jepsen-etcd"
BAD_ETCD = ETCD / "etcd_000.log"  # not linearizable (verdicts.tsv)
SCENARIO = ROOT / "scenarios" / "flash_sale_partition.toml"
SMALL_RUN = [
    "--set", "cluster.mode=eventual",
    "--set", "workload.customers=40",
    "--set", "duration_ms=4000",
    "--set", "faults.0.start_ms=500",
    "--set", "faults.0.end_ms=2500",
    "--set", "settle_ms=1000",
]  # fmt: skip


def stale_read_history() -> History:
    """Key x: p0 writes 1, then p1 reads 2 (never written): not linearizable.

    Also: a read of key y that returned two siblings (which the loader wrote, so
    that the register model finds y linearizable), a failed and an unknown
    write, an operation that never completes, a partition healed and a crash
    never healed, and a completion with no invoke.
    """
    return History(
        [
            Op("loader", "invoke", "write", "x", 0, 0.0),
            Op("loader", "ok", "write", "x", 0, 1.0),
            Op("loader", "invoke", "write", "y", ["a", "b"], 1.0),
            Op("loader", "ok", "write", "y", ["a", "b"], 1.5),
            Op("nemesis", "info", "start-partition", None, [[0], [1, 2]], 2.0),
            Op(0, "invoke", "write", "x", 1, 3.0),
            Op(0, "ok", "write", "x", 1, 5.0),
            Op(1, "invoke", "read", "x", None, 6.0),
            Op(1, "ok", "read", "x", 0, 8.0),
            Op(2, "invoke", "read", "y", None, 6.5),
            Op(2, "ok", "read", "y", ["a", "b"], 7.5),
            Op(0, "invoke", "write", "y", 3, 9.0),
            Op(0, "fail", "write", "y", 3, 10.0, "unavailable"),
            Op(2, "invoke", "write", "y", 4, 9.5),
            Op(2, "info", "write", "y", 4, 11.0, "timeout"),
            Op("nemesis", "info", "stop-partition", None, [[0], [1, 2]], 12.0),
            Op("nemesis", "info", "start-crash", None, 2, 13.0),
            Op(1, "ok", "read", "x", 2, 13.5),  # no invoke open: not drawn
            Op(3, "invoke", "write", "x", 5, 14.0),
        ]
    )


def load_events(path: Path) -> list[dict]:
    """The events of a JSON lines history, or of a Jepsen log (process, type, f only)."""
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    pattern = re.compile(r"jepsen\.util\s+-\s+(\S+)\s+:(\S+)\s+:(\S+)")
    return [
        {"process": m[1], "type": m[2], "f": m[3]}
        for m in map(pattern.search, text.splitlines())
        if m
    ]


def count_ops(path: Path) -> int:
    """Client operations: invokes of any process but the nemesis."""
    return sum(e["type"] == "invoke" and e["process"] != "nemesis" for e in load_events(path))


def count_faults(path: Path) -> int:
    """Faults: the nemesis's `start-...` events (capsim records one per fault window)."""
    return sum(e["process"] == "nemesis" and e["f"].startswith("start") for e in load_events(path))
