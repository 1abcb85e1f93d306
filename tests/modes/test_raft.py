"""Raft in strong mode, driven on a bare World: elections, replication, faults, locks."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import simpy
from hypothesis import event
from hypothesis import strategies as st

from sim.engine.nemesis import Nemesis
from sim.faults.base import Fault, fault
from sim.faults.links import isolate_cut
from sim.faults.partition import partition_cut
from sim.history import History
from sim.modes.base import ReadResult, Status, WriteResult
from sim.modes.strong import StrongMode
from sim.modes.strong.log import LOAD, WRITE, Command, Entry, RaftLog
from sim.modes.strong.machine import StateMachine
from sim.modes.strong.messages import Forward
from sim.modes.strong.raft import RaftGroup, Role
from tests import schedules
from tests.integration.fault_kinds import (
    VOLATILE_CRASH,
    FaultCoverage,
    each_kind,
    labels,
    per_kind,
)
from tests.modes.conftest import build_world, call, make_mode
from tests.strategies import EVERY_FAULT, faults

ELECTED_BY_MS = 400.0  # a fresh group has a leader well before this (5 ms links)
LIVENESS_MS = 500.0  # StrongSettings.liveness_ms's default
DETECT_MS = 3 * LIVENESS_MS
"""How much later than with heartbeats a quiesced follower may notice that its leader's node
went silent: the last liveness heartbeat it heard can be a period old, and it suspects
after two more periods (raft.Liveness)."""
QUIESCE = pytest.mark.parametrize("quiesce", [True, False], ids=["quiesced", "heartbeats"])
"""Fault tests run on idle groups both ways: quiesced (the default) and always heartbeating."""


def strong(world, **kw) -> StrongMode:
    return make_mode("strong", world, **kw)


def started(nodes: int = 5, seed: int = 1, **kw) -> tuple[Any, StrongMode, RaftGroup]:
    """A world whose key "k" (loaded with "v0") has a group with an elected leader."""
    world = build_world(nodes, seed=seed)
    mode = strong(world, **kw)
    mode.load("k", "v0")
    world.env.run(until=ELECTED_BY_MS)
    group = mode.raft.group_for("k")
    assert group.leader() is not None
    return world, mode, group


def answer(world, start: Callable[[Callable[[Any], None]], None], within_ms: float) -> Any:
    """Start a request, run the simulation `within_ms` more, return its reply (None if none)."""
    box = call(world.env, start)
    world.env.run(until=world.env.now + within_ms)
    return box[0] if box else None


def follower_of(group: RaftGroup) -> int:
    return next(n for n in group.members if n != group.leader())


# ---------------------------------------------------------------------- the log


def test_log_merge_truncates_conflicts_and_ignores_stale_appends() -> None:
    log = RaftLog()
    for term in (1, 1, 2):
        log.append(Entry(term, None))
    # a stale AppendEntries carrying a prefix we hold already changes nothing
    assert log.merge(0, (Entry(1, None),)) == (1, None)
    assert [e.term for e in log.entries[1:]] == [1, 1, 2]
    # a conflicting entry at 3 (term 3 vs 2) is cut with everything after it (§5.3)
    assert log.merge(2, (Entry(3, None), Entry(3, None))) == (4, 3)
    assert [e.term for e in log.entries[1:]] == [1, 1, 3, 3]
    assert log.matches(4, 3) and not log.matches(4, 2) and not log.matches(9, 3)
    assert log.first_index_of_term_at(4) == 3


def test_log_up_to_date_compares_last_term_then_length() -> None:
    log = RaftLog()
    log.append(Entry(1, None))
    log.append(Entry(2, None))
    assert log.up_to_date(1, 3)  # a later last term wins however short (§5.4.1)
    assert log.up_to_date(2, 2) and log.up_to_date(5, 2)
    assert not log.up_to_date(1, 2) and not log.up_to_date(9, 1)


def test_state_machine_applies_a_request_once() -> None:
    sm = StateMachine()
    sm.apply(1, Command(LOAD, "k", value="v0"))
    cas = Command(WRITE, "k", 7, "v1", context=0, conditional=True)
    first = sm.apply(2, cas)
    # the same request again (a retry appended by a new leader): same answer, no
    # CONFLICT against the version it set itself, no second change
    again = sm.apply(5, cas)
    assert first == again == WriteResult(Status.OK, 2)
    assert sm.data["k"] == ("v1", 2) and sm.duplicates == 1
    stale = sm.apply(6, Command(WRITE, "k", 8, "v2", context=0, conditional=True))
    assert stale.status is Status.CONFLICT and stale.version == 2
    assert sm.read("k") == ReadResult(Status.OK, ("v1",), 2)
    assert sm.read("absent") == ReadResult(Status.OK)


# ---------------------------------------------------------------------- elections


def test_a_new_group_elects_one_leader_whose_term_is_its_own() -> None:
    _, _, group = started()
    leader = group.leader()
    assert group.elected == [(1, leader)]
    for node, r in group.replicas.items():
        assert r.term == 1
        assert r.role is (Role.LEADER if node == leader else Role.FOLLOWER)
        assert r.leader_id == leader


def test_groups_are_made_lazily_per_replica_set() -> None:
    world = build_world(1000, latency_ms=5.0)
    mode = strong(world)
    for key in ("a", "b", "c"):
        mode.load(key, key)
    groups = mode.raft.groups
    assert 1 <= len(groups) <= 3  # one per distinct replica set touched, not per node
    for key in ("a", "b", "c"):
        assert mode.raft.group_for(key).members == tuple(sorted(world.ring.preference_list(key, 3)))
    world.env.run(until=ELECTED_BY_MS)
    assert all(g.leader() is not None for g in groups)


def test_election_timeouts_come_from_the_runs_raft_stream() -> None:
    state = random.getstate()
    world = build_world(seed=11)
    mode = strong(world)
    draws = [mode.raft.ctx.election_timeout() for _ in range(50)]
    assert random.getstate() == state  # never the global random
    assert all(150.0 <= d <= 300.0 for d in draws) and len(set(draws)) == 50
    again = strong(build_world(seed=11))
    assert [again.raft.ctx.election_timeout() for _ in range(50)] == draws


def test_no_simpy_process_drives_timers_or_messages() -> None:
    world, mode, group = started()
    mode.write(follower_of(group), "k", "v1", None, False, lambda r: None)
    world.env.run(until=world.env.now + 7.0)
    assert not any(isinstance(entry[3], simpy.Process) for entry in world.env._queue)


# ---------------------------------------------------------------------- replication


def test_a_write_commits_on_a_majority_and_is_applied_everywhere() -> None:
    world, mode, group = started()
    box = call(world.env, lambda r: mode.write(follower_of(group), "k", "v1", None, False, r))
    while not box:
        world.env.step()
    assert box[0].status is Status.OK
    index = box[0].version
    # when the client hears OK, a majority stores the entry (§5.3, §5.4.2)...
    holders = [
        r
        for r in group.replicas.values()
        if r.log.last_index >= index and r.log[index].command.value == "v1"
    ]
    assert len(holders) >= group.majority
    # ...and within a heartbeat every member has applied it
    world.env.run(until=world.env.now + 100.0)
    assert all(r.sm.data["k"] == ("v1", index) for r in group.replicas.values())
    assert list(mode.divergent_keys()) == []
    assert mode.final("k").siblings == ("v1",) and mode.final("k").agree


def test_a_read_sees_the_last_acknowledged_write_from_any_node() -> None:
    world, mode, group = started(nodes=6)
    outsider = next(n for n in range(6) if n not in group.members)
    ok = answer(world, lambda r: mode.write(group.leader(), "k", "v1", None, False, r), 100.0)
    read = answer(world, lambda r: mode.read(outsider, "k", r), 100.0)
    assert read.status is Status.OK and read.siblings == ("v1",) and read.version == ok.version
    absent = answer(world, lambda r: mode.read(outsider, "nothing-here", r), ELECTED_BY_MS)
    assert absent == ReadResult(Status.OK)


@QUIESCE
def test_the_minority_side_cannot_commit_while_the_majority_elects_and_serves(
    quiesce: bool,
) -> None:
    world, mode, group = started(quiesce=quiesce)
    detect = DETECT_MS if quiesce else 0.0
    old = group.leader()
    old_term = group.replicas[old].term
    rest = [n for n in group.members if n != old]
    outsider = next(n for n in range(5) if n not in group.members)
    minority = (old, outsider)
    world.links.add_cut(
        partition_cut([minority, tuple(n for n in range(5) if n not in minority)], 5, False)
    )
    t0 = world.env.now
    stuck = call(world.env, lambda r: mode.write(old, "k", "minority", None, False, r))
    world.env.run(until=t0 + 600.0 + detect)
    assert stuck == []  # never a false OK, nor a FAIL: the outcome is unknown
    # check-quorum deposed it (a quiesced leader too: the write woke it)
    assert group.replicas[old].role is not Role.LEADER
    new = group.leader()
    assert new in rest and group.replicas[new].term > old_term
    ok = answer(world, lambda r: mode.write(rest[0], "k", "majority", None, False, r), 200.0)
    assert ok.status is Status.OK
    # a read on the minority side is refused, not answered from a stale copy
    read = answer(world, lambda r: mode.read(outsider, "k", r), 800.0)
    assert read == ReadResult(Status.FAIL, error="unavailable")
    assert stuck == []
    world.links.cuts.clear()
    world.links.active = False
    world.env.run(until=world.env.now + 500.0)
    assert group.leader() == new  # pre-vote: the returning node does not depose it
    assert mode.final("k").siblings == ("majority",) and mode.final("k").agree
    assert group.replicas[old].log[ok.version].command.value == "majority"


@QUIESCE
def test_a_leader_cut_off_steps_down_and_a_new_one_takes_over(quiesce: bool) -> None:
    world, mode, group = started(quiesce=quiesce)
    old = group.leader()
    cut = isolate_cut(old)
    world.links.add_cut(cut)
    low = 150.0
    world.env.run(until=world.env.now + low + 2 * 50.0)
    if quiesce:
        # Quiesced, it ticks no check-quorum: nothing tells it yet (nothing asks it either;
        # a request would wake it, and then check-quorum deposes it, as above).
        assert group.replicas[old].quiet and mode.stats()["step_downs"] == 0
    else:
        assert group.replicas[old].role is Role.FOLLOWER
        assert mode.stats()["step_downs"] == 1
    world.env.run(until=world.env.now + 400.0 + (DETECT_MS if quiesce else 0.0))
    new = group.leader()
    assert new not in (None, old)
    world.links.remove_cut(cut)
    world.env.run(until=world.env.now + 200.0)
    assert group.replicas[old].leader_id == new
    assert group.replicas[old].role is Role.FOLLOWER


@QUIESCE
def test_a_deposed_leader_never_answers_a_read_with_old_data(quiesce: bool) -> None:
    world, mode, group = started(quiesce=quiesce)
    old = group.leader()
    world.links.add_cut(isolate_cut(old))
    read = call(world.env, lambda r: mode.read(old, "k", r))  # the old leader is its home
    world.env.run(until=world.env.now + 500.0 + (DETECT_MS if quiesce else 0.0))
    other = next(n for n in group.members if n != old)
    ok = answer(world, lambda r: mode.write(other, "k", "v1", None, False, r), 200.0)
    assert ok.status is Status.OK
    world.env.run(until=world.env.now + 1000.0)
    # ReadIndex needs a majority to confirm the leadership: it never came
    assert read == [ReadResult(Status.FAIL, error="unavailable")]


# ---------------------------------------------------------------------- crash and restart


@QUIESCE
def test_crash_and_restart_with_a_durable_log_rebuilds_the_state_machine(quiesce: bool) -> None:
    world, mode, group = started(quiesce=quiesce)
    victim = group.leader()
    for i in range(3):
        assert answer(world, lambda r, i=i: mode.write(victim, "k", f"a{i}", None, False, r), 60)
    before = group.replicas[victim].log.last_index
    world.links.set_down(victim, True)
    mode.crash(victim)
    r = group.replicas[victim]
    assert r.sm.data == {} and r.commit_index == 0 and r.role is Role.FOLLOWER
    assert r.log.last_index == before and r.term >= 1  # durable: log, term, vote kept
    world.env.run(until=world.env.now + 500.0 + (DETECT_MS if quiesce else 0.0))
    survivor = next(n for n in group.members if n != victim)
    late = answer(world, lambda r: mode.write(survivor, "k", "b", None, False, r), 200.0)
    assert late.status is Status.OK
    world.links.set_down(victim, False)
    mode.restart(victim)
    assert r.sm.data == {}  # rebuilt only from the commit index the leader tells it
    world.env.run(until=world.env.now + 300.0)
    assert r.sm.data["k"] == ("b", late.version)
    assert list(mode.divergent_keys()) == []


def test_without_durable_logs_a_node_restarts_empty_and_catches_up_from_the_leader() -> None:
    world, mode, group = started(durable=False)
    victim = follower_of(group)
    ok = answer(world, lambda r: mode.write(group.leader(), "k", "v1", None, False, r), 100.0)
    world.links.set_down(victim, True)
    mode.crash(victim)
    r = group.replicas[victim]
    assert r.log.last_index == 0 and r.term == 0 and r.voted_for is None
    world.links.set_down(victim, False)
    mode.restart(victim)
    world.env.run(until=world.env.now + 300.0)
    # the initial load is a log entry, so it comes back with the rest
    assert r.log[1].command.op == LOAD
    assert r.sm.data["k"] == ("v1", ok.version)


def test_safety_under_random_faults() -> None:
    """Election Safety, Log Matching and durability of acknowledged writes (§5.2, §5.3, §5.4).

    Writes arrive every 10 ms from every node while a generated schedule of
    faults of every kind runs; afterwards: at most one leader was elected per
    term in each group, live members' committed prefixes are identical, every
    acknowledged write is in the log at its index, and once healed every
    member has applied the same state. Without durable logs (drawn when a node
    crashes) Raft promises none of that, only that an acknowledged write it
    lost is counted (`lost_committed`). A safety law holds vacuously if no
    leader ever changed: the examples must include re-elections, and writes
    acknowledged during each fault kind.
    """
    seen: Counter[str] = Counter()
    kinds = labels(EVERY_FAULT, volatile=True)
    covered = FaultCoverage(("strong",), kinds)

    def holds(case: RaftCase) -> None:
        seen.update(safety_example(case, covered))

    each_kind(kinds, per_kind(0.5), lambda kind: raft_cases(kind, 2000.0), holds)  # ~10 ms each
    assert seen["re-elections"] > 0, f"no example re-elected a leader ({dict(seen)})"
    assert seen["acknowledged writes lost"] > 0, dict(seen)  # and counted
    covered.assert_reached()


def test_safety_under_random_faults_that_strike_quiesced_groups() -> None:
    """The same laws when the faults find the groups quiesced.

    A write every 700 ms, round the keys: each group idles about two seconds
    between writes, long enough to quiesce, so crashes and cuts strike groups
    whose followers run no election timer and must notice through node
    liveness (or a request) that their leader is gone. The examples must
    include quiesced groups, leaders replaced after a liveness suspicion, and
    re-elections, and writes acknowledged during each fault kind.
    """
    seen: Counter[str] = Counter()
    kinds = labels(EVERY_FAULT, volatile=True)
    covered = FaultCoverage(("strong",), kinds)

    def holds(case: RaftCase) -> None:
        seen.update(safety_example(case, covered, gap_ms=700.0))

    each_kind(kinds, per_kind(0.5), lambda kind: raft_cases(kind, 8000.0, 2), holds)  # ~5 ms
    for case in ("re-elections", "quiesced", "liveness suspicions"):
        assert seen[case] > 0, f"no example reached {case!r} ({dict(seen)})"
    covered.assert_reached()


@dataclasses.dataclass(frozen=True)
class RaftCase:
    """One example of the safety property: the cluster, the seed and the fault schedule."""

    nodes: int
    replication: int
    seed: int
    specs: tuple[Fault, ...]
    durable: bool
    horizon: float


@st.composite
def raft_cases(
    draw: st.DrawFn, featured: str, horizon: float, min_replication: int = 1
) -> RaftCase:
    """3-5 nodes, any replication, a schedule whose first fault is of kind `featured`.

    A crash on a cluster without durable logs is featured as VOLATILE_CRASH;
    otherwise durability is drawn when the schedule crashes a node.
    """
    nodes = draw(st.integers(3, 5))
    replication = min(draw(st.integers(min_replication, 5)), nodes)
    seed = draw(st.integers(0, 2**31 - 1))
    kind = "crash" if featured == VOLATILE_CRASH else featured
    specs = draw(faults(nodes, horizon, EVERY_FAULT, featured=kind))
    if featured == VOLATILE_CRASH:
        # A second crash while the first node is down: a majority without its log,
        # the case where Raft without durable logs loses acknowledged writes.
        first = specs[0]
        other = draw(st.sampled_from([n for n in range(nodes) if n != first.node]))
        start = draw(st.floats(first.start_ms, first.end_ms - 1.0))
        second = fault("crash", start_ms=start, end_ms=first.end_ms + 200.0, node=other)
        specs = (first, second, *specs[1:])
    if featured in ("crash", VOLATILE_CRASH):
        durable = featured == "crash"
    else:
        durable = not any(f.kind == "crash" for f in specs) or draw(st.booleans())
    return RaftCase(nodes, replication, seed, specs, durable, horizon)


def safety_example(case: RaftCase, covered: FaultCoverage, gap_ms: float = 10.0) -> Counter[str]:
    """One example of the safety property; which cases it reached (re-elections, quiescence).

    A bare World, not a scenario run: the failure is reproduced from the case
    (in Hypothesis' report), not saved for replay.
    """
    schedules.ran()
    nodes, replication, seed, specs, durable, horizon = dataclasses.astuple(case)
    world = build_world(nodes, latency_ms=3.0, seed=seed)
    mode = strong(world, replication=replication, durable=durable)
    keys = ["k0", "k1", "k2"]
    for key in keys:
        mode.load(key, f"{key}-init")
    Nemesis(
        world.env, specs, nodes, world.links, world.clocks, History(), horizon,
        on_crash=mode.crash, on_restart=mode.restart,
    )  # fmt: skip
    acked: list[tuple[str, str, int]] = []
    acked_at: list[float] = []

    def write(i: int) -> None:
        home, key, value = i % nodes, keys[i % len(keys)], f"w{i}"
        if home in world.links.down:
            return

        def done(result: WriteResult) -> None:
            if result.status is Status.OK:
                acked.append((key, value, result.version))
                acked_at.append(world.env.now)

        mode.write(home, key, value, None, False, done)

    for i in range(int(horizon / gap_ms)):
        world.env.call_later(gap_ms * i, write, i)
    world.env.run(until=horizon + 3000.0)
    assert acked, "nothing was acknowledged"
    covered.add_times("strong", specs, durable, acked_at, horizon)
    reelected = sum(len(g.elected) for g in mode.raft.groups) > len(mode.raft.groups)
    event(f"re-elections: {'yes' if reelected else 'no'}")
    stats = mode.stats()
    if not durable:
        lost = sum(1 for key, value, index in acked if not kept(mode, key, value, index))
        assert lost == 0 or stats["lost_committed"] > 0, f"{lost} writes lost, none counted"
        return Counter({"re-elections": reelected, "acknowledged writes lost": lost > 0})
    for group in mode.raft.groups:
        terms = [term for term, _ in group.elected]
        assert len(terms) == len(set(terms)), group.elected
        live = group.live()
        common = min(r.commit_index for r in live)
        assert all(r.log.entries[: common + 1] == live[0].log.entries[: common + 1] for r in live)
    for key, value, index in acked:
        group = mode.raft.group_for(key)
        assert all(r.log[index].command.value == value for r in group.live())
    assert list(mode.divergent_keys()) == []
    return Counter(
        {
            "re-elections": reelected,
            "quiesced": stats["quiesces"] > 0,
            "liveness suspicions": stats["liveness_suspicions"] > 0,
        }
    )


def kept(mode: StrongMode, key: str, value: str, index: int) -> bool:
    """Whether an acknowledged write survived: some live member of its group holds it at its
    index, and none holds another command there (a shorter log is only behind)."""
    held = [
        getattr(r.log[index].command, "value", None)
        for r in mode.raft.group_for(key).live()
        if index <= r.log.last_index
    ]
    return value in held and all(v == value for v in held)


# ---------------------------------------------------------------------- the state machine


def test_a_conditional_write_with_a_stale_version_gets_conflict() -> None:
    world, mode, group = started()
    home = follower_of(group)
    read = answer(world, lambda r: mode.read(home, "k", r), 100.0)
    assert read.version == 0  # the initial load
    first = answer(world, lambda r: mode.write(home, "k", "v1", read.version, True, r), 100.0)
    assert first.status is Status.OK and first.version > 0
    stale = answer(world, lambda r: mode.write(home, "k", "v2", read.version, True, r), 100.0)
    assert stale.status is Status.CONFLICT and stale.version == first.version
    assert mode.final("k").siblings == ("v1",)
    fresh = answer(world, lambda r: mode.write(home, "k", "v3", first.version, True, r), 100.0)
    assert fresh.status is Status.OK
    # a conditional write on an absent key expects the version None
    new = answer(world, lambda r: mode.write(home, "new", "n1", None, True, r), ELECTED_BY_MS)
    assert new.status is Status.OK


def test_a_duplicated_request_is_applied_once() -> None:
    world, mode, group = started()
    leader = group.leader()
    home = follower_of(group)
    rid = mode.raft.new_request()
    command = Command(WRITE, "k", rid, "once", 0, True)
    box: list = []
    mode.raft.submit(home, rid, "k", command, box.append)
    world.env.run(until=world.env.now + 100.0)
    assert box[0].status is Status.OK
    length = group.replicas[leader].log.last_index
    # the same request delivered again (a duplicate or a retry): answered from the table
    group.on_forward(home, leader, Forward(rid, group.id, command))
    world.env.run(until=world.env.now + 100.0)
    assert group.replicas[leader].log.last_index == length
    assert group.replicas[leader].sm.data["k"] == ("once", box[0].version)


def test_locks_are_replicated_leases() -> None:
    world, mode, group = started()
    a, b = follower_of(group), group.leader()
    lease = 100.0
    assert answer(world, lambda r: mode.lock(a, "k", "alice", lease, r), 50.0).status is Status.OK
    busy = answer(world, lambda r: mode.lock(b, "k", "bob", lease, r), 50.0)
    assert busy.status is Status.BUSY
    world.env.run(until=world.env.now + lease)
    assert (
        answer(world, lambda r: mode.lock(b, "k", "bob", 10 * lease, r), 50.0).status is Status.OK
    )
    late = answer(world, lambda r: mode.unlock(a, "k", "alice", r), 50.0)
    assert late == WriteResult(Status.FAIL, None, "lease-expired")
    assert answer(world, lambda r: mode.unlock(b, "k", "bob", r), 50.0).status is Status.OK
    # every member holds the same lock table: leases are judged by the entry's stamp
    world.env.run(until=world.env.now + 100.0)
    assert {r.sm.locks.expiries for r in group.replicas.values()} == {1}
    assert mode.stats()["lock_expiries"] == 1


# ---------------------------------------------------------------------- quiescence


def quiet(group: RaftGroup) -> bool:
    """Every live member is quiesced: the leader sends no heartbeats, followers run no timer."""
    return all(r.quiet for r in group.live())


def quiesced(nodes: int = 5, seed: int = 1, **kw) -> tuple[Any, StrongMode, RaftGroup]:
    """`started`, then idle: by then the group has quiesced (one heartbeat after its no-op)."""
    world, mode, group = started(nodes, seed, **kw)
    assert quiet(group)
    return world, mode, group


def sent(world) -> Counter[str]:
    """Messages sent so far, by kind."""
    return Counter({k: v["sent"] for k, v in world.network.stats()["by_kind"].items()})


def raft_timers(world) -> int:
    """Election and heartbeat ticks waiting on the heap."""
    names = ("_election_tick", "_heartbeat_tick")
    return sum(
        getattr(getattr(e, "fn", None), "__name__", "") in names for e in world.env.scheduled()
    )


def test_an_idle_quiesced_group_sends_only_one_liveness_heartbeat_per_node_pair() -> None:
    world, mode, group = quiesced()
    before = sent(world)
    idle_ms = 10_000.0
    world.env.run(until=world.env.now + idle_ms)
    grew = sent(world) - before
    assert set(grew) == {"liveness"}  # no AppendEntries, votes or requests
    pairs = len(group.members) - 1  # the leader's node to each follower's node
    assert grew["liveness"] <= pairs * (idle_ms / LIVENESS_MS + 1)
    assert raft_timers(world) == 0 and quiet(group)
    assert mode.stats()["elections"] == 1  # nobody campaigned


def test_a_group_quiesces_even_when_a_round_trip_outlasts_a_heartbeat_period() -> None:
    world = build_world(latency_ms=40.0)  # 80 ms round trips, 50 ms heartbeats
    mode = strong(world)
    mode.load("k", "v0")
    world.env.run(until=2000.0)
    group = mode.raft.group_for("k")
    assert group.leader() is not None and quiet(group)
    ok = answer(world, lambda r: mode.write(follower_of(group), "k", "v1", None, False, r), 500.0)
    assert ok.status is Status.OK
    world.env.run(until=world.env.now + 1000.0)
    assert quiet(group)


def test_without_quiescence_an_idle_group_heartbeats_every_period() -> None:
    world, _, _ = started(quiesce=False)
    before = sent(world)
    world.env.run(until=world.env.now + 1000.0)
    grew = sent(world) - before
    # 20 rounds of AppendEntries to 2 followers, and their replies
    assert grew["append"] == 20 * 2 * 2 and "liveness" not in grew


def test_a_write_wakes_a_quiesced_group_which_quiesces_again_after_telling_the_commit() -> None:
    world, mode, group = quiesced()
    stats = mode.stats()
    before = sent(world)
    home = follower_of(group)  # a member: its replica knows the leader, one forward
    ok = answer(world, lambda r: mode.write(home, "k", "v1", None, False, r), 100.0)
    assert ok.status is Status.OK
    world.env.run(until=world.env.now + 200.0)
    assert quiet(group) and raft_timers(world) == 0
    # the followers applied it: the Quiesce round told them the commit index
    assert all(r.sm.data["k"] == ("v1", ok.version) for r in group.replicas.values())
    grew = sent(world) - before
    # the entry's round and the Quiesce round, to 2 followers and back
    assert grew["append"] == 2 * 2 * 2
    assert grew["forward"] == 1 and grew["response"] == 2  # Accepted, Answer
    after = mode.stats()
    assert after["wakes"] == stats["wakes"] + 1
    assert after["quiesces"] == stats["quiesces"] + 1


def test_a_read_of_a_quiesced_group_costs_one_quiesce_round_and_leaves_it_quiet() -> None:
    world, mode, group = quiesced(nodes=6)
    outsider = next(n for n in range(6) if n not in group.members)
    before = sent(world)
    read = answer(world, lambda r: mode.read(outsider, "k", r), 100.0)
    assert read.status is Status.OK and read.siblings == ("v0",)
    world.env.run(until=world.env.now + 200.0)
    grew = sent(world) - before
    # ReadIndex: a heartbeat round sent after the read arrived, acknowledged by a
    # majority; on an idle group that round is a Quiesce, so it stays quiet
    assert grew["append"] == 2 * 2
    assert quiet(group) and raft_timers(world) == 0


def test_a_request_at_a_quiesced_follower_wakes_it_and_its_leader() -> None:
    world, mode, group = quiesced()
    follower = follower_of(group)
    before = sent(world)
    rid = mode.raft.new_request()
    group.on_forward(0, follower, Forward(rid, group.id, Command(WRITE, "k", rid, "x")))
    r = group.replicas[follower]
    assert not r.quiet and r.election_armed  # it runs its timer again...
    world.env.run(until=world.env.now + 6.0)  # 5 ms links
    assert not group.replicas[group.leader()].quiet  # ...and told the leader (Wake)
    world.env.run(until=world.env.now + 300.0)
    assert quiet(group) and mode.stats()["elections"] == 1  # back to quiet; nobody campaigned
    assert sent(world) - before >= Counter({"append": 1})


def until_replaced(world, group: RaftGroup, old: int, within_ms: float) -> float:
    """Run until a leader other than `old` leads (in a higher term); how long it took."""
    t0 = world.env.now
    while world.env.now - t0 < within_ms:
        world.env.run(until=world.env.now + 5.0)
        new = group.leader()
        if new not in (None, old):
            return world.env.now - t0
    raise AssertionError(f"no new leader within {within_ms} ms")


REPLACED_WITHIN_MS = DETECT_MS + 2 * 300.0 + 100.0
"""A silent leader of a quiesced group is replaced within this, with no request to wake it:
the suspicion (DETECT_MS), a random part of an election timeout, a pre-vote round that a
member still quiet refuses and is resent, the election itself."""


@pytest.mark.parametrize("fault", ["crash", "isolate"])
def test_the_silent_leader_of_an_idle_quiesced_group_is_replaced_within_a_bound(
    fault: str,
) -> None:
    world, mode, group = quiesced()
    old = group.leader()
    old_term = group.replicas[old].term
    if fault == "crash":
        world.links.set_down(old, True)
        mode.crash(old)
    else:
        world.links.add_cut(isolate_cut(old))
    before = sent(world)
    until_replaced(world, group, old, REPLACED_WITHIN_MS)
    new = group.leader()
    assert group.replicas[new].term > old_term
    assert mode.stats()["liveness_suspicions"] >= 1
    # until the suspicion nothing but liveness heartbeats was sent (and dropped)
    assert (sent(world) - before)["forward"] == 0
    survivor = next(n for n in group.members if n not in (old, new))
    ok = answer(world, lambda r: mode.write(survivor, "k", "after", None, False, r), 200.0)
    assert ok.status is Status.OK
    if fault == "isolate":
        world.links.cuts.clear()
        world.links.active = False
        world.env.run(until=world.env.now + 300.0)
        assert group.replicas[old].role is Role.FOLLOWER
        assert group.replicas[old].leader_id == new
        assert group.replicas[old].sm.data["k"][0] == "after"


def test_a_request_reaching_a_quiesced_group_whose_leader_crashed_is_served_soon() -> None:
    """A request does not wait for the liveness suspicion: the follower it reaches wakes."""
    world, mode, group = quiesced()
    old = group.leader()
    world.links.set_down(old, True)
    mode.crash(old)
    world.env.run(until=world.env.now + 100.0)
    home = next(n for n in group.members if n != old)
    t0 = world.env.now
    box = call(world.env, lambda r: mode.write(home, "k", "soon", None, False, r))
    while not box and world.env.now - t0 < DETECT_MS:
        world.env.run(until=world.env.now + 5.0)
    assert box and box[0].status is Status.OK
    # a peer time-out, an election timeout, a pre-vote resend and the rounds
    assert world.env.now - t0 < 50.0 + 300.0 + 50.0 + 100.0


def test_a_leader_that_restarts_at_once_is_not_trusted_for_its_old_groups() -> None:
    world, mode, group = quiesced()
    old = group.leader()
    world.links.set_down(old, True)
    mode.crash(old)
    world.env.run(until=world.env.now + 20.0)
    world.links.set_down(old, False)
    mode.restart(old)  # back well before the followers' liveness expires: a new boot
    t0 = world.env.now
    while world.env.now - t0 < REPLACED_WITHIN_MS:
        world.env.run(until=world.env.now + 5.0)
        if group.leader() is not None:
            break
    assert group.leader() is not None, "nobody leads the group after its leader restarted"
    ok = answer(world, lambda r: mode.write(follower_of(group), "k", "v", None, False, r), 200.0)
    assert ok.status is Status.OK


def test_a_follower_cut_off_from_a_quiesced_leader_does_not_depose_it() -> None:
    """Pre-vote keeps working without heartbeats: the other follower still hears the leader's
    node, refuses, and wakes the leader; no term is raised, the leader stays."""
    world, mode, group = quiesced()
    leader = group.leader()
    term = group.replicas[leader].term
    cut_off = follower_of(group)

    def cut(src: int, dst: int) -> bool:
        return {src, dst} == {leader, cut_off}

    world.links.add_cut(cut)
    world.env.run(until=world.env.now + DETECT_MS + 1000.0)
    assert mode.stats()["prevotes"] > 0  # the cut-off follower suspected and campaigned
    assert group.leader() == leader
    assert {r.term for r in group.replicas.values()} == {term}
    world.links.remove_cut(cut)
    world.env.run(until=world.env.now + 500.0)
    assert group.leader() == leader and quiet(group)
    assert {r.term for r in group.replicas.values()} == {term}


def test_quiescence_is_deterministic() -> None:
    def trace(seed: int) -> list:
        world, mode, group = quiesced(seed=seed)
        world.links.add_cut(isolate_cut(group.leader()))
        world.env.run(until=world.env.now + REPLACED_WITHIN_MS)
        return [mode.stats(), sent(world), group.elected]

    assert trace(3) == trace(3)
