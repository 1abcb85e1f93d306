"""Atomic commit in strong mode (two-phase commit over Raft groups), driven on a bare World."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import event, note
from hypothesis import strategies as st

from sim.config.network import NetworkConfig, message_kinds
from sim.distributions import Exponential
from sim.engine.nemesis import Nemesis
from sim.engine.network import Network
from sim.engine.world import World
from sim.faults.base import Fault
from sim.history import History
from sim.modes.base import AtomicCommit, Status, TxnWrite, WriteResult
from sim.modes.strong import MODE, StrongMode
from sim.modes.strong.log import DECIDE, FINISH, PREPARE, WRITE, Command, TxnCommand
from sim.modes.strong.machine import COMMITTED, PREPARED, StateMachine
from sim.modes.strong.raft import RaftGroup, Replica, Role
from tests import schedules
from tests.integration.fault_kinds import FaultCoverage, each_kind, per_kind
from tests.modes.conftest import build_world, call, make_mode
from tests.strategies import EVERY_FAULT, faults

ELECTED_BY_MS = 400.0  # every group has a leader well before this (3-5 ms links)
SETTLE_MS = 3000.0  # a decision's recovery: a time-out (600 ms) and an election or two


def two_groups(nodes: int = 5, seed: int = 1, **kw: Any) -> tuple[Any, StrongMode, str, str]:
    """A world with keys "a" and "b" in two different groups, loaded and with leaders."""
    world = build_world(nodes, seed=seed)
    mode: StrongMode = make_mode("strong", world, **kw)
    keys = [f"k{i}" for i in range(20)]
    for key in keys:
        mode.load(key, f"{key}-init")
    world.env.run(until=ELECTED_BY_MS)
    a = keys[0]
    b = next(k for k in keys if mode.raft.group_for(k) is not mode.raft.group_for(a))
    return world, mode, a, b


def commit(
    world: Any, mode: StrongMode, home: int, txn: str, writes: tuple, within_ms: float
) -> WriteResult | None:
    """Run a transaction from `home`; its answer after `within_ms` (None if none yet)."""
    box = call(world.env, lambda r: mode.commit(home, txn, writes, r))
    world.env.run(until=world.env.now + within_ms)
    return box[0] if box else None


def replicas(mode: StrongMode) -> list[Replica]:
    return [r for g in mode.raft.groups for r in g.replicas.values()]


def intents_left(mode: StrongMode) -> dict[int, dict[str, str]]:
    """Intents still held, by node, over every live replica."""
    return {r.node: dict(r.sm.intents) for r in replicas(mode) if not r.down and r.sm.intents}


def replay(replica: Replica, upto: int) -> StateMachine:
    """A state machine rebuilt from `replica`'s log up to index `upto`."""
    sm = StateMachine()
    for index in range(1, upto + 1):
        command = replica.log[index].command
        if command is not None:
            sm.apply(index, command)
    return sm


def held_everywhere(mode: StrongMode, key: str) -> set[Any]:
    """The values every live member of `key`'s group holds for it."""
    group = mode.raft.group_for(key)
    return {r.sm.data[key][0] for r in group.live()}


def test_strong_mode_declares_atomic_commit() -> None:
    _, mode, _, _ = two_groups()
    assert MODE.atomic_commit and callable(mode.commit)
    assert "commit" in AtomicCommit.__dict__  # the method it implements
    stats = mode.stats()
    assert {name for name in stats if name.startswith(("txn_", "intent_"))} <= set(MODE.counters)


def test_a_transaction_commits_across_two_groups() -> None:
    world, mode, a, b = two_groups()
    home = 4
    writes = (TxnWrite(a, "A1"), TxnWrite(b, "B1"))
    answer = commit(world, mode, home, "t1", writes, 200.0)
    assert answer.status is Status.OK
    coordinator = mode.raft.group_for(a)
    decide = coordinator.replicas[coordinator.leader()].log[answer.version].command
    assert (decide.op, decide.txn) == (DECIDE, "t1")  # the version: the decision's index
    assert held_everywhere(mode, a) == {"A1"}
    assert held_everywhere(mode, b) == {"B1"}
    assert intents_left(mode) == {}
    stats = mode.stats()
    assert (stats["txn_started"], stats["txn_committed"], stats["txn_aborted"]) == (1, 1, 0)


