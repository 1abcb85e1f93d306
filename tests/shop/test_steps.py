"""The order steps and the saga's batch decide nothing on a row they cannot see.

Product rows are loaded at start and never deleted, so a read that returns no
row came from a node that does not hold it (a sloppy quorum's stand-in). A
release that called that "done" left a hold in place for good (found by the
saga property with one replica and an isolated node).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.config.shop import ShopConfig
from sim.engine.kernel import Engine
from sim.shop.model import CONFIRMED, HELD, RELEASED, ProductRow
from sim.shop.orders import Order, OrderSteps
from sim.shop.rows import DONE, IMPOSSIBLE, Updater
from sim.shop.saga import Sagas, _Saga


def order() -> Order:
    """A fresh order (an Order learns its reservation's dot when the hold is first tried)."""
    return Order("o1.0", 1, "product:0", 1, "relational")


def steps() -> OrderSteps:
    return OrderSteps(Engine(), ShopConfig())


def product(**kw: Any) -> ProductRow:
    return ProductRow("init", 0.0, 0, "p", "d", "c", 1.0, 2, **kw)


def held_row(by: OrderSteps, mine: Order) -> ProductRow:
    """A row holding `mine`, written by the shop front `by` (the one that numbers it)."""
    reserve = by.reserve(mine, held=True)(product())
    assert reserve.reservation(mine.order_id).state == HELD
    return reserve


def test_release_of_an_unseen_row_is_not_done() -> None:
    front, mine = steps(), order()
    assert front.release(mine)(None) is IMPOSSIBLE
    released = front.release(mine)(held_row(front, mine))
    assert released.reservation(mine.order_id).state == RELEASED
    assert front.release(mine)(released) is DONE


def sagas_on(env: Engine) -> Sagas:
    updater = Updater(env, "merge-orders", 5, 10.0, np.random.default_rng(0))
    return Sagas(env, OrderSteps(env, ShopConfig()), updater, None, None, 1, True, 500.0)


def test_the_sagas_batch_decides_nothing_on_an_unseen_row() -> None:
    sagas, mine = sagas_on(Engine()), order()
    finish = _Saga(mine, abort=False, recorded=True)
    assert sagas._batch([finish])(None) is IMPOSSIBLE
    assert finish.abort is False  # not turned into an abort by a "not found"
    confirmed = sagas._batch([finish])(held_row(sagas.steps, mine))
    assert confirmed.reservation(mine.order_id).state == CONFIRMED


def test_a_finish_waits_for_a_hold_a_stale_row_lacks_until_it_would_have_lapsed() -> None:
    """The hold's write was acknowledged, so a row without it is stale: an abort
    there would release against a confirmation in flight (confirmed beats
    released in the merge) and strand the units under a cancelled record."""
    env = Engine()
    sagas, mine = sagas_on(env), order()
    finish = _Saga(mine, abort=False, recorded=True, patience_until=100.0)
    stale = product()
    assert sagas._batch([finish])(stale) is DONE  # nothing written...
    assert finish.unseen and not finish.abort  # ...and nothing decided
    env.run(until=100.0)
    released = sagas._batch([finish])(stale)  # the hold would have lapsed by now
    assert finish.abort and not finish.unseen
    assert released.reservation(mine.order_id).state == RELEASED
