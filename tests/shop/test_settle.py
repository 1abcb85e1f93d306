"""When a product row's reservations settle into its ledger (ProductRow.settle), case by case.

The property (tests/shop/test_resolvers.py, tests/integration/test_orders.py):
settling changes no fate and no figure. These pin the rule's parts by hand.
"""

from __future__ import annotations

import dataclasses

from sim.shop.model import CONFIRMED, HELD, RELEASED, ProductRow, Reservation

ACTORS = ("0", "1")
ROW = ProductRow("init", 0.0, 0, "p", "d", "c", 1.0, 10)


def sale(n: int, actor: str = "0", state: str = CONFIRMED, units: int = 1) -> Reservation:
    return Reservation(f"o{actor}.{n}", 0, units, float(n), state=state, dot=(actor, n))


def row(*reservations: Reservation, inventory: int = 10) -> ProductRow:
    return dataclasses.replace(ROW, reservations=reservations, inventory=inventory)


def both_claim(r: ProductRow, made: dict[str, int], now: float) -> ProductRow:
    for actor in ACTORS:
        r = r.settle(actor, made.get(actor, 0), ACTORS, now)
    return r


def test_nothing_settles_until_every_front_has_claimed() -> None:
    """A front never heard of may have made a reservation this row cannot see."""
    r = row(sale(1), sale(2)).settle("0", 2, ACTORS, 100.0)
    assert len(r.reservations) == 2 and r.ledger.of("0").count == 0
    r = r.settle("1", 0, ACTORS, 100.0)  # the other front: made none
    assert r.reservations == () and r.ledger.of("0").count == 2
    assert r.available() == 8 and r.reserved == 2


def test_only_what_was_made_before_every_claim_settles_and_holds_never_do() -> None:
    r = row(sale(1), sale(2, state=HELD), sale(3, state=RELEASED), sale(9))
    r = r.settle("1", 0, ACTORS, 5.0)  # front 1's claim is as of t=5
    r = r.settle("0", 4, ACTORS, 100.0)
    assert [x.order_id for x in r.reservations] == ["o0.2", "o0.9"]  # a hold; made after t=5
    assert r.ledger.fate(("0", 3)) == (RELEASED, False)
    assert r.reservation("o0.1", ("0", 1)).state == CONFIRMED  # found again by its dot
    assert r.ledger.of("0").unseen == 0


def test_reservations_the_row_cannot_see_count_against_the_stock_they_might_take() -> None:
    """Front 1 made three this row lacks: sale 4 could be beyond stock once they arrive."""
    r = row(sale(1), sale(2), sale(3), sale(4), inventory=6)
    r = both_claim(r, {"0": 4, "1": 3}, 100.0)
    assert r.ledger.of("1").unseen == 3
    # three and the unseen three fit in six; the fourth might be the one beyond stock
    assert [x.order_id for x in r.reservations] == ["o0.4"]


def test_a_release_counts_as_if_confirmed_when_deciding_what_fits() -> None:
    """A confirmation in flight beats a release: the released units may yet be taken."""
    r = row(sale(1, state=RELEASED), sale(2), sale(3), inventory=2)
    r = both_claim(r, {"0": 3}, 100.0)
    assert [x.order_id for x in r.reservations] == ["o0.3"]
    assert r.ledger.standing_units == 2 and r.ledger.held_units == 1


def test_an_apology_settles_at_once() -> None:
    r = row(dataclasses.replace(sale(1), cancelled=True)).settle("0", 1, ACTORS, 0.0)
    assert r.reservations == () and r.ledger.fate(("0", 1)) == (CONFIRMED, True)


def test_rows_settle_when_only_some_nodes_are_homes() -> None:
    """With `workload.home_nodes` a subset, the horizon waits for those fronts' claims only:
    a node that is no customer's home never reserves, so waiting for it would settle nothing."""
    from sim import load_scenario, run
    from tests.integration.test_orders import SCENARIO, played, settled

    scenario = load_scenario(SCENARIO, ["cluster.mode=eventual", "workload.home_nodes=[0, 2]"])
    metrics, _, rows, _ = played(scenario)
    assert metrics["orders_acknowledged"] > 0
    assert settled(rows) > 0
    assert run(scenario).metrics == played(scenario, settling=False)[0]


def test_a_row_with_more_of_a_fronts_reservations_than_it_made_is_left_alone() -> None:
    """Raft without durable logs can bring back a write its client was told was refused,
    and the front gave its number again: the row is left as it is, no claim, nothing
    settled (it stopped the run with an InvariantError: tests/machine/cases)."""
    r = row(sale(1), sale(1))  # two reservations numbered ("0", 1): the front made one
    assert r.settle("0", 1, ACTORS, 100.0) is r
