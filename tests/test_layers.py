"""Who may import whom (STYLE.md §2): pure core, engine, plug-in modes, composition, consumers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parent.parent / "sim"

PURE = (
    "sim.errors",
    "sim.plugins",
    "sim.config",
    "sim.scenario",
    "sim.faults",
    "sim.rng",
    "sim.distributions",
    "sim.vclock",
    "sim.history",
    "sim.shop.resolvers",
    "sim.shop.model",
    "sim.check",
)
ABOVE_PURE = (
    "simpy",
    "sim.engine",
    "sim.modes",
    "sim.client",
    "sim.run",
    "sim.metrics",
    "sim.shop.workloads",
    "sim.shop.orders",
    "sim.sweep",
    "sim.cli",
)
FORBIDDEN = {
    # module prefix: prefixes it must not import
    **{p: ABOVE_PURE for p in PURE},
    "sim.engine": ("sim.modes", "sim.shop", "sim.client", "sim.metrics", "sim.run", "sim.cli"),
    "sim.modes": ("sim.shop", "sim.client", "sim.metrics", "sim.run", "sim.cli", "sim.sweep"),
    "sim.shop": (
        "sim.modes.weak",
        "sim.modes.eventual",
        "sim.modes.strong",
        "sim.run",
        "sim.metrics",
        "sim.cli",
    ),
    "sim.client": ("sim.modes.weak", "sim.modes.eventual", "sim.modes.strong", "sim.run"),
}

KERNEL = "sim.engine.kernel"
"""The one module that may name SimPy's internals (sim/engine/kernel.py)."""

SIMPY_PRIVATE = ("_now", "_queue", "_eid", "_ok", "_value", "_active_proc")


def module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


FILES = sorted(SIM.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=[module_name(p) for p in FILES])
def test_imports_respect_the_layers(path: Path) -> None:
    name = module_name(path)
    for prefix, banned in FORBIDDEN.items():
        if name == prefix or name.startswith(prefix + "."):
            bad = [i for i in imports(path) for b in banned if i == b or i.startswith(b + ".")]
            assert not bad, f"{name} imports {bad}"
    if name.startswith("sim.modes.") and name != "sim.modes.base":
        own = ".".join(name.split(".")[:3])
        others = [
            i
            for i in imports(path)
            if i.startswith("sim.modes.") and i != "sim.modes.base" and not i.startswith(own)
        ]
        assert not others, f"{name}: a mode never imports another mode ({others})"


@pytest.mark.parametrize("path", FILES, ids=[module_name(p) for p in FILES])
def test_only_the_kernel_touches_simpy_internals(path: Path) -> None:
    """SimPy's private names appear in sim/engine/kernel.py only: the engine owns SimPy."""
    if module_name(path) == KERNEL:
        return
    tree = ast.parse(path.read_text())
    used = sorted(
        {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in SIMPY_PRIVATE
        }
    )
    assert not used, f"{module_name(path)} uses SimPy internals {used}: ask the engine's kernel"
    direct = [i for i in imports(path) if i == "simpy.events" or i == "simpy.core"]
    assert not direct, f"{module_name(path)} imports {direct}"


def test_no_module_outside_the_engine_imports_simpy() -> None:
    """Modes, the client and the shop use SimPy through the engine (sim/engine/kernel.py)."""
    allowed = ("sim.engine",)
    bad = [
        module_name(p)
        for p in FILES
        if "simpy" in {i.split(".")[0] for i in imports(p)}
        and not module_name(p).startswith(allowed)
    ]
    assert not bad, bad
