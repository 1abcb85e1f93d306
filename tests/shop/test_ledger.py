"""The ledger of settled reservations is a join: per dot, the join of its fates, nothing else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sim.shop import ledger as ledgers
from sim.shop.ledger import CONFIRMED, HELD, KEPT, RELEASED, Ledger, join_fates

ACTORS = ("0", "1", "2:1")
FATES = st.sampled_from([KEPT, (RELEASED, False), (RELEASED, True), (CONFIRMED, True)])


@st.composite
def ledgers_of(draw: st.DrawFn) -> tuple[Ledger, dict]:
    """A ledger built by settling dots one by one, and the plain dict it should equal."""
    out, model = ledgers.EMPTY, {}
    for _ in range(draw(st.integers(0, 12))):
        dot = (draw(st.sampled_from(ACTORS)), draw(st.integers(1, 9)))
        fate = draw(FATES)
        out = out.settle(dot, fate, 2)
        model[dot] = fate if dot not in model else join_fates(model[dot], fate)
    for actor in draw(st.lists(st.sampled_from(ACTORS), max_size=3)):
        out = out.claim(actor, float(draw(st.integers(0, 5))), draw(st.integers(0, 3)))
    return out, model


def as_dict(ledger: Ledger) -> dict:
    """Every settled dot and its fate, by asking the ledger dot by dot."""
    return {
        (actor, seq): ledger.fate((actor, seq))
        for actor in ACTORS
        for seq in range(1, 12)
        if ledger.covers((actor, seq))
    }


def merged(*models: dict) -> dict:
    out: dict = {}
    for model in models:
        for dot, fate in model.items():
            out[dot] = fate if dot not in out else join_fates(out[dot], fate)
    return out


@given(ledgers_of(), ledgers_of(), ledgers_of())
def test_the_join_is_the_join_of_each_dots_fates(a, b, c) -> None:
    (la, ma), (lb, mb), (lc, mc) = a, b, c
    assert as_dict(la) == ma
    assert as_dict(ledgers.join([la, lb])) == merged(ma, mb)
    assert ledgers.join([la, lb]) == ledgers.join([lb, la])
    assert ledgers.join([ledgers.join([la, lb]), lc]) == ledgers.join([la, ledgers.join([lb, lc])])
    assert ledgers.join([la, la]) == la
    j = ledgers.join([la, lb, lc])
    assert j.held_units == 2 * sum(1 for fate in merged(ma, mb, mc).values() if fate == KEPT)
    for actor in ACTORS:  # the latest claim wins
        claims = [(x.of(actor).claim_ms, x.of(actor).unseen) for x in (la, lb, lc)]
        assert (j.of(actor).claim_ms, j.of(actor).unseen) == max(claims)


def test_a_late_copy_of_a_settled_reservation_joins_its_fate() -> None:
    released = ledgers.EMPTY.settle(("0", 1), (RELEASED, False), 1)
    assert released.held_units == 0 and released.standing_units == 1  # may still be confirmed
    confirmed = released.absorb(("0", 1), (CONFIRMED, False))  # a confirmation in flight
    assert confirmed.fate(("0", 1)) == KEPT and confirmed.held_units == 1
    assert confirmed.absorb(("0", 1), (HELD, False)) == confirmed  # a stale hold changes nothing
    cancelled = confirmed.absorb(("0", 1), (CONFIRMED, True))  # an apology is sticky
    assert cancelled.fate(("0", 1)) == (CONFIRMED, True) and cancelled.held_units == 0


def test_gaps_are_what_is_not_settled_yet() -> None:
    out = ledgers.EMPTY.settle(("0", 3), KEPT, 1).settle(("0", 1), KEPT, 1)
    mine = out.of("0")
    assert (mine.upto, mine.gaps, mine.count) == (3, (2,), 2)
    assert not out.covers(("0", 2)) and out.covers(("0", 3)) and not out.covers(("1", 1))
    assert out.settle(("0", 2), KEPT, 1).of("0").gaps == ()


def test_settled_sales_beyond_stock_are_cancelled_last_dot_first() -> None:
    """Never needed when rows settle by the rule, but the merge must stay total."""
    out = ledgers.EMPTY
    for seq in (1, 2, 3):
        out = out.settle(("0", seq), KEPT, 1)
    out = out.settle(("1", 1), (RELEASED, False), 1)
    cut = out.cancel_beyond(2)
    assert cut.held_units == 2
    assert cut.fate(("0", 3)) == (CONFIRMED, True)
    assert cut.fate(("1", 1)) == (RELEASED, False)
