"""Every Hypothesis strategy of the suite: small scenarios with generated fault schedules."""

from __future__ import annotations

from hypothesis import strategies as st

from sim.distributions import Exponential
from sim.scenario import ClusterConfig, FaultSpec, NetworkConfig, Scenario, WorkloadConfig


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


@st.composite
def faults(
    draw: st.DrawFn,
    nodes: int,
    horizon_ms: float,
    kinds: tuple[str, ...] = ("partition", "one-way", "isolate"),
    max_faults: int = 3,
) -> tuple[FaultSpec, ...]:
    """A schedule of 1..max_faults faults inside [0, horizon_ms], each healing."""
    out = []
    for _ in range(draw(st.integers(1, max_faults))):
        kind = draw(st.sampled_from(kinds))
        start = draw(st.integers(0, int(horizon_ms * 0.7)))
        length = draw(st.integers(100, int(horizon_ms * 0.6)))
        end = float(min(start + length, horizon_ms))
        if end <= start:
            end = start + 100.0
        if kind == "partition":
            out.append(FaultSpec("partition", float(start), end, groups=draw(groups_of(nodes))))
        elif kind == "one-way":
            perm = draw(st.permutations(range(nodes)))
            cut = draw(st.integers(1, nodes - 1))
            out.append(
                FaultSpec(
                    "one-way",
                    float(start),
                    end,
                    from_nodes=tuple(perm[:cut]),
                    to_nodes=tuple(perm[cut:]),
                )
            )
        elif kind == "isolate":
            out.append(
                FaultSpec("isolate", float(start), end, node=draw(st.integers(0, nodes - 1)))
            )
        elif kind == "crash":
            out.append(FaultSpec("crash", float(start), end, node=draw(st.integers(0, nodes - 1))))
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
) -> Scenario:
    """A small flash-sale scenario with a generated fault schedule and seed."""
    nodes = draw(st.integers(3, max_nodes))
    replication = draw(st.integers(1, min(3, nodes)))
    quorum = draw(st.integers(1, replication))
    duration = 3000.0
    cluster = ClusterConfig(
        nodes=nodes,
        replication=replication,
        read_quorum=quorum,
        write_quorum=draw(st.integers(1, replication)),
        mode=draw(st.sampled_from(modes)),
        concurrency=draw(st.sampled_from(("occ", "lock"))),
        resolver=resolver,
        layout=draw(st.sampled_from(("relational", "nosql"))),
        sloppy_quorum=draw(st.booleans()) if sloppy is None else sloppy,
        anti_entropy_ms=200.0,
        handoff_ms=100.0,
    )
    network = NetworkConfig(
        latency=Exponential(draw(st.sampled_from((1.0, 5.0, 20.0)))),
        loss=draw(st.sampled_from((0.0, 0.01, 0.05))) if loss else 0.0,
    )
    workload = WorkloadConfig(
        kind="flash-sale",
        products=draw(st.integers(1, 2)),
        stock=draw(st.integers(1, 8)),
        customers=draw(st.integers(5, max_customers)),
        arrival_mean_ms=draw(st.sampled_from((20.0, 60.0))),
        timeout_ms=500.0,
    )
    return Scenario(
        cluster=cluster,
        network=network,
        faults=draw(faults(nodes, duration, fault_kinds)),
        workload=workload,
        seed=draw(st.integers(0, 2**31 - 1)),
        duration_ms=duration,
        settle_ms=3000.0,
    )
