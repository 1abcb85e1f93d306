"""The final state a run measures: shop rows resolved as a client would, other values kept."""

from __future__ import annotations

from types import SimpleNamespace

from sim.modes.base import KeyState
from sim.run import final_state
from sim.shop.resolvers import lww, merge_orders


class TwoSiblings:
    """A mode whose only key ends with two concurrent probe versions (plain strings)."""

    def stored_keys(self) -> list[str]:
        return ["probe:1"]

    def final(self, key: str) -> KeyState:
        return KeyState(("p1.3", "p1.4"), False, 2)


def test_siblings_that_are_not_shop_rows_are_kept_not_resolved() -> None:
    """The probe's versions left as siblings (a volatile crash makes them) broke the run:
    the shop's resolvers read `written_ms` off a string."""
    for resolver in (merge_orders, lww):
        assert final_state(TwoSiblings(), resolver) == {"probe:1": ("p1.3", "p1.4")}


def test_a_single_value_is_itself() -> None:
    mode = SimpleNamespace(stored_keys=lambda: ["k"], final=lambda key: KeyState(("v",), True, 1))
    assert final_state(mode, merge_orders) == {"k": "v"}
