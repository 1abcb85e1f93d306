"""The command line: argv, printing, progress bars and exit codes live here and nowhere else.

    python -m sim run FILE.toml [--seed N] [--set k=v]... [--json] [--history PATH] [--check]
    python -m sim check FILE [--model register|kv] [--format ...] [--json] [--timeout S]
        [--max-memory MB] [--all-keys]
    python -m sim sweep FILE.toml --grid k=v1,v2 ... --seeds K [--backend local|dask] ...
    python -m sim replay CASE.json [--history OUT] [--json]
    python -m sim timeline HISTORY [-o PAGE] [--no-check] [the checker's options]

Exit codes: 0 ok (check: linearizable), 1 not linearizable (check) or a run
that broke a simulator invariant stopped the sweep (sweep), 2 bad input,
3 unknown (the checker ran out of time or memory). Bad input prints one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from sim.errors import CapsimError

EXIT_OK, EXIT_NOT_LINEARIZABLE, EXIT_BAD_INPUT, EXIT_UNKNOWN = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141
"""Ctrl-C; the reader of stdout went away (128 + SIGINT or SIGPIPE, as a shell reports them)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage in one line (no usage block) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}\n")


def checker_options(parser: argparse.ArgumentParser) -> None:
    """The linearizability checker's options, shared by `check` and `timeline`."""
    parser.add_argument("--model", choices=("register", "kv"), default="register")
    parser.add_argument("--format", choices=("auto", "jsonl", "edn", "jepsen-log"), default="auto")
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="give up after S seconds (verdict unknown, exit 3)",
    )
    parser.add_argument(
        "--max-memory",
        type=float,
        metavar="MB",
        default=1024.0,
        help="the search's memory budget (its memo tables), default 1024; "
        "past it the verdict is unknown, exit 3",
    )
    parser.add_argument(
        "--all-keys",
        action="store_true",
        help="check every key, not only up to the first bad one",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="capsim", description="What consistency costs in a replicated store.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run one scenario and print its metrics")
    run.add_argument("scenario", help="a TOML scenario file")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field by dotted path, e.g. cluster.mode=strong",
    )
    run.add_argument(
        "--json", action="store_true", help='print {"scenario", "seed", "metrics"} as JSON'
    )
    run.add_argument(
        "--history",
        metavar="PATH",
        help="write the history: JSON lines, or Jepsen EDN if PATH ends in .edn "
        "(store operations and nemesis events only, for Jepsen's checkers)",
    )
    run.add_argument(
        "--check",
        action="store_true",
        help="check the history for linearizability (fills `linearizable`)",
    )
    run.add_argument(
        "--timeline",
        metavar="PAGE",
        help="write the run's timeline as one self-contained HTML page; the history is "
        "checked for it (register model, up to 60 s), with or without --check",
    )

    timeline = sub.add_parser(
        "timeline", help="draw a history as one self-contained HTML page (exit 0 once written)"
    )
    timeline.add_argument("history", help="a history file (JSON lines, Jepsen EDN or Jepsen log)")
    timeline.add_argument(
        "-o", "--output", metavar="PAGE", help="the page (default: HISTORY with suffix .html)"
    )
    timeline.add_argument(
        "--no-check",
        action="store_true",
        help="do not check for linearizability (no violation is shown)",
    )
    checker_options(timeline)

    check = sub.add_parser("check", help="check a history for linearizability")
    check.add_argument("history", help="a history file (JSON lines, Jepsen EDN or Jepsen log)")
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")
    checker_options(check)

    replay = sub.add_parser("replay", help="re-run a saved failing case (.capsim-failures/)")
    replay.add_argument("case", help="a case file written by a failing property")
    replay.add_argument("--history", metavar="OUT", help="write the replayed history (JSON lines)")
    replay.add_argument(
        "--json",
        action="store_true",
        help='print {"case", "kind", "property", "seed", "history_sha256", "ops", "metrics"}',
    )

    sweep = sub.add_parser("sweep", help="run a grid of overrides x seeds, one row per run")
    sweep.add_argument("scenario", help="the base TOML scenario file")
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="sweep a field over values, e.g. cluster.mode=weak,eventual (repeat: product)",
    )
    sweep.add_argument("--seeds", type=int, default=1, metavar="K", help="seeds 0..K-1 per point")
    sweep.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field of the base scenario, e.g. workload.stock=5",
    )
    sweep.add_argument("--backend", choices=("local", "dask"), default="local")
    sweep.add_argument("--address", metavar="ADDR", help="Dask scheduler, e.g. tcp://host:8786")
    sweep.add_argument("--workers", type=int, metavar="N", help="processes (default: every core)")
    sweep.add_argument(
        "--out", metavar="PATH", help="results CSV (default: results/sweep-<scenario>.csv)"
    )
    sweep.add_argument(
        "--resume", action="store_true", help="keep the rows in --out and run only the rest"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m sim`; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "check":
            return _check(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "replay":
            return _replay(args)
        if args.command == "timeline":
            return _timeline(args)
    except CapsimError as exc:
        print(f"capsim: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (`... | head`): nothing more to say, and no traceback
        # when Python flushes stdout at exit (the recipe of the signal module's docs).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("capsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_BAD_INPUT


def progress_bar(description: str) -> Any:
    """A tqdm bar over simulated time on stderr (silent when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(
        total=100,
        desc=description,
        unit="%",
        file=sys.stderr,
        disable=None,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
    )


def _run(args: argparse.Namespace) -> int:
    from sim.run import run
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario, args.set, seed=args.seed)
    # Output paths are refused before the run, not after it.
    page = writable_path(args.timeline, "--timeline") if args.timeline else None
    if args.history:
        writable_path(args.history, "--history")
    note = quiet_note(scenario)
    if note:
        print(f"capsim: {note}", file=sys.stderr)
    with progress_bar(f"{scenario.cluster.mode} seed {scenario.seed}") as bar:

        def advance(done: float, total: float) -> None:
            bar.n = round(100 * done / total)
            bar.refresh()

        result = run(scenario, check=args.check, progress=advance)
    if args.history:
        write_history(result.history, Path(args.history))
    drawn = _run_timeline(result.history.ops, page, Path(args.scenario).name) if page else ""
    if args.json:
        print(result.to_json())
    else:
        print(summary(args.scenario, result.scenario.cluster.mode, result.seed, result.metrics))
        if args.history:
            print(f"history: {Path(args.history)} ({len(result.history)} ops)")
        if drawn:
            print(drawn)
    return EXIT_OK


def quiet_note(scenario: Any) -> str | None:
    """What a quiet workload (the probe) runs with: its reads must not repair what they measure."""
    from sim.plugins import WORKLOADS

    workload = scenario.workload
    settings = scenario.cluster.settings
    if not WORKLOADS.get(workload.kind, "workload.kind").quiet or not type(settings).QUIET:
        return None
    given = ", ".join(
        f"cluster.{scenario.cluster.mode}.{key} = {json.dumps(getattr(settings, key))}"
        for key in type(settings).QUIET
    )
    return f"{workload.kind} workload runs with {given} (its defaults unless set: no repair)"


def writable_path(path: str, what: str) -> Path:
    """Where an output file (`--history`, a timeline page) goes, refused at once (not after
    the run) if it cannot be written; `what` names it in the one-line error."""
    out = Path(path)
    if out.is_dir():
        raise CapsimError(f"{what} {out}: is a directory (expected a file name)")
    if not out.parent.is_dir():
        raise CapsimError(f"{what} {out}: no such directory {str(out.parent)!r}")
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise CapsimError(f"{what} {out}: not writable")
    return out


def write_history(history: Any, path: Path) -> None:
    """JSON lines (every op), or Jepsen EDN for `.edn` (register ops and the nemesis)."""
    try:
        if path.suffix == ".edn":
            from sim.check import to_edn
            from sim.history import NEMESIS

            ops = [
                op
                for op in history
                if op.f in ("read", "write", "cas", "txn") or op.process == NEMESIS
            ]
            path.write_text(to_edn(ops))
        else:
            history.write_jsonl(path)
    except OSError as exc:
        raise CapsimError(f"--history {path}: cannot write ({exc.strerror or exc})") from None


def check_budgets(args: argparse.Namespace) -> None:
    """Refuse a negative --timeout or a --max-memory that is not positive, in one line."""
    if args.timeout is not None and args.timeout < 0:
        raise CapsimError(f"--timeout: must be >= 0 (got {args.timeout})")
    if args.max_memory <= 0:
        raise CapsimError(f"--max-memory: must be > 0 MB (got {args.max_memory:g})")


def _checked(ops: Any, args: argparse.Namespace) -> Any:
    """The checker's result on `ops` with the command's --model, --timeout, --max-memory
    and --all-keys (shared by `check` and `timeline`, which call `check_budgets` first)."""
    from sim.check import KV, REGISTER, check

    return check(
        ops,
        KV if args.model == "kv" else REGISTER,
        timeout_s=args.timeout,
        max_memory_mb=args.max_memory,
        all_keys=args.all_keys,
    )


def _check(args: argparse.Namespace) -> int:
    from sim.check import Verdict, load_history

    check_budgets(args)  # refused before the history is read
    ops = load_history(args.history, args.format, require_invokes=True)
    result = _checked(ops, args)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(result.describe())
    return {
        Verdict.LINEARIZABLE: EXIT_OK,
        Verdict.NOT_LINEARIZABLE: EXIT_NOT_LINEARIZABLE,
        Verdict.UNKNOWN: EXIT_UNKNOWN,
    }[result.verdict]


def _sweep(args: argparse.Namespace) -> int:
    """`capsim sweep`: validate every point, run with a bar, save, print a summary.

    Exit code 1 when a run stops the sweep (a bug, not bad input): one line
    names the run and the `python -m sim run` command that replays it.
    """
    import shlex

    from tqdm import tqdm

    from sim.scenario import load_scenario, parse_value
    from sim.sweep import (
        SweepStoppedError,
        describe,
        load_results,
        parse_grid,
        summary_table,
        sweep,
    )

    base = load_scenario(args.scenario, args.set)
    grid = parse_grid(args.grid)
    out = Path(args.out or f"results/sweep-{Path(args.scenario).stem}.csv")
    bar = tqdm(desc="sweep", unit="run", file=sys.stderr, disable=None, dynamic_ncols=True)

    def advance(done: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total=total)
        bar.update(done - bar.n)

    def saved() -> int:
        return len(load_results(out)) if out.exists() else 0

    def literal(value: Any) -> str:
        """`value` as a command-line override that `parse_value` reads back."""
        if isinstance(value, str) and parse_value(value) == value:
            return value
        return json.dumps(value.item() if hasattr(value, "item") else value)

    def replay(point: dict[str, Any], seed: Any) -> str:
        """The `python -m sim run` command that replays one run of this sweep."""
        command = ["python", "-m", "sim", "run", args.scenario, "--seed", str(seed)]
        for item in [*args.set, *(f"{k}={literal(v)}" for k, v in point.items())]:
            command += ["--set", item]
        return shlex.join(command)

    try:
        with bar:
            frame = sweep(
                base,
                grid=grid,
                seeds=args.seeds,
                backend=args.backend,
                address=args.address,
                workers=args.workers,
                out=out,
                resume=args.resume,
                progress=advance,
            )
    except KeyboardInterrupt:
        print(
            f"capsim: interrupted; {saved()} rows are in {out} (add --resume to finish)",
            file=sys.stderr,
        )
        return 130
    except SweepStoppedError as exc:
        print(
            f"capsim: {exc} ({saved()} rows are in {out}); "
            f"replay it: {replay(dict(exc.run.overrides), exc.run.seed)}",
            file=sys.stderr,
        )
        return 1

    ran = bar.total or 0
    failed = frame[frame["error"].notna()]
    print(
        f"results: {out} ({len(frame)} rows, {len(failed)} failed; "
        f"{ran} run now, {len(frame) - ran} already in the file)"
    )
    print(summary_table(frame, list(grid)).to_string(index=False, float_format="{:.4g}".format))
    for error, rows in failed.groupby("error", sort=False):
        first = rows.iloc[0]
        point = {k: first[k] for k in grid}
        print(f"failed ({len(rows)} runs): {error}")
        print(f"  e.g. {describe(point)} seed {first['seed']}: {replay(point, first['seed'])}")
    return EXIT_OK


def _write_timeline(ops: Any, page: Path, title: str, checked: Any) -> str:
    """Write the timeline of `ops` (with the checker's result `checked`, or None); say so."""
    from sim.timeline import build_timeline, write_timeline

    timeline = build_timeline(ops, checked, title=title)
    try:
        write_timeline(timeline, page)
    except OSError as exc:
        raise CapsimError(f"{page}: cannot write the timeline ({exc.strerror or exc})") from None
    verdict = "not checked" if checked is None else checked.verdict.value
    return f"timeline: {page} ({len(timeline.bars)} ops, {len(timeline.faults)} faults; {verdict})"


def _run_timeline(ops: Any, page: Path, title: str) -> str:
    """`run --timeline`: the run's history, checked as `run --check` checks it (60 s), drawn."""
    from sim.check import check

    return _write_timeline(ops, page, title, check(ops, timeout_s=60.0))


def _timeline(args: argparse.Namespace) -> int:
    """`capsim timeline`: a history, checked unless --no-check, as one self-contained HTML page."""
    from sim.check import load_history

    check_budgets(args)  # refused before the history is read
    source = Path(args.history)
    ops = load_history(source, args.format)
    page = writable_path(args.output or str(source.with_suffix(".html")), "page")
    if page.exists() and page.samefile(source):
        raise CapsimError(f"{page}: is the history itself (name the page with -o)")
    checked = None if args.no_check else _checked(ops, args)
    print(_write_timeline(ops, page, source.name, checked))
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    """`capsim replay`: re-run a saved case; print its metrics and the history's sha256."""
    from sim.replay import history_digest, load_case, replay

    case = load_case(args.case)
    out = Path(args.history) if args.history else None
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise CapsimError(f"--history {out}: not a file in an existing directory")
    history, metrics = replay(case)
    digest = history_digest(history)
    if out is not None:
        write_history(history, out)
    if args.json:
        payload = {
            "case": args.case,
            "kind": case.kind,
            "property": case.property,
            "seed": case.seed,
            "history_sha256": digest,
            "ops": len(history),
            "metrics": metrics,
        }
        print(json.dumps(payload))
        return EXIT_OK
    if case.property or case.failure:
        print(f"case: {case.property or case.kind} failed: {case.failure}")
    print(summary(args.case, case.scenario.cluster.mode, case.seed, metrics))
    print(f"history: sha256 {digest} ({len(history)} ops)")
    if out is not None:
        print(f"history written: {out}")
    return EXIT_OK


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "  ".join(f"{k}={_fmt(v)}" for k, v in value.items() if not isinstance(v, dict))
    return str(value)


def summary(source: str, mode: str, seed: int, metrics: dict[str, Any]) -> str:
    """A readable block of metrics, one per line, DESIGN.md's names first."""
    lines = [f"{source}: mode {mode}, seed {seed}"]
    width = max(len(name) for name in metrics)
    for name, value in metrics.items():
        if name == "mode":
            for sub, v in value.items():
                lines.append(f"  {('mode.' + sub).ljust(width + 5)}  {_fmt(v)}")
            continue
        lines.append(f"  {name.ljust(width + 5)}  {_fmt(value)}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
