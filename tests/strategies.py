"""Every Hypothesis strategy of the suite, one section per subject.

Runs (scenarios with generated fault schedules), vector clocks and sibling
sets, histories for the linearizability checker, latency distributions, and
the shop's product rows. Every strategy is bounded so that examples stay small.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hypothesis import strategies as st

from sim.distributions import (
    Constant,
    Empirical,
    Exponential,
    Lognormal,
    Mixture,
    Pareto,
    Uniform,
)
from sim.faults.base import Fault, fault
from sim.history import Op
from sim.scenario import ClusterConfig, NetworkConfig, Scenario, ShopConfig, WorkloadConfig
from sim.shop.model import CONFIRMED, HELD, ProductRow, Reservation
from sim.vclock import VClock, Versioned, add_version, merge_siblings, merged_context


@st.composite
def groups_of(draw: st.DrawFn, nodes: int) -> tuple[tuple[int, ...], ...]:
    """A split of 0..nodes-1 into 2 or 3 non-empty groups (every node listed)."""
    k = draw(st.integers(2, min(3, nodes)))
    labels = draw(st.lists(st.integers(0, k - 1), min_size=nodes, max_size=nodes))
    # Make every group non-empty: pin the first k nodes to groups 0..k-1 after shuffling.
    perm = draw(st.permutations(range(nodes)))
    for i in range(k):
        labels[perm[i]] = i
    return tuple(tuple(n for n in range(nodes) if labels[n] == g) for g in range(k))


CUTS = ("partition", "one-way", "isolate", "bridge", "flapping")
"""The fault kinds that cut links (sim/faults/partition.py, links.py)."""
EVERY_FAULT = (*CUTS, "crash", "clock-skew")
"""Every fault kind a generated schedule can hold (sim/faults/)."""
VOLATILE_CRASH = "crash (volatile)"
"""A crash on a cluster without durable storage: a label of its own, as what is promised differs."""
SKEWS_MS = (-2000, -300, -40, 40, 300, 2000)
"""Clock skews: behind or ahead by less than, about, and more than a client's time-out."""
FLAP_PERIODS_MS = (50.0, 150.0, 400.0)
"""Flapping periods: shorter than, about, and near a client's time-out (500 ms)."""


@st.composite
def bridge_groups(draw: st.DrawFn, nodes: int) -> tuple[tuple[int, ...], ...]:
    """Two non-empty groups that leave at least one node unlisted (the bridge); nodes >= 3."""
    perm = draw(st.permutations(range(nodes)))
    a = draw(st.integers(1, nodes - 2))
    b = draw(st.integers(1, nodes - 1 - a))
    return (tuple(perm[:a]), tuple(perm[a : a + b]))


@st.composite
def faults(
    draw: st.DrawFn,
    nodes: int,
    horizon_ms: float,
    kinds: tuple[str, ...] = ("partition", "one-way", "isolate"),
    max_faults: int = 3,
    featured: str | None = None,
) -> tuple[Fault, ...]:
    """A schedule of 1..max_faults faults inside [0, horizon_ms], each healing.

    Any of EVERY_FAULT may be asked for (a bridge needs 3 nodes); a crash says
    nothing of durability, which is the cluster's setting (`scenarios(volatile=...)`).
    With `featured`, the first fault is of that kind and the others of `kinds`:
    a property that must reach every kind gives each its own examples rather
    than hope that Hypothesis spreads its draws evenly (it does not).
    """
    out = []
    for i in range(draw(st.integers(1, max_faults))):
        kind = featured if featured is not None and i == 0 else draw(st.sampled_from(kinds))
        # Half the faults start in the first 5 %: a small flash sale sells out early,
        # and a fault that begins after the last sale tests little.
        early = draw(st.booleans())
        start = draw(st.integers(0, int(horizon_ms * (0.05 if early else 0.7))))
        length = draw(st.integers(100, int(horizon_ms * 0.6)))
        end = float(min(start + length, horizon_ms))
        if end <= start:
            end = start + 100.0
        when = {"start_ms": float(start), "end_ms": end}
        if kind == "partition":
            out.append(fault("partition", **when, groups=draw(groups_of(nodes))))
        elif kind == "one-way":
            perm = draw(st.permutations(range(nodes)))
            cut = draw(st.integers(1, nodes - 1))
            out.append(fault("one-way", **when, **{"from": perm[:cut], "to": perm[cut:]}))
        elif kind == "isolate":
            out.append(fault("isolate", **when, node=draw(st.integers(0, nodes - 1))))
        elif kind == "bridge":
            out.append(fault("bridge", **when, groups=draw(bridge_groups(nodes))))
        elif kind == "flapping":
            period = draw(st.sampled_from(FLAP_PERIODS_MS))
            groups = draw(groups_of(nodes))
            out.append(fault("flapping", **when, groups=groups, period_ms=period))
        elif kind == "crash":
            out.append(fault("crash", **when, node=draw(st.integers(0, nodes - 1))))
        elif kind == "clock-skew":
            node = draw(st.integers(0, nodes - 1))
            skew = float(draw(st.sampled_from(SKEWS_MS)))
            out.append(fault("clock-skew", **when, node=node, skew_ms=skew))
        else:
            raise ValueError(f"faults: unknown kind {kind!r} (allowed: {', '.join(EVERY_FAULT)})")
    return tuple(out)


