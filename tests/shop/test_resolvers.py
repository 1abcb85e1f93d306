"""Client-side resolvers: merge-orders is a lattice join that keeps every order; lww loses some.

The laws hold over rows whose settled reservations left the list for the
ledger too (sim/shop/ledger.py): `row_histories` (tests/strategies.py) plays a product row's
history on up to three sides of a partition, writers settling it at random
points, and each property runs over those rows; and settling changes nothing
the merge decides: the same history played without settling gives the same
fate to every order, side by side and merged.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import event, given, note

from sim.shop.model import CONFIRMED, HELD, RELEASED, Dot, ProductRow, Reservation
from sim.shop.resolvers import lww, merge_orders
from tests.strategies import ACTORS, RowHistory, row_histories, sibling_rows

BASE = ProductRow(
    tag="init",
    written_ms=0.0,
    id=0,
    name="toys-0",
    description="A toy.",
    category="toys",
    price=9.5,
    inventory=4,
)


def _fields(row: ProductRow) -> dict:
    """The row's fields as constructor arguments (not the derived ones)."""
    return {f.name: getattr(row, f.name) for f in dataclasses.fields(row) if f.init}


def ids(row: ProductRow) -> set[str]:
    return {r.order_id for r in row.reservations}


@given(sibling_rows(BASE))
def test_merge_orders_is_commutative_and_keeps_every_reservation(rows: list[ProductRow]) -> None:
    merged = merge_orders(rows)
    for perm in itertools.islice(itertools.permutations(rows), 6):
        assert merge_orders(list(perm)) == merged
    assert ids(merged) == set().union(*(ids(r) for r in rows))
    assert merged.reserved <= merged.inventory  # oversell detected: the rest are cancelled
    cancelled = sum(1 for r in merged.reservations if r.cancelled)
    event(f"cancelled: {'some' if cancelled else 'none'}")


@given(sibling_rows(BASE, max_rows=3))
def test_merge_orders_is_associative_and_idempotent(rows: list[ProductRow]) -> None:
    a, b, c = (rows * 3)[:3]
    assert merge_orders([merge_orders([a, b]), c]) == merge_orders([a, merge_orders([b, c])])
    assert merge_orders([merge_orders([a, b]), c]) == merge_orders([a, b, c])
    assert merge_orders([a, a]) == a
    m = merge_orders([a, b])
    assert merge_orders([m, m]) == m
    assert merge_orders([m, a]) == m  # merging in something already included changes nothing


def test_cancellation_is_sticky_and_newest_first() -> None:
    rows = [
        ProductRow(
            **{
                **_fields(BASE),
                "inventory": 1,
                "tag": "left",
                "reservations": (Reservation("early", 1, 1, 5.0),),
            }
        ),
        ProductRow(
            **{
                **_fields(BASE),
                "inventory": 1,
                "tag": "right",
                "reservations": (Reservation("late", 2, 1, 7.0),),
            }
        ),
    ]
    merged = merge_orders(rows)
    status = {r.order_id: r.cancelled for r in merged.reservations}
    assert status == {"early": False, "late": True}
    # a replica that never saw "early" cannot resurrect "late"
    again = merge_orders([merged, rows[1]])
    assert {r.order_id: r.cancelled for r in again.reservations} == status


def test_lww_keeps_one_sibling_and_loses_the_others_orders() -> None:
    rows = [
        ProductRow(
            **{
                **_fields(BASE),
                "tag": "a",
                "written_ms": 1.0,
                "reservations": (Reservation("x", 1, 1, 1.0),),
            }
        ),
        ProductRow(
            **{
                **_fields(BASE),
                "tag": "b",
                "written_ms": 2.0,
                "reservations": (Reservation("y", 2, 1, 2.0),),
            }
        ),
    ]
    assert lww(rows) is rows[1]
    assert lww(list(reversed(rows))) is rows[1]
    assert ids(lww(rows)) == {"y"}


# --------------------------------------------------------------------------- settled rows


@dataclass
class Played:
    """A history's rows at the end, one per side, and which order each dot is."""

    rows: list[ProductRow]
    orders: dict[Dot, str]
    settled: int = 0


