"""A mode is one module that describes itself: a tiny mode defined here runs end to end.

`PrimaryCopy` keeps each key on one node (the first of its preference list);
the home node forwards every request there as a message of the mode's own
kind. Nothing outside this file knows it: registering its `ModeSpec` is
enough for a TOML scenario to name it, give its settings table, set its
message kind's latency, override its settings by old (flat) and new paths,
run it with faults, and report its counters.
"""

from __future__ import annotations

import importlib
import itertools
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import Field

import sim.modes
from sim import load_scenario, run
from sim.config.cluster import ModeSettings
from sim.engine.network import message
from sim.engine.world import World
from sim.errors import ScenarioError
from sim.modes.base import (
    KeyState,
    LeaseLocks,
    LocalLocks,
    ModeSpec,
    ReadResult,
    Reply,
    Status,
    WriteResult,
)
from sim.plugins import MODES, Registry

# --------------------------------------------------------------------------- the mode


class PrimaryCopySettings(ModeSettings):
    """`[cluster.primary-copy]`: how long the primary takes to answer."""

    service_ms: float = Field(0.5, ge=0.0)


@message
class Request:
    kind: ClassVar[str] = "primary"
    rid: int
    key: str
    op: str
    value: Any = None
    context: Any = None
    conditional: bool = False


@message
class Response:
    kind: ClassVar[str] = "primary"
    rid: int
    result: Any


class PrimaryCopy(LocalLocks):
    """One copy per key, on its primary; every request goes there (linearizable, not available)."""

    name = "primary-copy"

    def __init__(self, world: World, settings: PrimaryCopySettings) -> None:
        self.world = world
        self.settings = settings
        self.net = world.network
        self.data: dict[str, tuple[int, Any]] = {}  # key -> (version, value), on its primary
        self.locks = [LeaseLocks() for _ in range(world.nodes)]
        self.waiting: dict[int, Reply] = {}
        self.ids = itertools.count(1)
        self.forwarded = 0
        world.network.register(Request, self._on_request)
        world.network.register(Response, self._on_response)

    def _primary(self, key: str) -> int:
        return self.world.ring.preference_list(key, 1)[0]

    def _ask(self, node: int, request: Request, reply: Reply) -> None:
        self.waiting[request.rid] = reply
        self.forwarded += 1
        self.net.send(node, self._primary(request.key), request)

    def load(self, key: str, value: Any) -> None:
        self.data[key] = (0, value)

    def read(self, node: int, key: str, reply: Reply) -> None:
        self._ask(node, Request(next(self.ids), key, "read"), reply)

    def write(self, node, key, value, context, conditional, reply) -> None:
        request = Request(next(self.ids), key, "write", value, context, conditional)
        self._ask(node, request, reply)

    def _on_request(self, src: int, dst: int, msg: Request) -> None:
        version, value = self.data.get(msg.key, (None, None))
        if msg.op == "read":
            result: Any = ReadResult(Status.OK, () if value is None else (value,), version)
        elif msg.conditional and version != msg.context:
            result = WriteResult(Status.CONFLICT, version, "version changed")
        else:
            version = (version or 0) + 1
            self.data[msg.key] = (version, msg.value)
            result = WriteResult(Status.OK, version)
        self.world.call_later(
            self.settings.service_ms, self.net.send, dst, src, Response(msg.rid, result)
        )

    def _on_response(self, src: int, dst: int, msg: Response) -> None:
        reply = self.waiting.pop(msg.rid, None)
        if reply is not None:
            reply(msg.result)

    def crash(self, node: int) -> None:
        self.locks[node].clear()

    def restart(self, node: int) -> None:
        """Nothing to rebuild: the copy is durable."""

    def divergent_keys(self) -> Iterable[str]:
        return []  # one copy cannot disagree with itself

    def repair_target(self, key: str) -> Any:
        return None  # one copy: nothing to repair

    def repaired(self, key: str, target: Any) -> bool:
        return True

    def stored_keys(self) -> Iterable[str]:
        return list(self.data)

    def final(self, key: str) -> KeyState:
        held = self.data.get(key)
        return KeyState(() if held is None else (held[1],), True, 1)

    def export_version(self, version: Any) -> Any:
        return version

    def stats(self) -> dict[str, Any]:
        return {"forwarded": self.forwarded}


