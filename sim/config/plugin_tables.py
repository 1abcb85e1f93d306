"""Sections with a table per plug-in (`[cluster.<mode>]`, `[workload.<kind>]`), keys also flat.

A plug-in (a mode, a workload) declares its own settings table. The section
that selects it holds every registered plug-in's table, each filled with its
defaults. A key given flat in the section (`cluster.read_quorum`) that is not
one of the section's own fields sets the setting of that name in every
plug-in table that has it: the first layout was flat, and its files, scripts
and `--set` paths keep working.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sim.config.table import Table
from sim.errors import ScenarioError
from sim.plugins import Registry


def canonical_key(key: str, own: Collection[str], registry: Registry[Any]) -> tuple[str, ...]:
    """Where a key of the section lives: itself, or `<plug-in>.<key>` for each that has it."""
    if key in own or key in registry:
        return (key,)
    return tuple(f"{name}.{key}" for name, spec in registry.items() if key in spec.settings.keys())  # noqa: SIM118


def gather(
    data: Mapping[str, Any],
    path: str,
    own: Collection[str],
    registry: Registry[Any],
    hints: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, Table]]:
    """Split a section into its own keys and every plug-in's validated settings table.

    Args:
        data: the section as given (own keys, plug-in tables, flat plug-in settings).
        path: the section's dotted path (`cluster`).
        own: the section's own keys.
        registry: the plug-ins that have tables here.
        hints: for keys that moved elsewhere, where they went (an error says so).

    Returns:
        (the section's own keys, {plug-in name: settings table}).

    Raises:
        ScenarioError: an unknown key, a setting given twice, or a bad setting.
    """
    given: dict[str, Any] = {}
    flat: dict[str, dict[str, tuple[str, Any]]] = {}
    for key, value in data.items():
        if key in own:
            continue
        if key in registry:
            if not isinstance(value, Mapping | Table):
                raise ScenarioError(f"{path}.{key}: must be a table (got {value!r})")
            given[key] = value
            continue
        targets = canonical_key(key, own, registry)
        if not targets:
            if hints and key in hints:
                raise ScenarioError(f"{path}.{key}: has moved to {hints[key]}")
            allowed = ", ".join([*own, *registry.names()])
            raise ScenarioError(
                f"{path}: unknown key {key!r} (allowed: {allowed}, or a setting of one of "
                f"the {registry.what} tables)"
            )
        for target in targets:
            name, _, setting = target.partition(".")
            flat.setdefault(name, {})[setting] = (key, value)
    tables: dict[str, Table] = {}
    for name, spec in registry.items():
        table = given.get(name, {})
        extra = flat.get(name, {})
        if isinstance(table, Table) and not extra:
            tables[name] = table
            continue
        merged = table.to_dict() if isinstance(table, Table) else dict(table)
        for setting, (key, value) in extra.items():
            if setting in merged:
                raise ScenarioError(f"{path}.{key}: given twice (also as {path}.{name}.{setting})")
            merged[setting] = value
        tables[name] = spec.settings.parse(merged, f"{path}.{name}")
    return {k: v for k, v in data.items() if k in own}, tables


def dump(tables: Mapping[str, Table]) -> dict[str, Any]:
    """The plug-in tables as TOML-shaped data, empty ones left out."""
    out = {}
    for name, table in tables.items():
        data = table.to_dict()
        if data:
            out[name] = data
    return out