def play(history: RowHistory, settling: bool) -> Played:
    """Play `history`: writers reserve (as holds), confirm, release, settle and merge."""
    base = dataclasses.replace(BASE, inventory=history.inventory)
    rows = [base] * history.sides
    made: Counter[str] = Counter()
    orders: dict[Dot, str] = {}
    made_by: list[tuple[Dot, float]] = []
    now, settled = 0.0, 0

    def written(row: ProductRow, actor: str) -> ProductRow:
        nonlocal settled
        if not settling:
            return row
        out = row.settle(actor, made[actor], ACTORS, now)
        settled += len(row.reservations) - len(out.reservations)
        return out

    for writes, (step, gap) in enumerate(zip(history.events, history.gaps_ms, strict=True)):
        now += gap
        tag = f"w{writes}"
        kind, side = step[0], step[1]
        row = rows[side]
        if kind == "reserve" and row.available() >= history.units:
            actor = step[2]
            made[actor] += 1
            dot = (actor, made[actor])
            orders[dot] = f"o{len(orders)}"
            made_by.append((dot, now))
            mine = Reservation(orders[dot], 0, history.units, now, state=step[3], dot=dot)
            row = row.with_reservation(mine, tag, now)
            rows[side] = written(row, actor) if step[4] else row
        elif kind in ("confirm", "release") and made_by:
            dot, at = made_by[step[3] % len(made_by)]
            mine = row.reservation(orders[dot], dot)
            state = CONFIRMED if kind == "confirm" else RELEASED
            if (mine is not None and mine.state == HELD and not mine.cancelled) or (
                mine is None and kind == "release"
            ):
                row = row.with_state(orders[dot], state, history.units, 0, tag, now, dot, at)
                rows[side] = written(row, step[2])
        elif kind == "settle":
            rows[side] = written(row, step[2])
        elif kind == "merge":
            rows[side] = rows[step[2]] = merge_orders([row, rows[step[2]]])
    return Played(rows, orders, settled)


def fates(row: ProductRow, orders: dict[Dot, str]) -> dict[str, tuple[str, bool]]:
    """Every order the row knows, listed or settled: (state, cancelled)."""
    out = {r.order_id: (r.state, r.cancelled) for r in row.reservations}
    for dot, order in orders.items():
        if order not in out and row.ledger.covers(dot):
            settled = row.reservation(order, dot)
            out[order] = (settled.state, settled.cancelled)
    return out


def known(rows: Sequence[ProductRow], orders: dict[Dot, str]) -> set[str]:
    return set().union(*(fates(r, orders) for r in rows))


def describe(history: RowHistory) -> None:
    note(f"inventory={history.inventory} units={history.units} sides={history.sides}")
    for step, gap in zip(history.events, history.gaps_ms, strict=True):
        note(f"  +{gap} ms {step}")


def test_settling_changes_no_fate_side_by_side_or_merged() -> None:
    """Listed or settled, every order ends the same on each side, and in the sides' merge.

    The examples must settle rows while another side oversells, and the merge
    then apologise: a property that holds because nothing settled proves nothing.
    """
    seen: Counter[str] = Counter()

    @given(row_histories())
    def same(history: RowHistory) -> None:
        describe(history)
        settled, listed = play(history, settling=True), play(history, settling=False)
        for mine, theirs in zip(settled.rows, listed.rows, strict=True):
            assert fates(mine, settled.orders) == fates(theirs, listed.orders)
            assert mine.reserved == theirs.reserved
            assert mine.available(0.0) == theirs.available(0.0)
        merged = merge_orders(settled.rows)
        outcome = fates(merged, settled.orders)
        assert outcome == fates(merge_orders(listed.rows), listed.orders)
        apologies = any(cancelled for _, cancelled in outcome.values())
        seen["settled"] += settled.settled > 0
        seen["settled on one side, apologies in the merge"] += (
            settled.settled > 0 and apologies and history.sides > 1
        )
        seen["a release settled"] += any(
            state == RELEASED
            for row in settled.rows
            for _, ledger in row.ledger.actors
            for _seq, state, _cancelled in ledger.fates
        )
        event(f"settled: {'some' if settled.settled else 'none'}")
        event(f"apologies: {'some' if apologies else 'none'}")

    same()
    for case in (
        "settled",
        "settled on one side, apologies in the merge",
        "a release settled",
    ):
        assert seen[case] > 0, f"no example reached: {case} ({dict(seen)})"


@given(row_histories(releases=False))
def test_merge_orders_laws_hold_over_settled_rows(history: RowHistory) -> None:
    """Commutative, associative, idempotent; every order kept; oversell found and apologised."""
    describe(history)
    played = play(history, settling=True)
    rows = played.rows
    merged = merge_orders(rows)
    for perm in itertools.islice(itertools.permutations(rows), 6):
        assert merge_orders(list(perm)) == merged
    a, b, c = (rows * 3)[:3]
    assert merge_orders([merge_orders([a, b]), c]) == merge_orders([a, merge_orders([b, c])])
    assert merge_orders([merge_orders([a, b]), c]) == merge_orders([a, b, c])
    assert merge_orders([a, a]) == a
    m = merge_orders([a, b])
    assert merge_orders([m, m]) == m
    assert merge_orders([m, a]) == m
    assert set(fates(merged, played.orders)) == known(rows, played.orders)  # nothing lost
    assert merged.reserved <= merged.inventory  # oversell found: the rest are cancelled
    event(f"settled: {'some' if played.settled else 'none'}")