@st.composite
def scenarios(
    draw: st.DrawFn,
    modes: tuple[str, ...] = ("weak",),
    max_nodes: int = 5,
    max_customers: int = 40,
    fault_kinds: tuple[str, ...] = ("partition", "one-way", "isolate"),
    loss: bool = False,
    resolver: str = "merge-orders",
    sloppy: bool | None = None,
    volatile: bool = False,
    max_stock: int = 16,
    featured: str | None = None,
) -> Scenario:
    """A small flash-sale scenario with a generated fault schedule and seed.

    With `volatile`, `cluster.durable` is drawn too: a crash then loses the
    node's data (only when the schedule has a crash; otherwise it stays durable,
    so that the two labels mean what they say). `featured` (a kind, or
    VOLATILE_CRASH) is the kind of the schedule's first fault; a featured crash
    fixes the durability, a volatile one implies `volatile`.
    """
    nodes = draw(st.integers(3, max_nodes))
    replication = draw(st.integers(1, min(3, nodes)))
    quorum = draw(st.integers(1, replication))
    duration = 3000.0
    kind = "crash" if featured == VOLATILE_CRASH else featured
    schedule = draw(faults(nodes, duration, fault_kinds, featured=kind))
    if featured in ("crash", VOLATILE_CRASH):
        durable = featured == "crash"
    else:
        crashes = any(f.kind == "crash" for f in schedule)
        durable = not (volatile and crashes and draw(st.booleans()))
    cluster = ClusterConfig(
        durable=durable,
        nodes=nodes,
        replication=replication,
        read_quorum=quorum,
        write_quorum=draw(st.integers(1, replication)),
        mode=draw(st.sampled_from(modes)),
        sloppy_quorum=draw(st.booleans()) if sloppy is None else sloppy,
        anti_entropy_ms=200.0,
        handoff_ms=100.0,
    )
    shop = ShopConfig(
        concurrency=draw(st.sampled_from(("occ", "lock"))),
        resolver=resolver,
        layout=draw(st.sampled_from(("relational", "nosql"))),
    )
    network = NetworkConfig(
        latency=Exponential(draw(st.sampled_from((1.0, 5.0, 20.0)))),
        loss=draw(st.sampled_from((0.0, 0.01, 0.05))) if loss else 0.0,
    )
    workload = WorkloadConfig(
        kind="flash-sale",
        products=draw(st.integers(1, 2)),
        stock=draw(st.integers(1, max_stock)),
        customers=draw(st.integers(5, max_customers)),
        arrival_mean_ms=draw(st.sampled_from((20.0, 60.0))),
        timeout_ms=500.0,
    )
    return Scenario(
        cluster=cluster,
        network=network,
        shop=shop,
        faults=schedule,
        workload=workload,
        seed=draw(st.integers(0, 2**31 - 1)),
        duration_ms=duration,
        settle_ms=3000.0,
    )