def test_a_stale_version_aborts_both_keys() -> None:
    world, mode, a, b = two_groups()
    fresh = commit(world, mode, 0, "t1", (TxnWrite(a, "A1"), TxnWrite(b, "B1")), 200.0)
    assert fresh.status is Status.OK
    # b's version is still 0 (the load) in the client's eyes: stale.
    stale = (TxnWrite(a, "A2"), TxnWrite(b, "B2", context=0, conditional=True))
    answer = commit(world, mode, 1, "t2", stale, 200.0)
    assert answer.status is Status.CONFLICT and answer.error == b
    assert held_everywhere(mode, a) == {"A1"} and held_everywhere(mode, b) == {"B1"}
    assert intents_left(mode) == {}
    stats = mode.stats()
    assert (stats["txn_committed"], stats["txn_aborted"], stats["txn_conflicts"]) == (1, 1, 1)


def test_a_conditional_transaction_on_current_versions_commits() -> None:
    world, mode, a, b = two_groups()
    ga, gb = mode.raft.group_for(a), mode.raft.group_for(b)
    va = ga.replicas[ga.leader()].sm.version(a)
    vb = gb.replicas[gb.leader()].sm.version(b)
    writes = (TxnWrite(a, "A1", va, True), TxnWrite(b, "B1", vb, True))
    assert commit(world, mode, 2, "t1", writes, 200.0).status is Status.OK
    assert held_everywhere(mode, b) == {"B1"}


def test_retries_of_one_transaction_apply_once() -> None:
    world, mode, a, b = two_groups()
    writes = (TxnWrite(a, "A1"), TxnWrite(b, "B1"))
    first = commit(world, mode, 0, "t1", writes, 200.0)
    assert first.status is Status.OK
    later = call(world.env, lambda r: mode.write(0, b, "B-later", None, False, r))
    world.env.run(until=world.env.now + 100.0)
    assert later[0].status is Status.OK
    # The same transaction again (a client retry), from another home node: the
    # decision is logged, so it is answered, and nothing is written twice.
    again = commit(world, mode, 3, "t1", writes, 200.0)
    assert again == first
    assert held_everywhere(mode, b) == {"B-later"}
    assert mode.stats()["txn_committed"] == 1


def test_a_second_call_while_running_takes_over_the_answer() -> None:
    world, mode, a, b = two_groups()
    writes = (TxnWrite(a, "A1"), TxnWrite(b, "B1"))
    first = call(world.env, lambda r: mode.commit(0, "t1", writes, r))
    second = call(world.env, lambda r: mode.commit(0, "t1", writes, r))
    world.env.run(until=world.env.now + 200.0)
    assert first == [] and second[0].status is Status.OK
    assert mode.stats()["txn_started"] == 1


