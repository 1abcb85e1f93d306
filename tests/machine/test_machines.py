"""The fault-schedule state machine, per mode: invariants as it goes and after heal and settle.

Each example is one generated fault schedule. A mode runs 6 examples per
`max_examples` of the profile, at most 5,000: `ci` (40) runs 240 of up to 50
steps per mode, 720 in all (about 25 s of CPU); `nightly` (1,000) runs 5,000 of
up to 80 steps per mode, 15,000 in all. Coverage is asserted per test: some
example confirmed orders while each fault kind was active.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from tests.machine.machine import ShopMachine

KINDS = (
    "partition",
    "one-way",
    "isolate",
    "bridge",
    "flapping",
    "clock-skew",
    "crash (durable)",
    "crash (volatile)",
)
REACHED = {
    "strong": (),  # volatile logs losing acknowledged orders: too rare here to count on; the
    # run property tests/modes/test_strong_volatile.py asserts that >= 5 of its examples lose
    # orders, each counted
    "eventual": (),  # oversold and apologised: rare here (a race across a cut at the last
    # units); tests/integration/test_properties.py asserts its examples reach it
    "weak": ("oversold", "lost orders"),  # counted, never raised: common
}
"""Per mode, what some example must have reached for its conditional claims to mean anything."""
EXAMPLES_PER_PROFILE_EXAMPLE = 6
MIN_EXAMPLES = 240
"""Fewest examples per mode in any profile: below it some fault kind often serves no order
(the dev profile's 120 missed one kind in four runs out of five)."""
MAX_EXAMPLES = 5_000


def machine_settings() -> settings:
    """The machine's share of the profile: examples and steps scale with its max_examples."""
    base = settings().max_examples
    return settings(
        max_examples=max(MIN_EXAMPLES, min(EXAMPLES_PER_PROFILE_EXAMPLE * base, MAX_EXAMPLES)),
        stateful_step_count=50 if base < 1000 else 80,
        deadline=None,
    )


class StrongMachine(ShopMachine):
    mode = "strong"


class EventualMachine(ShopMachine):
    mode = "eventual"


class WeakMachine(ShopMachine):
    mode = "weak"


@pytest.mark.parametrize("machine", [StrongMachine, EventualMachine, WeakMachine])
def test_the_mode_keeps_its_promises_under_generated_fault_schedules(
    machine: type[ShopMachine],
) -> None:
    machine.seen = Counter()
    run_state_machine_as_test(machine, settings=machine_settings())
    seen = machine.seen
    missing = [k for k in KINDS if seen[f"orders confirmed during {k}"] == 0]
    assert not missing, f"no example confirmed an order during: {missing} ({dict(seen)})"
    if machine.mode == "eventual":  # agreement at the end is checked in most examples
        assert seen["quiet at the end: every replica agreed"] >= 0.8 * seen["examples"], dict(seen)
    for case in REACHED[machine.mode]:  # the claims that hold only under conditions were tested
        assert seen[case] > 0, f"no example reached: {case} ({dict(seen)})"
