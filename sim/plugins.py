"""Registries of plug-ins (modes, fault kinds, workloads, resolvers): one definition of each name.

A plug-in is found without a list to edit. On first use a registry imports
every module of its package and takes what each declares in one module-level
attribute (`MODE` in sim/modes, `FAULTS` in sim/faults, `WORKLOAD` in
sim/shop/workloads, `RESOLVERS` in sim/shop/resolvers): an entry with a `name`,
a sequence of them, or a mapping from name to entry. A plug-in defined
elsewhere (a test, a notebook) is added with `register`.

The scenario layer asks these registries for the allowed names and for the
settings tables; it never imports a mode or a workload itself, so the layers
still point down (STYLE.md §2). The import happens at run time, the first time
a name is looked up.

A plug-in registered with `register` lives in this process only: a sweep's
worker processes discover the packages again but do not see it. Put such a
plug-in in a module of its package to sweep it on a process pool.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from sim.errors import ScenarioError

T = TypeVar("T")

ORDER_LAST = 1_000
"""Where an entry without an `order` attribute is listed: after those that have one."""


class Registry(Generic[T]):
    """Named plug-ins of one kind, discovered from a package or registered by hand.

    Args:
        what: what an entry is, for messages ("mode", "fault kind").
        package: the package whose modules declare entries (`sim.modes`), or one
            module that declares them all.
        attribute: the module attribute holding a module's entries (`MODE`).
    """

    def __init__(self, what: str, package: str, attribute: str) -> None:
        self.what = what
        self.package = package
        self.attribute = attribute
        self._entries: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        self._discovered = False
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- adding

    def register(self, entry: T, name: str | None = None, *, origin: str = "register()") -> T:
        """Add `entry` under `name` (default: `entry.name`); returns it (usable as a decorator).

        Raises:
            ValueError: the name is empty, or another entry already has it.
        """
        name = getattr(entry, "name", None) if name is None else name
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.what} needs a non-empty string name (got {name!r})")
        with self._lock:
            self._discover()
            held = self._entries.get(name)
            if held is not None and held is not entry:
                raise ValueError(
                    f"{self.what} {name!r} is already defined (in {self._origin[name]})"
                )
            self._entries[name] = entry
            self._origin[name] = origin
        return entry

    def unregister(self, name: str) -> None:
        """Remove the entry `name` (a test's own plug-in, when the test is done)."""
        with self._lock:
            self._entries.pop(name, None)
            self._origin.pop(name, None)

    # ----------------------------------------------------------------- looking up

    def get(self, name: object, path: str) -> T:
        """The entry `name`, or a ScenarioError naming `path` and the allowed names."""
        self._discover()
        entry = self._entries.get(name) if isinstance(name, str) else None
        if entry is None:
            raise ScenarioError(f"{path}: unknown {name!r} (allowed: {', '.join(self.names())})")
        return entry

    def find(self, name: str) -> T | None:
        """The entry `name`, or None."""
        self._discover()
        return self._entries.get(name)

    def name_of(self, entry: object) -> str | None:
        """The name `entry` is registered under, or None."""
        self._discover()
        for name, held in self._entries.items():
            if held is entry:
                return name
        return None

    def names(self) -> tuple[str, ...]:
        """Every name, in listing order (an entry's `order`, then discovery order)."""
        self._discover()
        rank = {name: i for i, name in enumerate(self._entries)}
        return tuple(
            sorted(
                self._entries,
                key=lambda n: (getattr(self._entries[n], "order", ORDER_LAST), rank[n]),
            )
        )

    def items(self) -> Iterator[tuple[str, T]]:
        """(name, entry) pairs in listing order."""
        for name in self.names():
            yield name, self._entries[name]

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        return (entry for _, entry in self.items())

    def __len__(self) -> int:
        self._discover()
        return len(self._entries)

    # ----------------------------------------------------------------- discovery

    def _discover(self) -> None:
        if self._discovered:
            return
        with self._lock:
            if self._discovered:
                return
            self._discovered = True  # before importing: a plug-in module may look names up
            package = importlib.import_module(self.package)
            modules = [package]  # a plain module declares its own entries
            if hasattr(package, "__path__"):
                infos = sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name)
                modules = [importlib.import_module(f"{self.package}.{i.name}") for i in infos]
            for module in modules:
                declared = getattr(module, self.attribute, None)
                if declared is not None:
                    self._add_declared(declared, module.__name__)

    def _add_declared(self, declared: Any, origin: str) -> None:
        if isinstance(declared, Mapping):
            for name, entry in declared.items():
                self.register(entry, name, origin=origin)
        elif isinstance(declared, list | tuple):
            for entry in declared:
                self.register(entry, origin=origin)
        else:
            self.register(declared, origin=origin)


MODES: Registry[Any] = Registry("mode", "sim.modes", "MODE")
"""Consistency modes: `sim.modes.base.ModeSpec` entries."""

FAULTS: Registry[Any] = Registry("fault kind", "sim.faults", "FAULTS")
"""Fault kinds: `sim.faults.base.Fault` subclasses."""

WORKLOADS: Registry[Any] = Registry("workload", "sim.shop.workloads", "WORKLOAD")
"""Workloads: `sim.shop.workloads.base.WorkloadSpec` entries."""

RESOLVERS: Registry[Any] = Registry("resolver", "sim.shop.resolvers", "RESOLVERS")
"""Client-side resolvers: functions from a list of sibling values to one value."""