def test_reads_and_writes_wait_for_an_intent_and_never_see_half() -> None:
    """While the decision cannot be logged (the coordinator group is cut off), b holds an
    intent: a read of b and a write of b wait; once the decision is logged both proceed."""
    world, mode, a, b = two_groups()
    coordinator = mode.raft.group_for(a)
    home = next(n for n in range(5) if n not in coordinator.members)
    # Once b holds its intent, cut the home node off from the coordinator
    # group's leader: the decision waits, and so does the intent.
    box = call(
        world.env, lambda r: mode.commit(home, "t1", (TxnWrite(a, "A1"), TxnWrite(b, "B1")), r)
    )
    gb = mode.raft.group_for(b)
    while not any(r.sm.txns.get("t1") == PREPARED for r in gb.replicas.values()):
        world.env.step()
    leader = coordinator.leader()

    def cut(src: int, dst: int) -> bool:
        return {src, dst} == {home, leader}

    world.links.add_cut(cut)
    reader = next(n for n in range(5) if n != home)
    read = call(world.env, lambda r: mode.read(reader, b, r))
    write = call(world.env, lambda r: mode.write(reader, b, "B-after", None, False, r))
    world.env.run(until=world.env.now + 100.0)
    assert read == [] and write == [] and box == []  # all waiting
    assert mode.stats()["intent_waits"] >= 2
    world.links.remove_cut(cut)
    world.env.run(until=world.env.now + 1500.0)
    assert box[0].status is Status.OK
    assert read[0].siblings == ("B1",)  # after the transaction, never before it
    assert write[0].status is Status.OK
    assert held_everywhere(mode, b) == {"B-after"}
    assert mode.stats()["intent_blocked_ms"] >= 200.0


@pytest.mark.parametrize("home_crashes", [True, False], ids=["home-is-leader", "home-apart"])
def test_a_coordinator_leader_crash_between_prepare_and_decision_resolves(
    home_crashes: bool,
) -> None:
    world, mode, a, b = two_groups()
    coordinator = mode.raft.group_for(a)
    victim = coordinator.leader()
    home = victim if home_crashes else next(n for n in range(5) if n != victim)
    box = call(
        world.env, lambda r: mode.commit(home, "t1", (TxnWrite(a, "A1"), TxnWrite(b, "B1")), r)
    )
    parts = [mode.raft.group_for(a), mode.raft.group_for(b)]
    while not all(g.replicas[g.leader()].sm.txns.get("t1") == PREPARED for g in parts):
        world.env.step()
    assert not any(r.sm.decisions for r in coordinator.replicas.values())
    world.links.set_down(victim, True)
    mode.crash(victim)
    world.env.run(until=world.env.now + SETTLE_MS)
    world.links.set_down(victim, False)
    mode.restart(victim)
    world.env.run(until=world.env.now + SETTLE_MS)
    assert intents_left(mode) == {}
    decisions = {r.node: r.sm.decisions.get("t1") for r in coordinator.replicas.values()}
    assert len({d.status for d in decisions.values()}) == 1, decisions
    committed = decisions[victim].status is Status.OK
    expected = ("A1", "B1") if committed else (f"{a}-init", f"{b}-init")
    assert (held_everywhere(mode, a), held_everywhere(mode, b)) == (
        {expected[0]},
        {expected[1]},
    )
    if home_crashes:
        # The coordinator died with the leader: a participant's recovery aborted it.
        assert box == [] and not committed and mode.stats()["txn_recoveries"] >= 1
    else:
        assert box[0] == WriteResult(Status.OK, box[0].version) and committed


def test_a_participant_crash_with_durable_logs_keeps_its_intents() -> None:
    world, mode, a, b = two_groups()
    gb = mode.raft.group_for(b)
    victim = gb.leader()
    home = next(n for n in range(5) if n != victim)
    box = call(
        world.env, lambda r: mode.commit(home, "t1", (TxnWrite(a, "A1"), TxnWrite(b, "B1")), r)
    )
    r = gb.replicas[victim]
    while r.sm.txns.get("t1") != PREPARED:
        world.env.step()
    held = (dict(r.sm.intents), dict(r.sm.txns), r.commit_index)
    world.links.set_down(victim, True)
    mode.crash(victim)
    # The durable log rebuilds the same intents as the state machine held.
    rebuilt = replay(r, held[2])
    assert (rebuilt.intents, rebuilt.txns) == held[:2] == ({b: "t1"}, {"t1": PREPARED})
    world.env.run(until=world.env.now + 1000.0)
    assert box[0].status is Status.OK  # the other members finish it
    world.links.set_down(victim, False)
    mode.restart(victim)
    world.env.run(until=world.env.now + 1000.0)
    assert r.sm.txns["t1"] == COMMITTED and r.sm.data[b][0] == "B1"
    assert intents_left(mode) == {}
    for g in mode.raft.groups:
        for member in g.live():
            again = replay(member, member.last_applied)
            assert (again.intents, again.txns, again.data) == (
                member.sm.intents,
                member.sm.txns,
                member.sm.data,
            )