MODE = ModeSpec(
    name="primary-copy",
    settings=PrimaryCopySettings,
    build=PrimaryCopy,
    message_kinds=("primary",),
    counters=("forwarded",),
    summary="one copy per key on its primary",
)

# --------------------------------------------------------------------------- the proof

SCENARIO = """
seed = 3
duration_ms = 3000
settle_ms = 2000

[cluster]
nodes = 5
mode = "primary-copy"

[cluster.primary-copy]
service_ms = 1.0

[network.latency_by_kind]
primary = { dist = "constant", value = 2.0 }

[shop]
concurrency = "occ"

[[faults]]
kind = "partition"
start_ms = 500
end_ms = 1500
groups = [[0, 1], [2, 3, 4]]

[workload]
customers = 60
stock = 10
arrival_mean_ms = 30
"""


@pytest.fixture
def registered(plugin):
    return plugin(MODES, MODE)


def test_a_mode_defined_in_one_file_runs_end_to_end_from_toml(registered, toml_file) -> None:
    scenario = load_scenario(toml_file(SCENARIO))
    assert scenario.cluster.settings.service_ms == 1.0
    assert scenario.to_dict()["cluster"]["primary-copy"] == {"service_ms": 1.0}
    result = run(scenario, check=True)
    m = result.metrics
    assert set(m["mode"]) == set(MODE.counters) and m["mode"]["forwarded"] > 0
    assert m["messages"]["by_kind"]["primary"]["delivered"] > 0
    assert m["orders_acknowledged"] == 10 and m["oversell_units"] == 0  # one copy: no oversell
    assert m["availability_during_faults"] < 1.0  # primaries across the cut are out of reach
    assert m["linearizable"] is True


def test_its_settings_are_reached_by_flat_and_nested_paths(registered, toml_file) -> None:
    path = toml_file(SCENARIO)
    flat = load_scenario(path, ["cluster.service_ms=4.0"])
    nested = load_scenario(path, ["cluster.primary-copy.service_ms=4.0"])
    assert flat == nested and flat.cluster.settings.service_ms == 4.0
    with pytest.raises(ScenarioError, match=r"^cluster.service_ms: must be >= 0.0"):
        load_scenario(path, ["cluster.service_ms=-1"])


def test_without_it_the_name_is_refused_with_the_modes_there_are(toml_file) -> None:
    path = toml_file(SCENARIO)
    with pytest.raises(ScenarioError, match=r"^cluster: unknown key 'primary-copy' \(allowed: "):
        load_scenario(path)


def test_a_module_in_the_modes_package_is_discovered(monkeypatch, tmp_path: Path) -> None:
    """Discovery: a file in sim/modes that declares MODE is a mode, with no list to edit."""
    (tmp_path / "primary_copy.py").write_text(
        textwrap.dedent(
            """
            from tests.modes.test_plugin import MODE
            """
        )
    )
    monkeypatch.setattr(sim.modes, "__path__", [*sim.modes.__path__, str(tmp_path)])
    importlib.invalidate_caches()
    fresh = Registry("mode", "sim.modes", "MODE")
    try:
        assert fresh.names() == ("strong", "weak", "eventual", "primary-copy")
        assert fresh.get("primary-copy", "cluster.mode") is MODE
    finally:
        import sys

        sys.modules.pop("sim.modes.primary_copy", None)


def test_every_built_in_mode_reports_the_counters_it_declares() -> None:
    for spec in MODES:
        scenario = load_scenario(
            Path(__file__).resolve().parents[2] / "scenarios" / "flash_sale_partition.toml",
            [f"cluster.mode={spec.name}", "workload.customers=20", "duration_ms=3000"],
        )
        stats = run(scenario).metrics["mode"]
        assert set(stats) == set(spec.counters), spec.name
