"""Compare the full scenario's cost at a git revision and in this tree, taking turns.

`benchmarks/engine.py`'s full scenario (a browse run in eventual mode, history and
metrics included) is run in fresh processes: in each round, one process in a
checkout of REV (a temporary git worktree) and one in this tree, each running it
`--runs` times and keeping its least CPU time. Prints every round and the medians'
ratio (this tree over REV): below 1 is faster. The two take turns, so a change in
the machine's load touches both alike; use it to tell whether a change to the hot
path helps before reading `engine.py`'s ratio, which the machine moves more.

    python benchmarks/compare.py REV [--rounds 6] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys, time
sys.path[:0] = [".", "benchmarks"]
import engine
engine.full_scenario(20000.0, 1)  # warm: imports, caches
times = []
for _ in range({runs}):
    start = time.process_time()
    engine.full_scenario(20000.0, 1)
    times.append(time.process_time() - start)
print(min(times))
"""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command in `cwd`, its output captured as text (the caller checks the code)."""
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


def least_cpu_s(checkout: Path, runs: int) -> float:
    """The least CPU seconds of `runs` full scenarios in a fresh process in `checkout`."""
    done = _run([sys.executable, "-c", PROBE.format(runs=runs)], checkout)
    if done.returncode != 0:
        raise SystemExit(f"compare: the run in {checkout} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


def main() -> None:
    """Run the rounds and print the medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the git revision to compare this tree with")
    parser.add_argument("--rounds", type=int, default=6, help="turns each side takes")
    parser.add_argument("--runs", type=int, default=5, help="full scenarios per process")
    args = parser.parse_args()
    if args.rounds < 1 or args.runs < 1:
        parser.error("--rounds and --runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="capsim-compare-") as tmp:
        base = Path(tmp) / "rev"
        added = _run(["git", "worktree", "add", "--detach", "-q", str(base), args.rev], ROOT)
        if added.returncode != 0:
            raise SystemExit(f"compare: no checkout of {args.rev!r}: {added.stderr.strip()}")
        try:
            times: dict[str, list[float]] = {args.rev: [], "this tree": []}
            print(f"full scenario, least CPU s of {args.runs} runs per process")
            for i in range(1, args.rounds + 1):
                times[args.rev].append(least_cpu_s(base, args.runs))
                times["this tree"].append(least_cpu_s(ROOT, args.runs))
                print(
                    f"  round {i}: {args.rev} {times[args.rev][-1]:.3f}"
                    f"   this tree {times['this tree'][-1]:.3f}",
                    flush=True,
                )
        finally:
            _run(["git", "worktree", "remove", "--force", str(base)], ROOT)
    before, after = (statistics.median(t) for t in times.values())
    print(
        f"median: {args.rev} {before:.3f} s   this tree {after:.3f} s   ratio {after / before:.3f}"
    )


if __name__ == "__main__":
    main()
