"""Hypothesis strategies for vector clocks and causal histories of puts (tests/test_vclock.py)."""

from __future__ import annotations

from hypothesis import strategies as st

from sim.vclock import VClock, Versioned, add_version, merge_siblings, merged_context

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
    """Writes as the eventual mode makes them, returned in creation order.

    A small system of nodes, each with a sibling set: a client reads the states
    of a random subset of nodes, the coordinator adds a version with the read's
    merged clock as context and its next dot, and ships its whole state to a
    random subset of nodes (state-based replication, as the mode's puts,
    handoff, read repair and anti-entropy all do). Values and timestamps are the
    write's index.
    """
    count = draw(st.integers(1, max_puts))
    issued = [0] * nodes  # the highest counter each node has handed out
    states: list[tuple[Versioned, ...]] = [()] * nodes
    puts: list[Versioned] = []
    for i in range(count):
        read_from = draw(st.lists(st.integers(0, nodes - 1), unique=True, max_size=nodes))
        seen: tuple[Versioned, ...] = ()
        for node in read_from:
            seen = merge_siblings(seen, states[node])
        coordinator = draw(st.integers(0, nodes - 1))
        context = merged_context(seen)
        counter = max(context.counter(coordinator), issued[coordinator]) + 1
        issued[coordinator] = counter
        version = Versioned.new(context, (coordinator, counter), i, float(i))
        states[coordinator] = add_version(states[coordinator], version)
        for node in draw(st.lists(st.integers(0, nodes - 1), unique=True, max_size=nodes)):
            states[node] = merge_siblings(states[node], states[coordinator])
        puts.append(version)
    return puts


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Versioned], list[Versioned], list[Versioned]]:
    """A causal history and two delivery orders of it, each possibly with duplicates."""
    puts = draw(causal_puts())
    first = draw(st.permutations(puts))
    second = draw(st.permutations(puts))
    dupes = draw(st.lists(st.sampled_from(puts), max_size=4))
    return puts, first + dupes, dupes + second
