"""Orders that commit honestly, and clients that reach the cluster as a shop's would (issue 11).

The first model held stock forever for orders whose record could not be
written, and tied every client to its home node; each test below pins what
the saga, atomic commit and routing changed, on the demo's scenario.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import event, note
from hypothesis.strategies import SearchStrategy

from sim import History, Scenario, load_scenario, run
from sim.history import Op
from sim.metrics.staleness import Reflection
from sim.shop.model import ProductRow
from sim.shop.orders import OrderSteps
from tests.failures import replayable
from tests.integration.fault_kinds import FaultCoverage, each_kind, labels, per_kind
from tests.strategies import EVERY_FAULT, scenarios

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "flash_sale_partition.toml"
MODES = ("strong", "weak", "eventual")


def reproduce(*overrides: str) -> str:
    sets = " ".join(f"--set {o}" for o in overrides)
    return f"python -m sim run {SCENARIO.relative_to(ROOT)} {sets}"


def metrics(*overrides: str, check: bool = False) -> dict:
    return run(load_scenario(SCENARIO, list(overrides)), check=check).metrics


def test_strong_sells_what_its_majority_side_can_and_holds_nothing() -> None:
    how = reproduce("cluster.mode=strong")
    m = metrics("cluster.mode=strong", check=True)
    assert (m["held_units"], m["partial_orders"], m["oversell_units"], m["lost_orders"]) == (
        0,
        0,
        0,
        0,
    ), how
    assert m["linearizable"] is True, how
    assert m["units_acknowledged"] == 100, how  # all the stock, sold by the majority side


def test_without_a_commit_protocol_strong_holds_stock_for_orders_never_confirmed() -> None:
    """The first model, kept as `orders = "none"`: 21 units held for good in the demo."""
    overrides = ("cluster.mode=strong", "shop.orders=none", "workload.routing=home")
    m = metrics(*overrides)
    assert m["held_units"] > 0 and m["partial_orders"] > 0, reproduce(*overrides)
    assert m["units_acknowledged"] + m["held_units"] <= 100


@pytest.mark.parametrize("mode", ["strong", "weak", "eventual"])
def test_the_saga_compensates_what_it_started_in_every_mode(mode: str) -> None:
    m = metrics(f"cluster.mode={mode}")
    assert m["held_units"] == 0 and m["shop"]["sagas_pending"] == 0, reproduce(
        f"cluster.mode={mode}"
    )
    assert m["shop"]["sagas_landed"] == m["shop"]["sagas_started"]


def test_a_load_balancer_keeps_strong_mode_serving_through_the_majority_side() -> None:
    home = metrics("cluster.mode=strong", "workload.routing=home")
    side = metrics("cluster.mode=strong", "workload.routing=side")
    anywhere = metrics("cluster.mode=strong", "workload.routing=any")
    assert anywhere["availability_during_faults"] > home["availability_during_faults"] + 0.1
    # clients homed on the minority side gain most: they are served on the other side
    minority = next(s for s in anywhere["availability_by_side"] if s["side"] == [0, 1])
    alone = next(s for s in home["availability_by_side"] if s["side"] == [0, 1])
    assert minority["availability"] > alone["availability"]
    # "side" keeps a client on its own side of the cut: the minority gains nothing
    stuck = next(s for s in side["availability_by_side"] if s["side"] == [0, 1])
    assert stuck["availability"] < minority["availability"]


def test_eventual_mode_stays_available_with_an_isolated_node_behind_a_load_balancer() -> None:
    isolated = 'faults=[{kind="isolate",start_ms=5000,end_ms=20000,node=0}]'
    eventual = metrics("cluster.mode=eventual", isolated)
    strong = metrics("cluster.mode=strong", isolated)
    tied = metrics("cluster.mode=eventual", isolated, "workload.routing=home")
    assert eventual["availability_during_faults"] >= 0.95, reproduce(
        "cluster.mode=eventual", isolated
    )
    assert tied["availability_during_faults"] < eventual["availability_during_faults"] - 0.1
    # Tied to its home node, eventual mode served no better than strong (issue 11: 0.803
    # against 0.810); behind a load balancer strong mode routes around the node too.
    assert strong["availability_during_faults"] >= 0.95


@pytest.mark.parametrize("mode", MODES)
def test_the_saga_holds_no_stock_after_the_settle_under_generated_faults(mode: str) -> None:
    """Every mode, every fault kind: what a saga held is confirmed or released by the end.

    In strong and eventual mode the saga does it (a compensation is never lost:
    a global check, or a merge where a release beats a hold); weak mode's
    last-writer-wins can discard one, so there the cart hold's lapse is the
    backstop, and the hold is set to lapse within the settle. Storage is
    durable or not (drawn when a node crashes). Without it a crash wipes what
    only that node held (a release, a confirmation, the node's saga log,
    counted in `shop.sagas_lost`), so units may stay held, and a saga whose
    product row is gone waits for it for good. Then, in strong mode, units
    held, sagas pending or orders lost mean that Raft lost committed entries
    (counted: `mode.lost_committed`) or a saga log was lost; in eventual mode a
    saga is left pending only when no replica kept its product row
    (anti-entropy refills a wiped node from the others) or the row that
    survived lacks an acknowledged write (the hold a finishing saga waits for,
    up to `hold_ms`, gone with the only node that had it; seed 246 of the ci
    profile, N = 1); weak mode, which has no anti-entropy, only measures it.
    """
    seen: Counter[str] = Counter()
    kinds = labels(EVERY_FAULT, volatile=True)
    covered = FaultCoverage((mode,), kinds)

    def examples(kind: str) -> SearchStrategy[Scenario]:
        return scenarios(
            modes=(mode,), fault_kinds=EVERY_FAULT, loss=True, volatile=True, featured=kind
        )

    def holds(scenario: Scenario) -> None:
        # Finishing is liveness: under 5 % loss with one replica a round fails
        # often, and rounds back off to MAX_PAUSE_MS. A 20 s settle leaves a saga
        # at least fifteen rounds after the last fault; holds last longer than the
        # run, so none lapses into looking released.
        # A strict quorum of 3 under 5 % loss lands a round about half the time,
        # and a saga needs two (its write, then the read that finds it in place):
        # a 10 s settle left one pending in 1 of ~4,000 nightly examples.
        overrides: dict[str, float] = {"settle_ms": 20_000.0, "shop.hold_ms": 60_000.0}
        if scenario.cluster.mode == "weak":
            # Last-writer-wins may discard a compensation written during traffic;
            # weak mode relies on the cart hold lapsing (within the settle here).
            overrides["shop.hold_ms"] = overrides["settle_ms"] / 2
        scenario = scenario.with_overrides(overrides)
        note(f"seed={scenario.seed}: Scenario.from_dict({scenario.to_dict()!r})")
        with replayable(scenario), final_rows() as rows:
            result = run(scenario)
            m = result.metrics
            wiped = scenario.workload.products - len(rows)  # rows no replica kept
            note(f"held={m['held_units']} shop={m['shop']} lost={m['lost_orders']} wiped={wiped}")
            pending, lost_logs = m["shop"]["sagas_pending"], m["shop"]["sagas_lost"]
            if scenario.cluster.durable:
                assert m["held_units"] == 0
                assert pending == 0
            elif mode == "strong":  # what Raft loses without durable logs is counted
                damage = m["held_units"] + pending + m["lost_orders"]
                assert damage == 0 or m["mode"]["lost_committed"] > 0 or lost_logs > 0
            elif mode == "eventual":  # anti-entropy refills a wiped node from the others
                assert pending == 0 or wiped > 0 or forgotten_writes(result.history, rows) > 0
        compensated = m["shop"]["sagas_started"] > 0
        seen["a saga was compensated or finished in the background"] += compensated
        covered.add(scenario, result.history)
        event(f"background sagas: {'yes' if compensated else 'no'}")

    each_kind(kinds, per_kind(0.5), examples, holds)  # ~15 ms an example
    assert seen["a saga was compensated or finished in the background"] > 0, dict(seen)
    covered.assert_reached()


def test_two_phase_commit_never_shows_half_an_order() -> None:
    """2pc in strong mode: every order is one transaction; no read sees an aborted one."""
    overrides = ("cluster.mode=strong", "shop.orders=2pc")
    result = run(load_scenario(SCENARIO, list(overrides)), check=True)
    m = result.metrics
    how = reproduce(*overrides)
    assert m["linearizable"] is True, how
    assert (m["held_units"], m["partial_orders"], m["oversell_units"], m["lost_orders"]) == (
        0,
        0,
        0,
        0,
    ), how
    assert m["mode"]["txn_committed"] > 0 and m["mode"]["txn_aborted"] > 0, how
    # Each order's reservation and record are one txn; a product row read never shows
    # a reservation written by a transaction that failed (it would be half an order).
    written: dict[str, str] = {}  # product value tag -> the txn's outcome
    txns = [op for op in result.history if op.f == "txn"]
    invoked = {}
    for op in txns:
        if op.type == "invoke":
            invoked[op.process] = op
        else:
            micro = invoked.pop(op.process).value
            assert sorted(k.split(":")[0] for _f, k, _v in micro) == ["order", "product"]
            for _f, key, value in micro:
                if key.startswith("product:"):
                    written[value[1] if isinstance(value, list) else value] = op.type
    reads = [op for op in result.history if op.f == "read" and op.type == "ok"]
    seen = {op.value for op in reads if op.key.startswith("product:") and op.value in written}
    assert seen and all(written[tag] != "fail" for tag in seen), how


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("shop.orders=3pc", "shop.orders: unknown '3pc' (allowed: saga, 2pc, none)"),
        ("cluster.orders=2pc", "cluster.orders: '2pc' needs a mode that commits across shards"),
        (
            "workload.routing=nearest",
            "workload.routing: unknown 'nearest' (allowed: home, side, any)",
        ),
        ("workload.hold_ms=-5", "workload.hold_ms: must be > 0.0 (got -5)"),
    ],
)
def test_bad_order_and_routing_settings_are_one_line_errors(
    override: str, message: str, capsys
) -> None:
    from sim.cli import main

    code = main(["run", str(SCENARIO), "--set", "cluster.mode=weak", "--set", override])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"capsim: {message}"), err
    assert err.count("\n") == 1


SAGA_CASES = json.loads((Path(__file__).parents[1] / "data" / "saga_cases.json").read_text())


@pytest.mark.parametrize("case", SAGA_CASES, ids=[f"case{i}" for i in range(len(SAGA_CASES))])
def test_the_saga_cases_the_property_found_hold_nothing(case: dict) -> None:
    """Each run once left a hold or a saga behind (what went wrong is in `found`)."""
    m = run(Scenario.from_dict(case["scenario"])).metrics
    assert (m["held_units"], m["shop"]["sagas_pending"]) == (0, 0), case["found"]


# --------------------------------------------------------------------------- settled rows

DEMO_ORDERS = {  # recorded on the committed code before rows settled
    "strong": (100, 0, 0, 0, 0, 0),
    "weak": (197, 97, 97, 0, 0, 97),  # 69s before cold reads asked one replica
    "eventual": (160, 60, 0, 60, 0, 0),
}
"""(orders_acknowledged, oversell_units, lost_orders, apologies, held_units, partial_orders)."""


def forgotten_writes(history: History, rows: dict[str, ProductRow]) -> int:
    """Acknowledged writes of product rows that the row kept at the end does not descend
    from: lost with the data of a node that crashed without durable storage."""
    reflection = Reflection(history.lineage, {}, [])
    invoked: dict[object, Op] = {}
    forgotten = 0
    for op in history:
        if op.f != "cas" or op.key not in rows:
            continue
        if op.type == "invoke":
            invoked[op.process] = op
        elif op.type == "ok":
            written = invoked.pop(op.process).value[1]
            forgotten += not reflection.reflects(rows[op.key].tag, written)
    return forgotten


@contextmanager
def final_rows() -> Iterator[dict[str, ProductRow]]:
    """The product rows of the final state of the runs made meanwhile, by key."""
    rows: dict[str, ProductRow] = {}
    module = sys.modules["sim.run"]
    keep = module.final_state

    def final_state(mode, resolver):
        out = keep(mode, resolver)
        rows.update((k, v) for k, v in out.items() if isinstance(v, ProductRow))
        return out

    with patch.object(module, "final_state", final_state):
        yield rows


def played(
    scenario: Scenario, settling: bool = True
) -> tuple[dict, list, dict[str, ProductRow], History]:
    """A run's metrics, its history's outcomes, its final product rows and its history;
    settling on or off."""
    with final_rows() as rows, patch.object(OrderSteps, "settling", settling):
        result = run(scenario)
    outcomes = [
        (op.process, op.type, op.f, op.key, op.time, op.error, op.value if op.f == "order" else 0)
        for op in result.history
    ]
    return result.metrics, outcomes, rows, result.history


def settled(rows: dict[str, ProductRow]) -> int:
    return sum(a.count for row in rows.values() for _, a in row.ledger.actors)


@pytest.mark.parametrize("mode", ["strong", "weak", "eventual"])
def test_the_demo_settles_its_rows_and_its_figures_stay_what_they_were(mode: str) -> None:
    """Settling is invisible: every metric and every outcome as with full lists; and the
    order figures are the ones recorded before rows settled."""
    scenario = load_scenario(SCENARIO, [f"cluster.mode={mode}"])
    metrics, outcomes, rows, _ = played(scenario)
    how = reproduce(f"cluster.mode={mode}")
    assert settled(rows) > 0, how  # the demo does settle: the test proves something
    names = ("orders_acknowledged", "oversell_units", "lost_orders", "apologies")
    figures = tuple(metrics[n] for n in (*names, "held_units", "partial_orders"))
    assert figures == DEMO_ORDERS[mode], how
    listed_metrics, listed_outcomes, listed_rows, _ = played(scenario, settling=False)
    assert settled(listed_rows) == 0
    assert metrics == listed_metrics, how
    assert outcomes == listed_outcomes, how


def test_settling_changes_nothing_under_generated_faults() -> None:
    """Every mode, every fault schedule: a run whose rows settle is the run whose rows list
    every reservation, outcome for outcome and metric for metric (ProductRow.settle).

    Every fault kind, durable storage or not (drawn when a node crashes). The
    claim is the same in every mode, so coverage is asserted over the modes
    together: orders confirmed during each fault kind, rows settled (also after
    a node lost its data), oversell.
    """
    seen: Counter[str] = Counter()
    kinds = labels(EVERY_FAULT, volatile=True)
    covered = FaultCoverage(None, kinds)

    def examples(kind: str) -> SearchStrategy[Scenario]:
        return scenarios(
            modes=MODES, fault_kinds=EVERY_FAULT, loss=True, volatile=True, featured=kind
        )

    def same(scenario: Scenario) -> None:
        note(f"seed={scenario.seed}: Scenario.from_dict({scenario.to_dict()!r})")
        with replayable(scenario):
            metrics, outcomes, rows, history = played(scenario)
            listed_metrics, listed_outcomes, _, _ = played(scenario, settling=False)
            assert outcomes == listed_outcomes
            assert metrics == listed_metrics
        some = settled(rows) > 0
        seen["rows settled"] += some
        seen["oversold (and apologised or lost)"] += metrics["oversell_units"] > 0
        seen["rows settled, a node crashed and lost its data"] += (
            some and not scenario.cluster.durable
        )
        covered.add(scenario, history)
        event(f"settled: {'some' if some else 'none'}")

    each_kind(kinds, per_kind(0.5), examples, same)  # two runs of ~8 ms an example
    for case in (
        "rows settled",
        "rows settled, a node crashed and lost its data",
        "oversold (and apologised or lost)",
    ):
        assert seen[case] > 0, f"no example reached: {case} ({dict(seen)})"
    covered.assert_reached()


@pytest.mark.parametrize("mode", ["strong", "weak", "eventual"])
def test_a_hot_products_row_lists_only_its_recent_reservations(mode: str) -> None:
    """600 buyers, stock for all, no faults: the row lists a handful, the ledger the rest."""
    overrides = (
        f"cluster.mode={mode}",
        "faults=[]",
        "workload.customers=600",
        "workload.stock=600",
        "duration_ms=120000",
    )
    _, _, rows, _ = played(load_scenario(SCENARIO, list(overrides)))
    row = rows["product:0"]
    assert len(row.reservations) <= 20, reproduce(*overrides)
    assert settled(rows) >= 500, reproduce(*overrides)


def test_a_saga_waits_for_a_hold_lost_with_its_only_node() -> None:
    """The case that widened the eventual claim above (ci seed 246): N = 1, the node
    holding order o2.0's acknowledged hold crashes without durable storage, the row
    survives from a hint without it, and the finishing saga waits for it up to hold_ms."""
    case = Path(__file__).parents[1] / "data" / "saga-waits-for-a-lost-hold.json"
    scenario = Scenario.from_dict(json.loads(case.read_text()))
    with final_rows() as rows:
        result = run(scenario)
    assert len(rows) == scenario.workload.products  # no row was wiped...
    assert result.metrics["shop"]["sagas_pending"] == 1  # ...yet a saga still waits,
    assert forgotten_writes(result.history, rows) > 0  # for a write the kept row lacks