# --------------------------------------------------------------------------- vector clocks

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


# ---------------------------------------------------------- histories for the checker

NEVER_WRITTEN = 999
"""A register value the strategies never write."""

register_values = st.integers(min_value=0, max_value=3)
keys = st.sampled_from(["x", "y", None])


def _pair(
    process: int, f: str, key: object, value: object, out_type: str, out_value: object, t: int
) -> list[Op]:
    """An invoke and its completion, one tick apart."""
    return [
        Op(process, "invoke", f, key, value, float(t)),
        Op(process, out_type, f, key, out_value, float(t + 1)),
    ]


@st.composite
def sequential_register_histories(draw: st.DrawFn, max_ops: int = 20) -> list[Op]:
    """A history with no concurrency, made by running the register model.

    Ops run one after another on random keys and processes. A cas that does
    not match is recorded as `fail`; some writes and cas end in `info`, and
    whether they took effect is drawn (either way the history is linearizable).
    The history ends with an ok read of every key it touched, so it has reads.
    """
    state: dict[object, object] = {}
    ops: list[Op] = []
    t = 0
    for _ in range(draw(st.integers(min_value=0, max_value=max_ops))):
        key = draw(keys)
        process = draw(st.integers(min_value=0, max_value=3))
        f = draw(st.sampled_from(["read", "write", "cas"]))
        current = state.get(key)
        if f == "read":
            ops += _pair(process, "read", key, None, "ok", current, t)
        elif f == "write":
            v = draw(register_values)
            if draw(st.booleans()):
                ops += _pair(process, "write", key, v, "ok", v, t)
                state[key] = v
            else:
                took_effect = draw(st.booleans())
                ops += _pair(process, "write", key, v, "info", v, t)
                if took_effect:
                    state[key] = v
        else:
            expected = draw(st.one_of(st.just(current), register_values))
            new = draw(register_values)
            if draw(st.integers(0, 4)) == 0:
                ops += _pair(process, "cas", key, [expected, new], "info", [expected, new], t)
                if expected == current and draw(st.booleans()):
                    state[key] = new
            elif expected == current:
                ops += _pair(process, "cas", key, [expected, new], "ok", [expected, new], t)
                state[key] = new
            else:
                ops += _pair(process, "cas", key, [expected, new], "fail", [expected, new], t)
        t += 2
    for key in {op.key for op in ops} or {"x"}:
        ops += _pair(0, "read", key, None, "ok", state.get(key), t)
        t += 2
    return ops


@st.composite
def sequential_kv_histories(draw: st.DrawFn, max_ops: int = 20) -> list[Op]:
    """A sequential kv history (get, put, append) made by running the kv model."""
    state: dict[object, str] = {}
    ops: list[Op] = []
    t = 0
    for _ in range(draw(st.integers(min_value=0, max_value=max_ops))):
        key = draw(keys)
        process = draw(st.integers(min_value=0, max_value=3))
        f = draw(st.sampled_from(["get", "put", "append"]))
        if f == "get":
            ops += _pair(process, "get", key, None, "ok", state.get(key, ""), t)
        else:
            v = draw(st.text(alphabet="ab", max_size=2))
            ops += _pair(process, f, key, v, "ok", v, t)
            state[key] = v if f == "put" else state.get(key, "") + v
        t += 2
    return ops


