"""The fault-schedule state machine, per mode: invariants as it goes and after heal and settle.

Each example is one generated fault schedule. The `ci` profile (40 examples
per property) runs 3 x 40 examples of up to 30 steps per mode; `nightly`
(1,000) runs 3 x 1,000 of up to 50. Coverage is asserted per test: some
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
EXAMPLES_PER_PROFILE_EXAMPLE = 5
"""Examples per mode for each of the profile's max_examples (ci: 200, nightly: 5,000)."""


def machine_settings() -> settings:
    """The machine's share of the profile: examples and steps scale with its max_examples."""
    base = settings().max_examples
    return settings(
        max_examples=EXAMPLES_PER_PROFILE_EXAMPLE * base,
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
