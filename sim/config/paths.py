"""Dotted paths into a scenario's TOML form: `--set` values, setting a path, old paths to new ones.

The first layout was flat (`cluster.read_quorum`, `cluster.concurrency`,
`workload.zipf_s`); the second gives each concern its table
(`cluster.eventual.read_quorum`, `shop.concurrency`, `workload.browse.zipf_s`).
Both are accepted in files and in `--set`: `canonical` moves a whole raw
scenario to the second layout and remembers where each moved value came from,
so that an error names the path the user wrote.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from typing import Any

from sim.config.cluster import ClusterConfig
from sim.config.limits import check_nesting
from sim.config.shop import SHOP_KEYS_ELSEWHERE
from sim.config.workload import WorkloadConfig
from sim.errors import ScenarioError

SECTIONS = ("cluster", "network", "shop", "workload")
"""The tables of a scenario (`faults` is a list of tables)."""

Aliases = dict[str, str]
"""Canonical dotted path -> the path the user wrote, for values given in the old layout."""


def parse_value(text: str, path: str = "--set") -> Any:
    """A command-line override value: a TOML literal (`5`, `true`, `[1, 2]`), else a string.

    Raises:
        ScenarioError: a literal nested too deep or a number too long to read (names `path`).
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise ScenarioError(f"{path}: value nested too deep to read") from None
    except ValueError:  # an integer past Python's digit limit (4300): TOML, but unreadable
        raise ScenarioError(f"{path}: a number too long to read (got {len(text)} digits)") from None


def canonical_paths(path: str) -> tuple[str, ...]:
    """Where a dotted path lives in the second layout (one path, or several for a shared key).

    `cluster.read_quorum` -> (`cluster.eventual.read_quorum`,);
    `cluster.peer_timeout_ms` -> strong's and eventual's; `cluster.concurrency`
    -> (`shop.concurrency`,), `workload.hold_ms` -> (`shop.hold_ms`,); a path
    already canonical, or unknown, is returned
    as it is (validation reports an unknown one).
    """
    section, _, rest = path.partition(".")
    key, dot, tail = rest.partition(".")
    if not key:
        return (path,)
    if key in SHOP_KEYS_ELSEWHERE.get(section, ()):
        return (f"shop.{key}{dot}{tail}",)
    sections = {"cluster": ClusterConfig, "workload": WorkloadConfig}
    if section not in sections:
        return (path,)
    targets = sections[section].canonical_key(key)
    return tuple(f"{section}.{t}{dot}{tail}" for t in targets) or (path,)


def canonical(raw: Mapping[str, Any]) -> tuple[dict[str, Any], Aliases]:
    """A raw scenario (any layout) in the second layout, and where each moved value came from.

    Raises:
        ScenarioError: a value given in both layouts.
    """
    check_nesting(raw, "scenario")
    out = copy.deepcopy(dict(raw))
    aliases: Aliases = {}
    for section in ("cluster", "workload"):
        table = out.get(section)
        if not isinstance(table, dict):
            continue
        for key in list(table):
            old = f"{section}.{key}"
            targets = canonical_paths(old)
            if targets == (old,):
                continue
            value = table.pop(key)
            for target in targets:
                if _get(out, target) is not None:
                    raise ScenarioError(f"{old}: given twice (also as {target})")
                set_dotted(out, target, value)
                aliases[target] = old
    return out, aliases


def renamed(error: ScenarioError, aliases: Aliases) -> ScenarioError:
    """The error with a canonical path put back as the user wrote it."""
    text = str(error)
    for new, old in sorted(aliases.items(), key=lambda kv: -len(kv[0])):
        for end in (":", ".", "["):
            if text.startswith(new + end):
                return ScenarioError(old + text[len(new) :])
    return error


def _get(raw: Mapping[str, Any], path: str) -> Any:
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def set_dotted(raw: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at a dotted path in a nested dict/list (`faults.0.end_ms`)."""
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise ScenarioError(f"--set {path}: not a dotted path (e.g. cluster.mode=strong)")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            node = node[_index(part, where, len(node))]
        elif isinstance(node, dict):
            if part not in node:
                if part in SECTIONS or i > 0:
                    node[part] = {}
                else:
                    raise ScenarioError(
                        f"{where}: unknown section (allowed: {', '.join(SECTIONS)}, faults)"
                    )
            node = node[part]
        else:
            raise ScenarioError(f"{where}: is a value, not a table")
    last = parts[-1]
    if isinstance(node, list):
        node[_index(last, path, len(node))] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError(f"{path}: parent is a value, not a table")


def set_override(raw: dict[str, Any], path: str, value: Any, aliases: Aliases) -> None:
    """Apply one override to a canonical raw scenario, by its old or its new path."""
    for target in canonical_paths(path):
        set_dotted(raw, target, value)
        if target != path:
            aliases[target] = path


def _index(part: str, path: str, length: int) -> int:
    if not part.isdigit() or int(part) >= length:
        raise ScenarioError(f"{path}: no such list entry (have {length})")
    return int(part)
