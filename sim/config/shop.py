"""The `[shop]` table: how the shop places orders and resolves siblings (not the store's policy).

A resolver is named: a registered name (`merge-orders`, `lww`, or one added
with `sim.plugins.RESOLVERS.register`) or an importable function,
`package.module:function`. A function given in Python is stored by that
name, so a scenario is plain data: it pickles to any worker and round-trips
through `to_dict`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import Field

from sim.config.table import Table
from sim.errors import ScenarioError
from sim.plugins import RESOLVERS

SHOP_KEYS_ELSEWHERE: dict[str, tuple[str, ...]] = {
    "cluster": (
        "concurrency",
        "resolver",
        "layout",
        "max_retries",
        "backoff_ms",
        "lease_ms",
        "orders",
    ),
    "workload": ("hold_ms",),
}
"""Keys of `[shop]` also accepted in another table: where the first layout kept them
(`cluster.concurrency`...) or where DESIGN.md names them (`cluster.orders`, `workload.hold_ms`)."""

ORDER_PROTOCOLS = ("saga", "2pc", "none")
"""How an order's two writes (reservation, record) commit: DESIGN.md `cluster.orders`."""

Resolver = Callable[[Sequence[Any]], Any]
"""A client-side resolver: sibling values in, one value out (DESIGN.md, "Client-side resolvers")."""


def import_name(function: Callable[..., Any]) -> str:
    """`module:qualname` of a function, checked to import back to the same object.

    Raises:
        ScenarioError: the function cannot be imported by name (a lambda, a closure).
    """
    name = f"{getattr(function, '__module__', '?')}:{getattr(function, '__qualname__', '?')}"
    try:
        found = load_function(name)
    except ScenarioError:
        found = None
    if found is not function:
        raise ScenarioError(
            f"shop.resolver: a function must be importable by name to travel with the "
            f"scenario (got {name}); define it at module level or register it by name"
        )
    return name


def load_function(name: str, path: str = "shop.resolver") -> Resolver:
    """The function a `module:qualname` string names.

    Raises:
        ScenarioError: the module or the attribute does not exist, or is not callable.
    """
    module_name, _, qualname = name.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError, ValueError):
        raise ScenarioError(
            f"{path}: cannot import {name!r} (expected package.module:function)"
        ) from None
    if not callable(target):
        raise ScenarioError(f"{path}: {name!r} is not a function")
    return target


def resolver_for(name: str) -> Resolver:
    """The resolver a scenario names: registered, or imported from `module:function`."""
    found = RESOLVERS.find(name)
    if found is not None:
        return found
    if ":" in name:
        return load_function(name)
    return RESOLVERS.get(name, "shop.resolver")


class ShopConfig(Table):
    """The `[shop]` table: order protocol, concurrency control, resolver, layout, retries, holds."""

    PATH = "shop"

    orders: Literal["saga", "2pc", "none"] = "saga"
    """saga: hold, record, confirm, and compensate what failed; 2pc: one atomic commit
    (modes with atomic commit only); none: reserve, then record, nothing undone."""
    concurrency: Literal["occ", "lock"] = "occ"
    resolver: str = "merge-orders"
    layout: Literal["relational", "nosql"] = "relational"
    max_retries: int = Field(5, ge=0)
    backoff_ms: float = Field(10.0, ge=0.0)
    lease_ms: float = Field(500.0, gt=0.0)
    hold_ms: float = Field(10_000.0, gt=0.0)
    """saga: a held reservation neither confirmed nor released by then is released by
    the next writer of the product row (a cart hold)."""

    @classmethod
    def normalise(cls, data: dict[str, Any]) -> dict[str, Any]:
        """A resolver function becomes its import name; a name must be known or importable."""
        resolver = data.get("resolver")
        if callable(resolver):
            name = RESOLVERS.name_of(resolver)
            data["resolver"] = name if name is not None else import_name(resolver)
        elif isinstance(resolver, str):
            resolver_for(resolver)
        return data
