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
from typing import Any, ClassVar

from sim.config.table import Table, shown
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
                raise ScenarioError(f"{path}.{key}: must be a table (got {shown(value)})")
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


class WithPluginTables(Table):
    """A section that holds every registered plug-in's settings table, in the field `TABLES`.

    Subclasses name the registry, the field holding the tables and the field
    selecting the plug-in of the run (`[cluster]`: MODES, "modes", "mode").
    """

    REGISTRY: ClassVar[Registry[Any]]
    TABLES: ClassVar[str]
    SELECTOR: ClassVar[str]
    MOVED: ClassVar[Mapping[str, str]] = {}
    """Keys that moved to another table, and where: an error says so."""

    @property
    def settings(self) -> Any:
        """The settings table of the plug-in this section selects."""
        return getattr(self, self.TABLES)[getattr(self, self.SELECTOR)]

    @classmethod
    def own_keys(cls) -> tuple[str, ...]:
        """The section's own fields."""
        return tuple(k for k in cls.model_fields if k != cls.TABLES)

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Own fields, then one table per registered plug-in."""
        return cls.own_keys() + cls.REGISTRY.names()

    @classmethod
    def canonical_key(cls, key: str) -> tuple[str, ...]:
        """Where a key of the section lives: itself, or `<plug-in>.<key>` for each with it."""
        return canonical_key(key, cls.own_keys(), cls.REGISTRY)

    @classmethod
    def normalise(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Gather the plug-in tables and flat plug-in settings into the `TABLES` field."""
        stored = data.pop(cls.TABLES, None)  # the field's own form (a model_dump, say)
        if stored is not None:
            if not isinstance(stored, Mapping):
                allowed = ", ".join(cls.keys())
                raise ScenarioError(f"{cls.PATH}: unknown key {cls.TABLES!r} (allowed: {allowed})")
            for name, table in stored.items():
                if name in data:
                    raise ScenarioError(f"{cls.PATH}.{name}: given twice")
                data[name] = table
        own, tables = gather(data, cls.PATH, cls.own_keys(), cls.REGISTRY, cls.MOVED)
        return {**own, cls.TABLES: tables}

    def to_dict(self) -> dict[str, Any]:
        """The section with each plug-in's table nested under its name (empty ones left out)."""
        out = {k: v for k, v in super().to_dict().items() if k != self.TABLES}
        return {**out, **dump(getattr(self, self.TABLES))}
