"""Hypothesis strategies for vector clocks and causal histories of puts (tests/test_vclock.py)."""

from __future__ import annotations

from hypothesis import strategies as st

from sim.vclock import VClock, Versioned

NODES = st.integers(0, 5)


@st.composite
def vclocks(draw: st.DrawFn, max_nodes: int = 5, max_counter: int = 4) -> VClock:
    """Small clocks over few nodes and counters, so that equal and comparable pairs are common.

    Timestamps are drawn freely (few distinct values, so ties happen): they must
    never influence order, only equality, merge tie-breaks and pruning.
    """
    counters = draw(
        st.dictionaries(st.integers(0, max_nodes - 1), st.integers(1, max_counter), max_size=5)
    )
    return VClock((n, c, float(draw(st.integers(0, 3)))) for n, c in counters.items())


@st.composite
def causal_puts(draw: st.DrawFn, max_puts: int = 12, nodes: int = 4) -> list[Versioned]:
    """Writes as Dynamo's coordinators make them (§4.4), returned in creation order.

    Each write is coordinated by some node from the merged context of a random
    subset of earlier writes (what a client read), and gets that node's next
    counter, so no two writes share a clock. Value and wall-clock timestamp
    are the write's index: equal clocks always mean the same write.
    """
    count = draw(st.integers(1, max_puts))
    issued = [0] * nodes  # the highest counter each node has handed out
    puts: list[Versioned] = []
    for i in range(count):
        seen = draw(st.lists(st.sampled_from(puts), unique_by=id)) if puts else []
        context = VClock()
        for version in seen:
            context = context.merge(version.clock)
        coordinator = draw(st.integers(0, nodes - 1))
        counter = max(context.counter(coordinator), issued[coordinator]) + 1
        issued[coordinator] = counter
        clock = context.with_counter(coordinator, counter, float(i))
        puts.append(Versioned(clock, i, float(i)))
    return puts


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Versioned], list[Versioned], list[Versioned]]:
    """A causal history and two delivery orders of it, each possibly with duplicates."""
    puts = draw(causal_puts())
    first = draw(st.permutations(puts))
    second = draw(st.permutations(puts))
    dupes = draw(st.lists(st.sampled_from(puts), max_size=4))
    return puts, first + dupes, dupes + second
