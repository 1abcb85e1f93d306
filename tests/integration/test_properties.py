"""Properties of whole runs under Hypothesis-generated fault schedules.

Each example is a small flash sale (3-5 nodes, at most 40 customers, 3 s of
traffic, 3 s to settle) with 1-3 faults; the `ci` profile runs 40 examples per
property, `nightly` 1,000. A property that holds because nothing happened
proves nothing, so each one also counts, in the test itself, the examples that
reached the cases that matter (orders during a fault, oversell) and asserts
that there were some: running one test alone still checks its coverage.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import event, given, note, settings

from sim import Scenario, run
from sim.history import FAIL, INFO, INVOKE, NEMESIS, OK
from tests.quiescence import QUIET_MS, quiet_ms
from tests.strategies import scenarios


def reproduce(scenario: Scenario) -> str:
    return (
        f"seed={scenario.seed}: rebuild with Scenario.from_dict({scenario.to_dict()!r}) "
        f"and sim.run(it)"
    )


@settings(max_examples=4 * settings().max_examples)
@given(
    scenarios(
        modes=("weak", "eventual"),
        fault_kinds=("partition", "one-way", "isolate", "crash"),
        loss=True,
    )
)
def test_every_invoked_operation_completes_at_most_once(scenario: Scenario) -> None:
    """Each invoke is followed by exactly one ok/fail/info of its process and level, or none."""
    note(reproduce(scenario))
    result = run(scenario)
    open_ops: dict[tuple, float] = {}
    for op in result.history:
        if op.process == NEMESIS:
            continue
        level = "shop" if op.f in ("order", "browse") else "store"
        slot = (op.process, level)
        if op.type == INVOKE:
            assert slot not in open_ops, f"{slot} invoked twice without completing"
            open_ops[slot] = op.time
        else:
            assert op.type in (OK, FAIL, INFO)
            assert slot in open_ops, f"{slot} completed {op.f} without an invoke"
            assert op.time >= open_ops.pop(slot)
    # The run ends settle_ms after traffic: every customer's request has met its
    # deadline by then; a saga's background step may still be in its last attempt.
    end = scenario.end_ms
    late = {slot: t for slot, t in open_ops.items() if isinstance(slot[0], str)}
    assert all(t > end - scenario.workload.timeout_ms for t in late.values()), late
    assert not {slot: t for slot, t in open_ops.items() if slot not in late}
    infos = sum(1 for op in result.history if op.type == INFO and op.process != NEMESIS)
    event(f"outcomes unknown (info): {'some' if infos else 'none'}")


def test_eventual_converges_after_heal_and_loses_no_order() -> None:
    """After the last heal, what diverged is repaired, a quiet store agrees; no order lost.

    The examples must have sold during faults and oversold (then apologised):
    a property that holds because nothing happened proves nothing.
    """
    seen: Counter[str] = Counter()

    @settings(max_examples=4 * settings().max_examples)  # cheap: a few ms per example
    @given(
        scenarios(
            modes=("eventual",),
            fault_kinds=("partition", "one-way", "isolate", "crash"),
            loss=True,
            resolver="merge-orders",
            sloppy=True,
        )
    )
    def holds(scenario: Scenario) -> None:
        note(reproduce(scenario))
        result = run(scenario)
        m = result.metrics
        quiet = quiet_ms(result)
        note(f"ok_during_faults={m['ok_during_faults']} lost={m['lost_orders']} quiet={quiet}")
        assert m["convergence_ms"] is not None  # what diverged at the last heal was repaired
        if quiet >= QUIET_MS:  # and a quiet store agrees everywhere
            assert m["converged"] is True
            seen["quiet at the end: every replica agreed"] += 1
        assert m["lost_orders"] == 0
        # Converged, nothing lost: every unit sold beyond stock was found and apologised for.
        assert m["oversell_units"] <= m["apologies"]
        seen["examples"] += 1
        seen["orders succeeded during a fault"] += m["ok_during_faults"] > 0
        seen["oversold and apologised"] += m["oversell_units"] > 0
        event(f"ok during faults: {'yes' if m['ok_during_faults'] else 'no'}")

    holds()
    for case in (
        "orders succeeded during a fault",
        "oversold and apologised",
        "quiet at the end: every replica agreed",
    ):
        assert seen[case] > 0, f"no example reached: {case} ({dict(seen)})"
    # Agreement at the end is checked in most examples, not a lucky few (4 in 1,000
    # runs of the nightly profile had a saga write within QUIET_MS of the end).
    assert seen["quiet at the end: every replica agreed"] >= 0.8 * seen["examples"], dict(seen)
