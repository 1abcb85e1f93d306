"""Who may import whom (STYLE.md §2): pure core, engine, plug-in modes, composition, consumers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parent.parent / "sim"

PURE = (
    "sim.errors",
    "sim.scenario",
    "sim.rng",
    "sim.distributions",
    "sim.vclock",
    "sim.history",
    "sim.shop.resolvers",
    "sim.shop.model",
    "sim.check",
)
FORBIDDEN = {
    # module prefix: prefixes it must not import
    **{
        p: (
            "simpy",
            "sim.engine",
            "sim.modes",
            "sim.client",
            "sim.run",
            "sim.metrics",
            "sim.shop.workload",
            "sim.shop.orders",
            "sim.sweep",
            "sim.cli",
        )
        for p in PURE
    },
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
