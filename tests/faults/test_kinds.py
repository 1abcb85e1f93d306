"""The built-in fault kinds: their windows, cuts and validation, one table each."""

from __future__ import annotations

import pytest

from sim.errors import ScenarioError
from sim.faults.base import fault
from sim.faults.links import isolate_cut
from sim.faults.partition import partition_cut
from sim.plugins import FAULTS


def test_every_kind_is_registered_in_listing_order() -> None:
    assert FAULTS.names() == (
        "partition",
        "one-way",
        "isolate",
        "bridge",
        "flapping",
        "crash",
        "clock-skew",
    )


def test_flapping_alternates_on_and_off_until_its_end() -> None:
    spec = fault("flapping", start_ms=100.0, end_ms=600.0, groups=[[0]], period_ms=100.0)
    assert spec.windows(10_000.0) == [(100.0, 200.0), (300.0, 400.0), (500.0, 600.0)]


def test_flapping_without_an_end_flaps_until_the_run_ends() -> None:
    spec = fault("flapping", start_ms=0.0, groups=[[0]], period_ms=100.0)
    assert spec.windows(350.0) == [(0.0, 100.0), (200.0, 300.0)]


def test_bridge_reaches_both_sides_which_cannot_reach_each_other() -> None:
    cut = partition_cut([[0, 1], [3, 4]], 5, rest_is_bridge=True)
    assert cut(0, 3) and cut(4, 1)
    assert not cut(0, 2) and not cut(2, 4) and not cut(0, 1)


def test_unlisted_nodes_form_one_more_group() -> None:
    cut = partition_cut([[0]], 3, rest_is_bridge=False)
    assert cut(0, 1) and cut(2, 0) and not cut(1, 2)


def test_isolate_cuts_every_link_of_the_node_only() -> None:
    cut = isolate_cut(2)
    assert cut(2, 0) and cut(1, 2) and not cut(0, 1) and not cut(2, 2)


@pytest.mark.parametrize(
    ("kind", "fields", "message"),
    [
        ("partition", {"groups": [[0, 1], [1, 2]]}, "fault.groups: groups overlap: node 1"),
        ("partition", {"groups": [[0, 9]]}, "fault.groups[0][1]: node 9 does not exist"),
        ("partition", {"groups": [[0, 1, 2]]}, "fault.groups: a partition needs at least two"),
        ("bridge", {"groups": [[0], [1], [2]]}, "fault.groups: a bridge needs exactly 2 groups"),
        ("bridge", {"groups": [[0], [1, 2]]}, "fault.groups: a bridge needs at least one unlisted"),
        ("one-way", {"from": [0], "to": [0, 1]}, "fault.to: overlaps fault.from (nodes [0])"),
        ("isolate", {"node": 3}, "fault.node: node 3 does not exist"),
        ("crash", {"node": 0, "end_ms": 5.0}, "fault.end_ms: must be > fault.start_ms"),
    ],
)
def test_a_kind_checks_its_fields_against_the_cluster(kind, fields, message) -> None:
    spec = fault(kind, **{"start_ms": 10.0, **fields})
    with pytest.raises(ScenarioError) as info:
        spec.check(3, "fault")
    assert str(info.value).startswith(message), str(info.value)


def test_a_kind_parses_its_table_and_gives_it_back() -> None:
    table = {"kind": "one-way", "start_ms": 1.0, "end_ms": 2.0, "from": [0], "to": [1, 2]}
    assert fault(**table).to_dict() == table
    assert fault("crash", start_ms=0.0, node=1).to_dict() == {
        "kind": "crash",
        "start_ms": 0.0,
        "node": 1,
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "crash", "start_ms": 0.0}, "fault.node: missing"),
        (
            {"kind": "crash", "start_ms": 0.0, "node": 1, "groups": []},
            "fault: unknown key 'groups'",
        ),
        ({"kind": "isolate", "start_ms": -1.0, "node": 1}, "fault.start_ms: must be >= 0.0"),
        ({"kind": "meteor", "start_ms": 0.0}, "fault.kind: unknown 'meteor' (allowed: partition"),
    ],
)
def test_bad_tables_are_one_line_naming_the_field(fields, message) -> None:
    with pytest.raises(ScenarioError) as info:
        fault(**fields)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)