def test_a_late_prepare_after_an_abort_is_refused() -> None:
    """FINISH abort is recorded even where nothing was prepared, so a PREPARE that
    arrives late (a proxy retry) cannot take intents for a transaction already over."""
    sm = StateMachine()
    sm.apply(1, TxnCommand(FINISH, "k", "t1", 7, (TxnWrite("k", "v"),), commit=False))
    late = sm.apply(2, TxnCommand(PREPARE, "k", "t1", 8, (TxnWrite("k", "v"),), "k"))
    assert late.status is Status.FAIL and sm.intents == {}


def test_the_first_decision_logged_wins() -> None:
    sm = StateMachine()
    abort = WriteResult(Status.FAIL, None, "recovered-abort")
    first = sm.apply(5, TxnCommand(DECIDE, "k", "t1", 1, result=abort))
    second = sm.apply(6, TxnCommand(DECIDE, "k", "t1", 2, result=WriteResult(Status.OK)))
    assert first == second == abort
    assert sm.apply(7, TxnCommand(DECIDE, "k", "t2", 3, result=WriteResult(Status.OK))) == (
        WriteResult(Status.OK, 7)
    )


def test_a_write_that_an_intent_reached_first_gets_conflict() -> None:
    sm = StateMachine()
    sm.apply(1, TxnCommand(PREPARE, "k", "t1", 1, (TxnWrite("k", "v"),), "k"))
    refused = sm.apply(2, Command(WRITE, "k", 2, "w"))
    assert refused.status is Status.CONFLICT and refused.error == "intent"
    other = sm.apply(3, TxnCommand(PREPARE, "k", "t2", 3, (TxnWrite("k", "u"),), "k"))
    assert other == WriteResult(Status.CONFLICT, None, "k") and sm.intent_conflicts == 2


# ---------------------------------------------------------------------- the property


def test_no_transaction_is_ever_half_visible() -> None:
    """Atomic visibility under generated faults of every kind (durable logs).

    Transactions over two keys (in two groups when the cluster has them) run
    every few ms from every node, some conditional on versions a reader saw
    (so some conflict), while readers read one key and then the other. At
    many sampled instants: every transaction whose commit is logged is, in
    each of its groups, either finished or still holding its intents in every
    leader that could serve a read (so a read waits for it), and no group
    finished one as committed whose decision was abort. After the run: no
    intent is left, every transaction is decided, and no reader that saw a
    transaction on one key then saw the other key before it.
    Coverage: commits and aborts decided while a fault was active, and
    commits during each fault kind. Logs are durable: two-phase commit over
    Raft groups without them promises nothing more than Raft does, that lost
    entries are counted (tests/modes/test_raft.py, test_strong_volatile.py).
    """
    seen: Counter[str] = Counter()
    covered = FaultCoverage(("strong",), EVERY_FAULT)

    def holds(case: tuple[int, int, tuple[Fault, ...]]) -> None:
        seen.update(visibility_example(*case, covered))

    each_kind(EVERY_FAULT, per_kind(0.25, floor=10), txn_cases, holds)  # ~70 ms an example
    assert seen["commit under faults"] > 0 and seen["abort under faults"] > 0, dict(seen)
    assert seen["reads that waited"] > 0 and seen["read pairs checked"] > 0, dict(seen)
    covered.assert_reached()