@st.composite
def concurrent_register_histories(draw: st.DrawFn, max_ops: int = 6) -> list[Op]:
    """A random single-key register history with overlapping ops (mostly not linearizable).

    Processes invoke and complete in a random interleaving with random
    outcomes (ok, fail, info, or never completed) and random read results, so
    that both verdicts occur. A process may invoke again after an info.
    """
    processes = draw(st.integers(min_value=1, max_value=3))
    busy: dict[int, tuple[str, object]] = {}
    ops: list[Op] = []
    invoked = 0
    t = 0
    while invoked < max_ops or busy:
        p = draw(st.integers(min_value=0, max_value=processes - 1))
        if p in busy:
            f, value = busy.pop(p)
            outcome = draw(st.sampled_from(["ok", "ok", "ok", "fail", "info"]))
            out = draw(st.one_of(st.none(), register_values)) if f == "read" else value
            ops.append(Op(p, outcome, f, "x", out, float(t)))
        elif invoked < max_ops:
            f = draw(st.sampled_from(["read", "write", "cas"]))
            if f == "read":
                value: object = None
            elif f == "write":
                value = draw(register_values)
            else:
                value = [draw(st.one_of(st.none(), register_values)), draw(register_values)]
            busy[p] = (f, value)
            ops.append(Op(p, "invoke", f, "x", value, float(t)))
            invoked += 1
        elif draw(st.booleans()):
            # Leave the rest open: their outcome is unknown.
            break
        t += 1
    return ops


def hard_register_history(writers: int) -> list[Op]:
    """`writers` concurrent writes and a concurrent read of a value none wrote.

    Not linearizable. A plain search learns that only after trying every
    subset of the writes (about writers * 2**writers steps with memoisation);
    the checker's read pruning (a read no reachable state explains) decides it
    at once. tests/check/adversarial.py has the histories that stay hard.
    """
    ops = [Op(p, "invoke", "write", "x", p, 0.0) for p in range(writers)]
    ops.append(Op(writers, "invoke", "read", "x", None, 0.0))
    ops += [Op(p, "ok", "write", "x", p, 1.0) for p in range(writers)]
    ops.append(Op(writers, "ok", "read", "x", NEVER_WRITTEN, 1.0))
    return ops


op_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


@st.composite
def exportable_histories(draw: st.DrawFn, max_ops: int = 12) -> list[Op]:
    """Histories of any values, keys, errors and whole-ms times, with no op after an info.

    Such histories survive to_edn and back unchanged (to_edn renumbers a
    process only when it invokes again after an info).
    """
    ops = []
    t = 0
    for _ in range(draw(st.integers(min_value=0, max_value=max_ops))):
        t += draw(st.integers(min_value=0, max_value=5))
        ops.append(
            Op(
                draw(st.integers(min_value=0, max_value=4) | st.just("nemesis")),
                draw(st.sampled_from(["invoke", "ok", "fail"])),
                draw(st.sampled_from(["read", "write", "cas", "order", "start"])),
                draw(st.none() | st.text(max_size=4)),
                draw(op_values),
                float(t),
                draw(st.none() | st.sampled_from(["timed-out", "no leader", "x:y"])),
                draw(st.none() | st.integers(min_value=0, max_value=9)),
            )
        )
    return ops


# --------------------------------------------------------------------------- latency distributions

positive = st.floats(min_value=5e-324, max_value=1e300, allow_nan=False, allow_infinity=False)
nonnegative = st.floats(min_value=0.0, max_value=1e300, allow_nan=False, allow_infinity=False)
real = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)


@st.composite
def uniforms(draw: st.DrawFn) -> Uniform:
    low = draw(nonnegative)
    return Uniform(low, draw(st.floats(min_value=low, max_value=1.7e308)))


leaf_dists = st.one_of(
    st.builds(Constant, nonnegative),
    uniforms(),
    st.builds(Exponential, positive),
    st.builds(Lognormal, real, st.floats(min_value=0.0, max_value=100.0)),
    st.builds(Pareto, positive, positive),
    st.builds(Empirical, st.lists(nonnegative, min_size=1, max_size=20).map(tuple)),
)
dists = st.recursive(
    leaf_dists,
    lambda inner: st.builds(
        Mixture, st.lists(st.tuples(positive, inner), min_size=1, max_size=4).map(tuple)
    ),
    max_leaves=6,
)


# --------------------------------------------------------------------------- shop rows


