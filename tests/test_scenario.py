"""Scenario loading and validation: every bad field names its dotted path and what is allowed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from sim.errors import ScenarioError
from sim.scenario import ClusterConfig, Scenario, ShopConfig, load_scenario, parse_value, set_dotted

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))

BASE = {
    "seed": 1,
    "duration_ms": 1000,
    "settle_ms": 500,
    "cluster": {"nodes": 5, "replication": 3, "read_quorum": 2, "write_quorum": 2, "mode": "weak"},
    "network": {"latency": {"dist": "exponential", "mean": 5.0}},
    "faults": [
        {"kind": "partition", "start_ms": 100, "end_ms": 500, "groups": [[0, 1], [2, 3, 4]]}
    ],
    "workload": {"kind": "flash-sale", "stock": 3, "customers": 10},
}


def with_(path: str, value: object) -> dict:
    raw = copy.deepcopy(BASE)
    set_dotted(raw, path, value)
    return raw


BAD = [
    (with_("cluster.read_quorum", 4), "cluster.read_quorum: must be <= cluster.replication"),
    (with_("cluster.replication", 6), "cluster.replication: must be <= cluster.nodes"),
    (
        with_("cluster.mode", "linearish"),
        "cluster.mode: unknown 'linearish' (allowed: strong, weak, eventual)",
    ),
    (with_("cluster.concurrency", "mutex"), "cluster.concurrency: unknown 'mutex'"),
    (with_("cluster.resolver", "first"), "cluster.resolver: unknown 'first'"),
    (with_("cluster.layout", "graph"), "cluster.layout: unknown 'graph'"),
    (with_("cluster.nodes", 0), "cluster.nodes: must be >= 1"),
    (with_("cluster.nodes", 2.5), "cluster.nodes: must be an integer"),
    (with_("cluster.sloppy_quorum", "yes"), "cluster.sloppy_quorum: must be true or false"),
    (with_("cluster.clock_skew_ms", [0, 1]), "cluster.clock_skew_ms: must list one value per node"),
    (with_("cluster.colour", "red"), "cluster: unknown key 'colour'"),
    (
        with_("network.latency", {"dist": "exponential", "mean": -1}),
        "network.latency.mean: must be > 0",
    ),
    (with_("network.latency", {"dist": "gauss"}), "network.latency.dist: unknown 'gauss'"),
    (with_("network.loss", 1.5), "network.loss: must be < 1.0 (got 1.5)"),
    (
        with_("network.latency_by_kind", {"gossip": {"dist": "constant", "value": 1}}),
        "network.latency_by_kind: unknown key 'gossip'",
    ),
    (with_("faults.0.groups", [[0, 1], [1, 2]]), "faults[0].groups: groups overlap: node 1"),
    (with_("faults.0.groups", [[0, 9]]), "faults[0].groups[0][1]: node 9 does not exist"),
    (with_("faults.0.kind", "meteor"), "faults[0].kind: unknown 'meteor'"),
    (with_("faults.0.end_ms", 50), "faults[0].end_ms: must be > faults[0].start_ms"),
    (with_("faults.0.start_ms", -5), "faults[0].start_ms: must be >= 0.0"),
    (with_("faults.0.node", 1), "faults[0]: unknown key 'node'"),
    (
        with_("faults.0.groups", [[0, 1, 2, 3, 4]]),
        "faults[0].groups: a partition needs at least two sides",
    ),
    (with_("workload.kind", "auction"), "workload.kind: unknown 'auction'"),
    (with_("workload.stock", -1), "workload.stock: must be >= 0"),
    (with_("workload.timeout_ms", 0), "workload.timeout_ms: must be > 0"),
    (with_("workload.home_nodes", [0, 7]), "workload.home_nodes[1]: node 7 does not exist"),
    (with_("duration_ms", -1), "duration_ms: must be > 0"),
    (with_("colour", 1), "unknown key 'colour'"),
]


@pytest.mark.parametrize(("raw", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_fields_name_the_path_and_allowed_values(raw: dict, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(raw)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_shipped_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.cluster.nodes >= 1


def test_round_trip_through_dict() -> None:
    for path in SCENARIOS:
        scenario = load_scenario(path)
        assert Scenario.from_dict(scenario.to_dict()) == scenario


def test_overrides_by_dotted_path(tmp_path: Path) -> None:
    scenario = load_scenario(
        SCENARIOS[0],
        ["cluster.mode=eventual", "workload.stock=5", "faults.0.end_ms=42000"],
        seed=42,
    )
    assert scenario.cluster.mode == "eventual"
    assert scenario.workload.stock == 5
    assert scenario.faults[0].end_ms == 42000
    assert scenario.seed == 42


def test_override_value_parsing() -> None:
    assert parse_value("5") == 5
    assert parse_value("true") is True
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("strong") == "strong"
    assert parse_value('"quoted"') == "quoted"


def test_python_built_scenarios_are_validated_too() -> None:
    with pytest.raises(ScenarioError, match=r"^cluster.eventual.write_quorum: must be <= "):
        ClusterConfig(replication=2, write_quorum=3)
    with pytest.raises(ScenarioError, match=r"^cluster.nodes: must be >= 1 \(got 0\)$"):
        ClusterConfig(nodes=0)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[cluster\nnodes = 3")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(bad)


def test_end_of_run_covers_faults_and_settle() -> None:
    scenario = Scenario.from_dict(with_("faults.0.end_ms", 4000))
    assert scenario.last_heal_ms == 4000
    assert scenario.end_ms == 4000 + 500


# --------------------------------------------------------------------------- zones

CROSS = {"dist": "constant", "value": 75.0}
ZONES_BAD = [
    (
        with_("network.zones", [0, 1, 0]),
        "network.zones: must list one zone per node (5) or be empty (got 3)",
    ),
    (with_("network.zones", [0, -1, 0, 0, 0]), "network.zones[1]: must be >= 0 (got -1)"),
    (
        with_("network.zones", [0, 1.5, 0, 0, 0]),
        "network.zones[1]: must be an integer (got 1.5)",
    ),
    (with_("network.zones", 2), "network.zones: must be a list (got 2)"),
    (
        with_("network.cross_zone", 75.0),
        'network.cross_zone: must be a table like {dist = "exponential", mean = 5.0} (got 75.0)',
    ),
    (
        with_("network.cross_zone", {"dist": "constant", "value": -1.0}),
        "network.cross_zone.value: must be >= 0 (got -1.0)",
    ),
]


@pytest.mark.parametrize(("raw", "message"), ZONES_BAD, ids=[m for _, m in ZONES_BAD])
def test_bad_zones_are_one_exact_line(raw: dict, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(raw)
    assert str(info.value) == message


def test_zones_load_round_trip_and_are_left_out_when_not_given() -> None:
    scenario = load_scenario(
        ROOT / "scenarios" / "flash_sale_partition.toml",
        ["network.zones=[0, 0, 1, 1, 1]", 'network.cross_zone={dist = "constant", value = 75.0}'],
    )
    assert scenario.network.zones == (0, 0, 1, 1, 1) and scenario.network.zoned
    assert scenario.to_dict()["network"]["cross_zone"] == CROSS
    assert Scenario.from_dict(scenario.to_dict()) == scenario
    plain = Scenario.from_dict(BASE)
    assert plain.network.zones == () and plain.network.cross_zone is None
    assert not plain.network.zoned
    assert {"zones", "cross_zone"}.isdisjoint(plain.to_dict()["network"])


# --------------------------------------------------------------------------- layouts

FLAT = {
    "cluster": {
        "mode": "eventual",
        "read_quorum": 1,
        "peer_timeout_ms": 30.0,
        "heartbeat_ms": 20.0,
        "concurrency": "lock",
        "resolver": "lww",
    },
    "workload": {"kind": "browse", "zipf_s": 0.5, "think_ms": 10.0},
}
NESTED = {
    "cluster": {
        "mode": "eventual",
        "eventual": {"read_quorum": 1, "peer_timeout_ms": 30.0},
        "strong": {"heartbeat_ms": 20.0, "peer_timeout_ms": 30.0},
    },
    "shop": {"concurrency": "lock", "resolver": "lww"},
    "workload": {"kind": "browse", "browse": {"zipf_s": 0.5, "think_ms": 10.0}},
}


def test_the_first_layout_and_the_second_mean_the_same() -> None:
    flat, nested = Scenario.from_dict(FLAT), Scenario.from_dict(NESTED)
    assert flat == nested
    assert flat.cluster.settings.read_quorum == 1
    assert flat.cluster.modes["strong"].peer_timeout_ms == 30.0  # a shared key sets both
    assert flat.shop.concurrency == "lock" and flat.workload.settings.zipf_s == 0.5
    assert Scenario.from_dict(flat.to_dict()) == flat
    assert "read_quorum" not in flat.to_dict()["cluster"]  # to_dict gives the second layout


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("cluster.read_quorum", "cluster.eventual.read_quorum"),
        ("cluster.concurrency", "shop.concurrency"),
        ("workload.reads_per_customer", "workload.browse.reads_per_customer"),
    ],
)
def test_overrides_work_by_old_and_new_paths(old: str, new: str) -> None:
    value = "occ" if "concurrency" in old else 3
    base = Scenario.from_dict(NESTED)
    by_old, by_new = base.with_overrides({old: value}), base.with_overrides({new: value})
    assert by_old == by_new != base
    path = SCENARIOS[0]
    assert load_scenario(path, [f"{old}={value}"]) == load_scenario(path, [f"{new}={value}"])


def test_errors_name_the_path_as_the_user_wrote_it() -> None:
    with pytest.raises(ScenarioError, match=r"^cluster.read_quorum: must be <= cluster.rep"):
        Scenario.from_dict({"cluster": {"read_quorum": 9}})
    with pytest.raises(ScenarioError, match=r"^cluster.eventual.read_quorum: must be <= "):
        Scenario.from_dict({"cluster": {"eventual": {"read_quorum": 9}}})
    with pytest.raises(ScenarioError, match=r"^cluster.resolver: unknown 'first'"):
        Scenario().with_overrides({"cluster.resolver": "first"})
    with pytest.raises(ScenarioError, match=r"^workload.zipf_s: must be >= 0.0 \(got -1\)"):
        Scenario.from_dict({"workload": {"zipf_s": -1}})


def test_a_value_given_in_both_layouts_is_refused() -> None:
    both = {"cluster": {"read_quorum": 1, "eventual": {"read_quorum": 2}}}
    with pytest.raises(ScenarioError, match=r"^cluster.read_quorum: given twice"):
        Scenario.from_dict(both)
    with pytest.raises(ScenarioError, match=r"^cluster.concurrency: given twice"):
        Scenario.from_dict({"cluster": {"concurrency": "occ"}, "shop": {"concurrency": "lock"}})


def test_a_mode_table_refuses_another_modes_keys() -> None:
    with pytest.raises(ScenarioError, match=r"^cluster.strong: unknown key 'read_quorum'"):
        Scenario.from_dict({"cluster": {"strong": {"read_quorum": 1}}})


def test_an_override_of_a_file_in_the_first_layout_by_a_new_path(tmp_path: Path) -> None:
    old = tmp_path / "old.toml"
    old.write_text('[cluster]\nmode = "eventual"\nread_quorum = 1\nconcurrency = "lock"\n')
    scenario = load_scenario(old, ["cluster.eventual.read_quorum=2", "shop.concurrency=occ"])
    assert scenario.cluster.settings.read_quorum == 2 and scenario.shop.concurrency == "occ"


def test_scenarios_pickle_and_compare_equal() -> None:
    import pickle

    scenario = load_scenario(SCENARIOS[0])
    assert pickle.loads(pickle.dumps(scenario)) == scenario


def test_a_resolver_function_travels_by_its_import_name() -> None:
    from sim.shop.resolvers import lww

    assert ShopConfig(resolver=lww).resolver == "lww"  # a registered function: its name
    named = ShopConfig(resolver=_reversed_merge)
    assert named.resolver == "tests.test_scenario:_reversed_merge"
    assert Scenario(shop=named).to_dict()["shop"]["resolver"] == named.resolver
    with pytest.raises(ScenarioError, match=r"^shop.resolver: a function must be importable"):
        ShopConfig(resolver=lambda siblings: siblings[0])
    with pytest.raises(ScenarioError, match=r"^shop.resolver: cannot import 'no.such:thing'"):
        ShopConfig(resolver="no.such:thing")


def _reversed_merge(siblings):
    return siblings[-1]


# --------------------------------------------------------------------------- files of today

DATA = Path(__file__).resolve().parent / "data"
FIRST_LAYOUT = {
    "example-first-layout.toml": "example.toml",
    "flash_sale_partition-first-layout.toml": "flash_sale_partition.toml",
}


@pytest.mark.parametrize("old", sorted(FIRST_LAYOUT))
def test_files_of_the_first_layout_load_with_the_same_meaning(old: str) -> None:
    """The shipped scenarios as they were before the layout moved: the same Scenario."""
    assert load_scenario(DATA / old) == load_scenario(ROOT / "scenarios" / FIRST_LAYOUT[old])


TOML_FILES = sorted(
    p
    for p in {*ROOT.glob("scenarios/*.toml"), *ROOT.glob("tests/**/*.toml")}
    if "corpus" not in p.relative_to(ROOT).parts  # tests/corpus: malformed on purpose
)


@pytest.mark.parametrize("path", TOML_FILES, ids=[p.name for p in TOML_FILES])
def test_every_toml_file_in_the_repository_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert Scenario.from_dict(scenario.to_dict()) == scenario


def test_the_field_holding_the_mode_tables_is_not_a_key_of_its_own() -> None:
    with pytest.raises(ScenarioError, match=r"^cluster: unknown key 'modes' \(allowed: nodes"):
        Scenario().with_overrides({"cluster.modes": 3})
    cluster = ClusterConfig(mode="strong", eventual={"read_quorum": 1})
    assert ClusterConfig(**cluster.model_dump()) == cluster  # pydantic's own form round-trips