def serving(group: RaftGroup) -> list[Replica]:
    """Leaders that could answer a read now: their no-op committed, and no majority of the
    group past their term (a read needs a heartbeat round acknowledged in that term)."""
    out = []
    for r in group.live():
        if r.role is Role.LEADER and r.commit_index >= r.noop_index:
            behind = sum(1 for m in group.replicas.values() if m.term <= r.term)
            if behind >= group.majority:
                out.append(r)
    return out


def jittery_world(nodes: int, seed: int) -> World:
    """build_world with exponential latency (mean 3 ms): a transaction's FINISHes reach
    their groups at different times, which is when a half-visible transaction would show."""
    world = build_world(nodes, seed=seed)
    config = NetworkConfig(latency=Exponential(3.0))
    rng = np.random.default_rng(seed)
    return dataclasses.replace(
        world, network=Network(world.env, config, rng, world.links, message_kinds())
    )


HORIZON_MS = 2000.0
"""How long transactions and reads arrive; faults fall inside it."""


def txn_cases(featured: str) -> st.SearchStrategy[tuple[int, int, tuple[Fault, ...]]]:
    """(nodes, seed, fault schedule): 3-5 nodes, the schedule's first fault of kind `featured`."""
    return st.integers(3, 5).flatmap(
        lambda nodes: st.tuples(
            st.just(nodes),
            st.integers(0, 2**31 - 1),
            faults(nodes, HORIZON_MS, EVERY_FAULT, featured=featured),
        )
    )