@st.composite
def sibling_rows(draw: st.DrawFn, base: ProductRow, max_rows: int = 4) -> list[ProductRow]:
    """Versions of `base` as clients on different sides of a partition write them.

    Every reservation has the same size (the workload's units_per_order), each
    row holds at most `inventory` units (its writer checked stock before
    reserving), and rows overlap in the orders they saw.
    """
    units = draw(st.integers(1, 2))
    pool = [
        Reservation(f"o{i}", i, units, float(draw(st.integers(0, 50))))
        for i in range(draw(st.integers(1, 8)))
    ]
    rows = []
    for r in range(draw(st.integers(1, max_rows))):
        chosen = draw(st.lists(st.sampled_from(pool), unique_by=lambda x: x.order_id))
        chosen = chosen[: base.inventory // units]
        rows.append(
            dataclasses.replace(base, tag=f"w{r}", written_ms=float(r), reservations=tuple(chosen))
        )
    return rows


# --------------------------------------------------------------------------- settled rows

ACTORS = ("0", "1")
"""The shop fronts that write the row (a settling row waits for a claim from each)."""


@dataclass(frozen=True)
class RowHistory:
    """What happens to one product row, as data: played with and without settling.

    `events` are ("reserve", side, actor, state, then_settle) (a hold, or a sale
    confirmed at once as the `none` and `2pc` protocols make them),
    ("confirm", side, actor, k), ("release", side, actor, k) (the k-th order made
    so far; a release of a hold the side does not show writes a tombstone, as the
    saga does), ("settle", side, actor) (any other write by that front) and
    ("merge", side, side) (both sides get the merge: a read that found siblings
    writes it back). Time moves on by `gaps_ms`.
    """

    inventory: int
    units: int
    sides: int
    events: tuple[tuple, ...]
    gaps_ms: tuple[float, ...]


@st.composite
def row_histories(draw: st.DrawFn, releases: bool = True, max_events: int = 50) -> RowHistory:
    """A product row's history on 1-3 sides of a partition, settled at random points."""
    sides = draw(st.integers(1, 3))
    side, actor = st.integers(0, sides - 1), st.sampled_from(ACTORS)
    state = st.sampled_from((CONFIRMED, CONFIRMED, HELD))
    reserve = st.tuples(
        st.just("reserve"), side, actor, state, st.sampled_from((True, True, False))
    )
    settle = st.tuples(st.just("settle"), side, actor)
    kinds = [
        reserve,
        reserve,
        settle,
        settle,
        settle,
        st.tuples(st.just("confirm"), side, actor, st.integers(0, 30)),
        st.tuples(st.just("merge"), side, side),
    ]
    if releases:
        kinds.append(st.tuples(st.just("release"), side, actor, st.integers(0, 30)))
    events = draw(st.lists(st.one_of(kinds), min_size=10, max_size=max_events))
    gaps = draw(
        st.lists(st.sampled_from((0.5, 1.0, 3.0, 10.0)), min_size=len(events), max_size=len(events))
    )
    return RowHistory(
        draw(st.integers(1, 12)), draw(st.integers(1, 2)), sides, tuple(events), tuple(gaps)
    )


# --------------------------------------------------------------------------- volatile crashes


@st.composite
def crash_windows(
    draw: st.DrawFn, nodes: int, quiet_ms: float, max_crashes: int = 2
) -> tuple[Fault, ...]:
    """1..max_crashes crashes that never overlap, in time order, the first in [100, 1000] ms.

    A node's next crash may follow its last one closely; between crashes of two
    different nodes `quiet_ms` pass at least (the caller keeps cuts out of that
    time), so that what only one node held has been copied again before the
    next node loses its data.
    """
    out: list[Fault] = []
    start = float(draw(st.integers(100, 1000)))
    for _ in range(draw(st.integers(1, max_crashes))):
        node = draw(st.integers(0, nodes - 1))
        if out:
            last = out[-1]
            gap = draw(st.integers(100, 500))
            start = last.end_ms + (gap if node == last.node else quiet_ms + gap)
        end = start + draw(st.integers(100, 400))
        out.append(fault("crash", start_ms=start, end_ms=end, node=node))
    return tuple(out)


def quiet_spans(crashes: tuple[Fault, ...]) -> list[tuple[float, float]]:
    """The times between consecutive crashes of different nodes (no cut may be active then)."""
    return [
        (crashes[i - 1].end_ms, crashes[i].start_ms)
        for i in range(1, len(crashes))
        if crashes[i - 1].node != crashes[i].node
    ]


@st.composite
def volatile_crash_scenarios(
    draw: st.DrawFn,
    max_nodes: int = 5,
    max_customers: int = 40,
    max_crashes: int = 2,
    featured: str | None = None,
) -> Scenario:
    """A flash sale in eventual mode whose nodes lose their data when they crash.

    `scenarios` with `cluster.durable = false`, merge-orders, N and W at least
    2 and a strict quorum, so that an acknowledged write is on two nodes that
    keep it until they crash (with a sloppy quorum a stand-in's hint for a
    replica that also acked is dropped once handed off, leaving one copy);
    crashes from `crash_windows`; the other faults `scenarios` drew (every cut
    kind and clock skew), each kept or not, never active between crashes of
    different nodes (a `featured` one, of that kind, is kept unless it would
    be). At most one node is without its data at a time, so a lost
    order is the store's doing, not the schedule's. Anti-entropy runs every 200
    or 1000 ms (the slower, the longer a restarted node serves a partial
    state); the quiet time and the settle time grow with it. Stock is drawn up
    to the number of customers, so that some sales go on through the crashes.
    Orders reserve, then record (`shop.orders = "none"`): what is tested is the
    store, and a saga's background steps may still be writing when the run ends.
    """
    base = draw(
        scenarios(
            modes=("eventual",),
            max_nodes=max_nodes,
            max_customers=max_customers,
            fault_kinds=(*CUTS, "clock-skew"),
            sloppy=False,
            max_stock=max_customers,
            featured=featured,
        )
    )
    nodes = base.cluster.nodes
    replication = max(2, base.cluster.replication)
    anti_entropy_ms = draw(st.sampled_from((200.0, 1000.0)))
    resync_ms = nodes * anti_entropy_ms + 500.0
    crashes = draw(crash_windows(nodes, resync_ms, max_crashes))
    spans = quiet_spans(crashes)
    cuts = [
        f
        for i, f in enumerate(base.faults)
        if ((i == 0 and featured is not None) or draw(st.booleans()))
        and not any(f.start_ms < end and start < f.end_ms for start, end in spans)
    ]
    faults = sorted([*cuts, *crashes], key=lambda f: f.start_ms)
    return base.with_overrides(
        {
            "cluster.durable": False,
            "cluster.replication": replication,
            "shop.orders": "none",
            "cluster.eventual.write_quorum": draw(st.integers(2, replication)),
            "cluster.eventual.anti_entropy_ms": anti_entropy_ms,
            "faults": [f.to_dict() for f in faults],
            "settle_ms": 3000.0 + 4 * anti_entropy_ms,
        }
    )


# --------------------------------------------------------------------------- staleness


@st.composite
def lineage_histories(
    draw: st.DrawFn, max_writes: int = 8, max_reads: int = 6
) -> tuple[list[tuple], dict[str, tuple[float, tuple[str, ...]]]]:
    """One key's writes and reads, with the lineage stale reads are judged by.

    Writes are blind, read-modify-write (one parent written earlier) or merges
    (flattened parents, tag "m:<i>"); reads return one or two values written
    before they began. Events are (process, f, key, value or tags, invoke, complete).
    """
    events: list[tuple] = [("loader", "write", "k", "w0", 0.0, 0.0)]
    lineage: dict[str, tuple[float, tuple[str, ...]]] = {}
    made = {"w0": 0.0}
    for i in range(1, draw(st.integers(1, max_writes)) + 1):
        invoke = float(draw(st.integers(1, 100)))
        earlier = sorted(tag for tag, t in made.items() if t < invoke)
        kind = draw(st.sampled_from(("blind", "rmw", "merge"))) if earlier else "blind"
        tag = f"m:{i}" if kind == "merge" else f"w{i}"
        if kind == "rmw":
            lineage[tag] = (invoke, (draw(st.sampled_from(earlier)),))
        elif kind == "merge":
            picked = draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=3))
            flat = {p for t in picked for p in (lineage[t][1] if t.startswith("m:") else (t,))}
            lineage[tag] = (invoke, tuple(sorted(flat)))
        made[tag] = invoke
        events.append((i, "write", "k", tag, invoke, invoke + draw(st.integers(1, 30))))
    for j in range(draw(st.integers(1, max_reads))):
        start = float(draw(st.integers(0, 140)))
        written = sorted(tag for tag, t in made.items() if t <= start)
        tags = draw(st.lists(st.sampled_from(written), min_size=1, max_size=2, unique=True))
        events.append((100 + j, "read", "k", tags if len(tags) > 1 else tags[0], start, start + 1))
    return events, lineage


