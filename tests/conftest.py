"""Hypothesis profiles (`dev` fast, default; `ci` for make test; `nightly`), and shared fixtures."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from sim.plugins import Registry
from tests import schedules

settings.register_profile("dev", max_examples=20, deadline=None)
# ci: the same examples on every run (derandomize), so that a clean clone's
# verdict never depends on the draw; dev and nightly draw afresh each run.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "nightly", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how many generated fault schedules the properties ran (issue 14's count)."""
    terminalreporter.write_line(f"capsim: {schedules.total()} generated fault schedules run")


@pytest.fixture
def plugin() -> Iterator[Callable[..., Any]]:
    """`plugin(registry, entry, name=None)`: register a plug-in for this test only."""
    added: list[tuple[Registry[Any], str]] = []

    def add(registry: Registry[Any], entry: Any, name: str | None = None) -> Any:
        registry.register(entry, name)
        added.append((registry, name or entry.name))
        return entry

    yield add
    for registry, name in added:
        registry.unregister(name)


@pytest.fixture
def toml_file(tmp_path: Path) -> Callable[[str], Path]:
    """`toml_file(text)`: a scenario file holding `text`."""

    def write(text: str) -> Path:
        path = tmp_path / "scenario.toml"
        path.write_text(text)
        return path

    return write