def visibility_example(
    nodes: int, seed: int, specs: tuple[Fault, ...], covered: FaultCoverage
) -> Counter[str]:
    """One example of the property; counts for its coverage.

    A bare World, not a scenario run: the failure is reproduced from the case
    (in Hypothesis' report), not saved for replay.
    """
    note(f"seed={seed} nodes={nodes}")
    world = jittery_world(nodes, seed)
    mode: StrongMode = make_mode("strong", world, replication=3)
    keys = [f"k{i}" for i in range(4)]
    for key in keys:
        mode.load(key, f"{key}-init")
    group = {key: mode.raft.group_for(key) for key in keys}
    horizon = HORIZON_MS
    schedules.ran()
    nemesis = Nemesis(
        world.env, specs, nodes, world.links, world.clocks, History(), horizon,
        on_crash=mode.crash, on_restart=mode.restart,
    )  # fmt: skip
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    writes_of: dict[str, tuple[TxnWrite, ...]] = {}
    versions: dict[str, int] = {}  # the last version a reader saw, per key
    reads: list[tuple[int, str, float, float, int]] = []  # reader, key, invoked, returned, version
    pairs = [(x, y) for x in keys for y in keys if x < y]
    split = [p for p in pairs if group[p[0]] is not group[p[1]]] or pairs
    committed_at: list[float] = []

    def answered(txn: str, result: WriteResult) -> None:
        outcome = "commit" if result.status is Status.OK else "abort"
        counts[f"{outcome}{' under faults' if nemesis.active else ''}"] += 1
        if outcome == "commit":
            committed_at.append(world.env.now)

    def start_txn(i: int) -> None:
        home = rng.randrange(nodes)
        if home in world.links.down:
            return
        x, y = rng.choice(split)
        conditional = rng.random() < 0.5
        txn = f"t{i}"
        writes_of[txn] = tuple(
            TxnWrite(k, txn, versions.get(k, 0), conditional) for k in rng.sample((x, y), 2)
        )
        mode.commit(home, txn, writes_of[txn], lambda r, txn=txn: answered(txn, r))

    def read(reader: int, key: str, then: str | None) -> None:
        """Read `key` from `reader`, then (once answered) `then`."""
        if reader in world.links.down:
            return
        invoked = world.env.now

        def reply(result: Any) -> None:
            if result.status is Status.OK:
                versions[key] = result.version
                reads.append((reader, key, invoked, world.env.now, result.version))
            if then is not None:
                read(reader, then, None)

        mode.read(reader, key, reply)

    for i in range(int(horizon / 15)):
        world.env.call_later(15.0 * i, start_txn, i)
        x, y = rng.choice(split)
        world.env.call_later(15.0 * i + 7.0, read, rng.randrange(nodes), x, y)

    committed: set[str] = set()
    aborted: set[str] = set()
    watched: set[str] = set()  # committed, not yet finished on every member of its groups
    scanned: dict[int, tuple[StateMachine, int]] = {}  # replica -> its decisions already read

    def sample() -> None:
        for g in mode.raft.groups:
            for r in g.replicas.values():
                sm, n = scanned.get(id(r), (None, 0))
                if sm is not r.sm:
                    n = 0  # a new state machine (a crash): read it again
                decisions = list(r.sm.decisions.items())
                for txn, decision in decisions[n:]:
                    if decision.status is Status.OK:
                        if txn not in committed:
                            watched.add(txn)
                        committed.add(txn)
                    else:
                        aborted.add(txn)
                scanned[id(r)] = (r.sm, len(decisions))
        assert not committed & aborted, committed & aborted  # the first decision wins
        leaders = {g.id: serving(g) for g in mode.raft.groups}
        for txn in list(watched):
            done = True
            for w in writes_of[txn]:
                g = group[w.key]
                for leader in leaders[g.id]:
                    # A read confirmed now waits, or sees the transaction.
                    state = leader.sm.txns.get(txn)
                    shown = g.readable(leader, w.key)
                    assert state in (PREPARED, COMMITTED) and (
                        shown is None or state == COMMITTED
                    ), (
                        f"{txn} committed but a read of {w.key} at {leader.node} answers "
                        f"{shown} ({txn} {state} there) at t={world.env.now}"
                    )
                done = done and all(r.sm.txns.get(txn) == COMMITTED for r in g.replicas.values())
            if done:
                watched.discard(txn)
        if world.env.now < horizon + SETTLE_MS:
            world.env.call_later(2.0, sample)

    world.env.call_later(0.0, sample)
    world.env.run(until=horizon + SETTLE_MS + 1.0)

    # Nothing left prepared: each transaction is decided, or was refused and
    # holds nothing anywhere (its coordinator died before deciding).
    assert intents_left(mode) == {}, intents_left(mode)
    assert not any(r.sm.prepared for r in replicas(mode) if not r.down)
    # Each committed transaction's version on each key: the index of its FINISH there.
    finished_at: dict[tuple[str, str], int] = {}
    for g in mode.raft.groups:
        log = max(g.live(), key=lambda r: r.log.last_index).log
        for index in range(1, log.last_index + 1):
            command = log[index].command
            if isinstance(command, TxnCommand) and command.op == FINISH and command.commit:
                for w in command.writes:
                    finished_at.setdefault((command.txn, w.key), index)
    by_reader: dict[int, list[tuple[str, float, float, int]]] = {}
    for reader, key, invoked, returned, version in reads:
        by_reader.setdefault(reader, []).append((key, invoked, returned, version))
    for reader, ops in by_reader.items():
        for i, (key, _, returned, version) in enumerate(ops):
            txn = writes_of_version(finished_at, key, version)
            if txn is None:
                continue
            for other in writes_of[txn]:
                for key2, invoked2, _, version2 in ops[i + 1 :]:
                    if key2 == other.key and invoked2 >= returned:
                        counts["read pairs checked"] += 1
                        assert version2 >= finished_at[(txn, key2)], (
                            f"reader {reader} saw {txn} on {key} then {key2} before it"
                        )
    counts["reads that waited"] += mode.stats()["intent_waits"] > 0
    covered.add_times("strong", specs, True, committed_at, horizon)
    event(f"groups: {len(mode.raft.groups)}")
    return counts


def writes_of_version(
    finished_at: dict[tuple[str, str], int], key: str, version: int
) -> str | None:
    """The transaction whose FINISH on `key` gave it `version` (None: a load or another write)."""
    for (txn, k), index in finished_at.items():
        if k == key and index == version:
            return txn
    return None
