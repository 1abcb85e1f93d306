"""A fault kind is one small class: a kind defined here is registered, loaded from TOML and run.

`LinkCut` drops every message between two nodes, both ways, and nothing
else (a broken cable between two racks). Nothing outside this file knows it:
registering the class is enough for a `[[faults]]` table to name it, for its
fields to be validated with one-line errors naming the dotted path, and for
the nemesis to start, stop and record it.
"""

from __future__ import annotations

from typing import Any

import pytest

from sim import load_scenario, run
from sim.errors import ScenarioError
from sim.faults.base import Cut, CutFault, node_id
from sim.history import NEMESIS
from sim.plugins import FAULTS


class LinkCut(CutFault):
    """Messages between `a` and `b` are dropped, both ways; every other link works."""

    name = "link-cut"

    a: int
    b: int

    def check(self, nodes: int, path: str) -> None:
        super().check(nodes, path)
        node_id(self.a, f"{path}.a", nodes)
        node_id(self.b, f"{path}.b", nodes)
        if self.a == self.b:
            raise ScenarioError(f"{path}.b: must differ from {path}.a (got {self.b})")

    def cut_for(self, nodes: int) -> Cut:
        ends = {self.a, self.b}
        return lambda src, dst: {src, dst} == ends

    def describe(self) -> Any:
        return [self.a, self.b]


SCENARIO = """
seed = 5
duration_ms = 3000
settle_ms = 3000

[cluster]
nodes = 3
mode = "eventual"

[[faults]]
kind = "link-cut"
start_ms = 200
end_ms = 2500
a = 0
b = 1

[workload]
customers = 60
stock = 10
arrival_mean_ms = 30
"""


@pytest.fixture
def registered(plugin):
    return plugin(FAULTS, LinkCut)


def test_a_fault_kind_defined_in_one_file_runs_from_toml(registered, toml_file) -> None:
    scenario = load_scenario(toml_file(SCENARIO))
    assert isinstance(scenario.faults[0], LinkCut)
    assert scenario.to_dict()["faults"][0] == {
        "kind": "link-cut",
        "start_ms": 200.0,
        "end_ms": 2500.0,
        "a": 0,
        "b": 1,
    }
    result = run(scenario)
    nemesis = [(op.f, op.time, op.value) for op in result.history if op.process == NEMESIS]
    assert nemesis == [("start-link-cut", 200.0, [0, 1]), ("stop-link-cut", 2500.0, [0, 1])]
    m = result.metrics
    assert m["messages"]["dropped"] > 0  # the cut dropped traffic between 0 and 1
    assert m["requests_during_faults"] > 0 and m["ok_during_faults"] > 0
    assert m["converged"] is True and m["lost_orders"] == 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("faults.0.b=0", "faults[0].b: must differ from faults[0].a (got 0)"),
        ("faults.0.a=7", "faults[0].a: node 7 does not exist (cluster.nodes = 3: 0..2)"),
        ('faults.0.a="x"', "faults[0].a: must be an integer (got 'x')"),
    ],
)
def test_its_fields_are_validated_naming_the_dotted_path(
    registered, toml_file, override: str, message: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(toml_file(SCENARIO), [override])
    assert str(info.value) == message


def test_without_it_the_kind_is_refused_listing_the_kinds_there_are(toml_file) -> None:
    with pytest.raises(ScenarioError, match=r"^faults\[0\].kind: unknown 'link-cut' \(allowed: "):
        load_scenario(toml_file(SCENARIO))
