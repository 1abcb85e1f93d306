"""Saved failing cases and their replay: everything one run needs, in one JSON file.

A property that fails writes a case file (under `.capsim-failures/` by
default) and prints `python -m sim replay <path>`; replaying it re-runs the
same thing and gives the same history, byte for byte, in any process. A case
is either a whole run (`kind = "run"`: a scenario and its seed) or a stepped
run (`kind = "machine"`: a scenario and the steps a state machine took,
sim/stepper.py). The file:

    {"capsim_replay": 1, "kind": "run" | "machine", "scenario": {...},
     "seed": 7, "steps": [...], "property": "<test id>", "failure": "<message>"}

`steps` is present for machine cases only. The file name is stable for the
same case (`<property>-<seed>-<hash>.json`: the hash is over what is run,
not the failure message), so a failure found twice is written once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import CapsimError
from sim.history import History
from sim.scenario import Scenario

FORMAT = 1
"""The case file format's version (`capsim_replay`)."""
KINDS = ("run", "machine")
DEFAULT_DIRECTORY = ".capsim-failures"
"""Where cases go, under the current working directory, unless told otherwise."""


class ReplayError(CapsimError):
    """A case file cannot be read or is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Case:
    """A reproducible run: what to run (scenario, seed, steps) and why it was saved.

    `steps` are the stepper's JSON steps, in order (machine cases; empty for runs).
    """

    kind: str
    scenario: Scenario
    seed: int
    steps: tuple[dict[str, Any], ...] = ()
    property: str = ""
    failure: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The case file's JSON object (`steps` only for machine cases)."""
        out: dict[str, Any] = {
            "capsim_replay": FORMAT,
            "kind": self.kind,
            "scenario": self.scenario.to_dict(),
            "seed": self.seed,
        }
        if self.kind == "machine":
            out["steps"] = [dict(step) for step in self.steps]
        out["property"] = self.property
        out["failure"] = self.failure
        return out

    def file_name(self) -> str:
        """`<property>-<seed>-<hash>.json`, the same for the same kind, scenario, seed, steps."""
        what = {k: v for k, v in self.to_dict().items() if k != "failure"}
        digest = hashlib.sha256(_canonical(what).encode()).hexdigest()[:10]
        name = self.property.rsplit("::", 1)[-1] or self.kind
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:60] or self.kind
        return f"{slug}-{self.seed}-{digest}.json"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def save_case(case: Case, directory: Path | None = None) -> Path:
    """Write `case` under `directory` (default `.capsim-failures` in the cwd); return its path.

    The write is atomic (a temporary file renamed), so concurrent savers of one
    case leave one whole file.
    """
    directory = Path(DEFAULT_DIRECTORY) if directory is None else Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / case.file_name()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(case.to_dict(), indent=1) + "\n")
    tmp.replace(path)
    return path


def save_run_case(
    scenario: Scenario, *, property: str, failure: str, directory: Path | None = None
) -> Path:
    """Save a failing whole run (scenario and its seed) as a case file; return its path."""
    case = Case("run", scenario, scenario.seed, property=property, failure=failure)
    return save_case(case, directory)


def save_machine_case(
    scenario: Scenario,
    steps: Sequence[Mapping[str, Any]],
    *,
    property: str,
    failure: str,
    directory: Path | None = None,
) -> Path:
    """Save a failing state-machine example (scenario and the steps taken) as a case file."""
    case = Case(
        "machine",
        scenario,
        scenario.seed,
        tuple(dict(s) for s in steps),
        property=property,
        failure=failure,
    )
    return save_case(case, directory)


def replay_command(path: Path) -> str:
    """The one command that replays the case at `path`."""
    return f"python -m sim replay {path}"


def load_case(path: str | Path) -> Case:
    """Read and validate a case file.

    Raises:
        ReplayError: missing, unreadable, not JSON, or a field is wrong (named).
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReplayError(f"{path}: no such case file") from None
    except IsADirectoryError:
        raise ReplayError(f"{path}: is a directory, not a case file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(f"{path}: cannot read ({exc})") from None
    except (ValueError, RecursionError) as exc:
        raise ReplayError(f"{path}: not a case file (not JSON: {exc})") from None
    try:
        return case_from_dict(raw)
    except CapsimError as exc:
        raise ReplayError(f"{path}: {exc}") from None


def case_from_dict(raw: Any) -> Case:
    """A Case from its JSON object, validated field by field (errors name the field)."""
    if not isinstance(raw, dict):
        raise ReplayError(f"not a case file (expected a JSON object, got {type(raw).__name__})")
    version = raw.get("capsim_replay")
    if version != FORMAT or isinstance(version, bool):
        raise ReplayError(f"capsim_replay: expected {FORMAT} (got {version!r})")
    allowed = {"capsim_replay", "kind", "scenario", "seed", "steps", "property", "failure"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ReplayError(f"{unknown[0]}: unknown field (allowed: {', '.join(sorted(allowed))})")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ReplayError(f"kind: must be one of {', '.join(KINDS)} (got {kind!r})")
    seed = raw.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ReplayError(f"seed: must be an integer >= 0 (got {seed!r})")
    if not isinstance(raw.get("scenario"), dict):
        got = "missing" if "scenario" not in raw else type(raw["scenario"]).__name__
        raise ReplayError(f"scenario: must be a JSON object (got {got})")
    try:
        scenario = Scenario.from_dict(raw["scenario"])
    except CapsimError as exc:
        raise ReplayError(f"scenario: {exc}") from None
    except RecursionError:
        raise ReplayError("scenario: nested too deeply") from None
    if scenario.seed != seed:
        scenario = scenario.with_overrides({"seed": seed})
    for name in ("property", "failure"):
        if not isinstance(raw.get(name, ""), str):
            raise ReplayError(f"{name}: must be a string (got {raw[name]!r})")
    steps: tuple[dict[str, Any], ...] = ()
    if kind == "machine":
        steps = _steps(raw.get("steps"), scenario)
    elif "steps" in raw:
        raise ReplayError("steps: only machine cases have steps (this one is a run)")
    return Case(kind, scenario, seed, steps, raw.get("property", ""), raw.get("failure", ""))


def _steps(raw: Any, scenario: Scenario) -> tuple[dict[str, Any], ...]:
    """A machine case's steps, each checked against the stepper's step table."""
    from sim.stepper import check_step

    if not isinstance(raw, list):
        raise ReplayError(f"steps: must be a list of step objects (got {raw!r:.60})")
    for i, step in enumerate(raw):
        check_step(step, scenario, f"steps[{i}]")
    return tuple(raw)


def replay(case: Case) -> tuple[History, dict[str, Any]]:
    """Re-run `case`: its history and metrics (the same as the run that saved it)."""
    if case.kind == "run":
        from sim.run import run

        result = run(case.scenario, case.seed)
        return result.history, result.metrics
    from sim.stepper import Stepper

    stepper = Stepper(case.scenario)
    for step in case.steps:
        stepper.apply(step)
    return stepper.history, stepper.metrics()


def history_digest(history: History) -> str:
    """sha256 of the history's JSON lines: equal digests, byte-identical histories."""
    return hashlib.sha256(history.to_jsonl().encode()).hexdigest()