# --------------------------------------------------------------------------- mutated scenarios
# For tests/test_corpus.py: the shipped scenarios, each broken in one to three random ways,
# to check that `sim run` either accepts a scenario or refuses it in one line.

ODD_VALUES = st.one_of(
    st.sampled_from(
        [
            float("nan"),
            float("inf"),
            float("-inf"),
            1e300,
            -1e300,
            1e-300,
            2**63 - 1,
            -(2**63),
            -1,
            0,
            0.0,
            True,
            "",
            "eventual",
            [],
            {},
            [1, "a"],
            [[0, 1], [2]],
            {"dist": "exponential", "mean": 5.0},
        ]
    ),
    st.integers(-(2**64), 2**64),
    st.floats(),
    st.booleans(),
    st.text(alphabet="abcxyz-_ 019", max_size=6),
)
"""Values of every TOML type, and the numbers that break things: huge, tiny, NaN, negative."""

MUTATIONS = ("delete", "replace", "unknown key", "nested table")


def shipped_scenarios() -> list[dict[str, object]]:
    """The TOML tables of scenarios/*.toml (the examples a user starts from)."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "scenarios"
    return [tomllib.loads(path.read_text()) for path in sorted(root.glob("*.toml"))]


def _places(raw: object, path: str = "") -> list[tuple[object, object, str]]:
    """Every (container, key or index, dotted path) inside nested tables and lists."""
    out: list[tuple[object, object, str]] = []
    items = (
        raw.items() if isinstance(raw, dict) else enumerate(raw) if isinstance(raw, list) else ()
    )
    for key, value in items:
        where = f"{path}.{key}" if path else str(key)
        out.append((raw, key, where))
        out.extend(_places(value, where))
    return out


def _mutate(draw: st.DrawFn, raw: dict[str, object]) -> str:
    """Break `raw` in place in one way; return what was done (for the failure message).

    Values are copied in: a later mutation may change them, and ODD_VALUES is shared.
    """
    import copy

    places = _places(raw)
    container, key, where = draw(st.sampled_from(places))
    tables = [raw] + [c for c, _, _ in places if isinstance(c, dict)]
    kind = draw(st.sampled_from(MUTATIONS))
    if kind == "delete" and isinstance(container, dict):
        del container[key]
        return f"deleted {where}"
    if kind == "unknown key":
        table = draw(st.sampled_from(tables))
        name = draw(st.sampled_from(["colour", "nodez", "mode_", "x", "faults", "kind"]))
        table[name] = copy.deepcopy(draw(ODD_VALUES))
        return f"set key {name!r} in a table to {table[name]!r}"
    value = copy.deepcopy(draw(ODD_VALUES))
    if kind == "nested table":
        value = {"a": {"b": value}}
    container[key] = value  # type: ignore[index]
    return f"{where} = {value!r}"


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> tuple[dict[str, object], str]:
    """A shipped scenario's TOML table with one to three random mutations, and what they were.

    A mutation picks a place among the nested tables and lists and deletes
    the key there, replaces its value with one of another type or with a huge,
    tiny, NaN or negative number, adds an unknown key to some table, or puts a
    nested table in the value's place.
    """
    import copy

    raw = copy.deepcopy(draw(st.sampled_from(_SHIPPED)))
    notes = [_mutate(draw, raw) for _ in range(draw(st.integers(1, 3)))]
    return raw, "; ".join(notes)


_SHIPPED = shipped_scenarios()
