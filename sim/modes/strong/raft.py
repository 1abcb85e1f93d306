"""One Raft consensus group, message-driven: election, replication, commit, ReadIndex, check-quorum.

A `RaftGroup` holds the replicas of one group (one `Replica` per member node)
and reacts to messages and timer ticks; it never waits, so it needs no SimPy
process. What it implements, with the rule each part follows:

- Election (§5.2): followers that hear nothing from a leader for a randomised
  timeout, drawn from `election_timeout_ms` with the run's "raft" stream, first
  ask a pre-vote (thesis §9.6) and, granted by a majority, raise their term and
  ask for votes. A vote goes to at most one candidate per term, and only to a
  candidate whose log is at least as up-to-date (§5.4.1).
- Replication (§5.3): the leader sends each follower the entries from its
  `next_index`; the follower's consistency check on (prev_index, prev_term)
  fails until the leader has backed off to where the logs agree, and the
  follower then deletes conflicting entries and appends the leader's.
- Commit (§5.4.2): the leader commits an index once a majority stores it and
  its entry is from the leader's current term; a new leader appends a no-op
  so that it can commit (and learn what is committed) at once (§8).
- Check-quorum (thesis §6.2): a leader that has not heard from a majority for
  an election timeout steps down, so a leader cut off in a minority stops
  serving instead of waiting forever.
- Reads (§8, thesis §6.4, ReadIndex): the leader serves a read once its no-op
  is committed, a majority acknowledged a heartbeat round sent after the read
  arrived (it was still the leader), and it has applied up to its commit
  index. Reads are not logged.
- Client requests: only the leader takes them; a follower answers with its
  leader hint. The leader acknowledges a request (`Accepted`) and answers
  (`Answer`) once it applied the entry; a request already applied is answered
  from the state machine's table (each request applies once, §8).
- Intents (txn.py): a confirmed read, or a write not yet proposed, whose key
  holds a transaction's intent waits at the leader (parked by key) until the
  transaction is finished there; the leader asks the coordinator group about
  a transaction prepared for too long (presumed abort).

- Quiescence (CockroachDB's quiesced ranges): an idle group sends nothing.
  A leader with nothing in flight (no request waiting, no prepared
  transaction; every entry committed and applied; every follower's match
  index at its last index) sends, in place of a heartbeat round, a `Quiesce`
  naming its last entry and its boot. A follower whose log ends exactly
  there takes the commit index, stops its election timer and answers
  `Quiesced`; once every follower has (to any Quiesce round since the last
  news) and no read waits, the leader stops its heartbeat timer. Any new
  work wakes the group: a proposal (its AppendEntries wakes the followers),
  a request that reaches a follower (it wakes and tells its leader with
  `Wake`, as CockroachDB's follower proposes an empty command), a
  (pre-)vote (the leader answers with a heartbeat round at once), or a
  leader change. A read on an idle group
  needs a heartbeat round for its ReadIndex: that round is a Quiesce, whose
  acknowledgements confirm the leadership like any round's, so the group
  serves the read and stays quiet. Quiescing changes no rule of Raft: terms,
  votes, logs and commit are untouched and a quiesced leader still needs a
  majority's acknowledgement of a round sent after a read arrived, or of an
  entry, before it answers; only the timers stop.
- Node liveness (`Liveness`): a quiesced follower's election timer is off,
  so it learns that its leader's node crashed or was cut off from one
  coalesced `NodeHeartbeat` per node pair every `liveness_ms` (sent only
  between nodes that share a quiesced group, leader to follower, whatever
  the number of groups they share). A follower that has heard nothing from
  its leader's node for two periods, or hears that the node rebooted (a
  newer boot number), wakes those groups and campaigns (pre-vote). A
  quiesced follower refuses a pre-vote while its leader's node is live (the
  pre-vote rule of thesis §9.6, with liveness standing in for the heartbeats
  it no longer receives) and wakes its leader; it grants it, once awake, by
  the usual rule when the leader's node is not live.

Timers are `call_later` ticks carrying the replica's generation number: a crash
or a change of role bumps it and the stale ticks drop themselves. An election
tick that finds its deadline moved (a heartbeat arrived meanwhile) re-arms for
the new deadline, so a heartbeat costs no heap entry.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import IntEnum
from typing import Any

import numpy as np

from sim.engine.kernel import Engine
from sim.engine.network import Network
from sim.errors import InvariantError
from sim.modes.base import ReadResult
from sim.modes.strong.liveness import Liveness
from sim.modes.strong.log import FINISH, WRITE, Command, Entry, RaftLog, TxnCommand
from sim.modes.strong.machine import StateMachine
from sim.modes.strong.messages import (
    Accepted,
    Answer,
    AppendEntries,
    AppendReply,
    Forward,
    Quiesce,
    Quiesced,
    ReadCommand,
    Redirect,
    RequestVote,
    Vote,
    Wake,
)

MAX_ENTRIES = 64
"""At most this many entries per AppendEntries (a follower far behind catches up in batches)."""

_NEVER = float("-inf")
_ALWAYS = 1 << 62


class Role(IntEnum):
    """A replica's role in its group (§5.1)."""

    FOLLOWER = 0
    CANDIDATE = 1
    LEADER = 2


class RaftStats:
    """Counters over every group of a run (mutable; `as_dict` snapshots them)."""

    __slots__ = (
        "answers",
        "elections",
        "intent_blocked_ms",
        "intent_waits",
        "leader_changes",
        "liveness_suspicions",
        "prevotes",
        "proposals",
        "quiesces",
        "reads",
        "redirects",
        "split_brains",
        "step_downs",
        "wakes",
    )

    def __init__(self) -> None:
        self.prevotes = 0  # pre-vote rounds started (election timeouts)
        self.elections = 0  # real elections: terms raised after a granted pre-vote
        self.leader_changes = 0  # times some replica became leader
        self.step_downs = 0  # leaders that stepped down by check-quorum
        self.redirects = 0  # requests a non-leader turned away with its hint
        self.proposals = 0  # entries appended for client requests
        self.reads = 0  # ReadIndex reads taken by a leader
        self.answers = 0  # answers sent by leaders
        self.split_brains = 0  # two leaders met in one term (only possible if not durable)
        self.intent_waits = 0  # reads and writes a leader held back behind an intent
        self.intent_blocked_ms = 0.0  # the time they waited, summed
        self.quiesces = 0  # times a leader quiesced its group (every follower acknowledged)
        self.wakes = 0  # times a quiesced leader resumed heartbeats
        self.liveness_suspicions = 0  # quiesced followers woken: their leader's node went silent

    def as_dict(self) -> dict[str, float]:
        """The counters by name."""
        return {name: getattr(self, name) for name in sorted(self.__slots__)}


class RaftContext:
    """What every group of a run shares: clock, network, timing, random stream, counters, hooks.

    Args:
        env: the SimPy environment.
        network: where Raft messages go.
        wall_clock: `wall_clock(node)`, the node's clock (stamped into lock entries).
        election_timeout_ms: [low, high] of the randomised election timeout.
        heartbeat_ms: the leader's heartbeat period.
        rng: the run's "raft" stream (election timeouts).
        durable: whether term, vote and log survive a crash.
        respond: `respond(src, origin, msg)` delivers a client answer to the home node.
        touched: `touched(key)` is called when a replica applies a change to `key`.
        txn_timeout_ms: a leader asks the coordinator group about a transaction
            prepared here for this long without a decision.
        resolve: `resolve(node, prepare)`: the leader on `node` asks the coordinator
            group for the decision on `prepare`'s transaction, and finishes it.
        quiesce: whether idle groups quiesce (stop heartbeats and election timers).
        liveness_ms: the period of the per-node-pair liveness heartbeat that
            quiesced followers watch their leader's node with.
    """

    BUFFER = 1024

    def __init__(
        self,
        env: Engine,
        network: Network,
        wall_clock: Callable[[int], float],
        election_timeout_ms: tuple[float, float],
        heartbeat_ms: float,
        rng: np.random.Generator,
        durable: bool,
        respond: Callable[[int, int, Any], None],
        touched: Callable[[str], None],
        txn_timeout_ms: float,
        resolve: Callable[[int, TxnCommand], None],
        quiesce: bool = True,
        liveness_ms: float = 500.0,
    ) -> None:
        self.env = env
        self.net = network
        self.wall_clock = wall_clock
        self.election_low, self.election_high = (float(t) for t in election_timeout_ms)
        self.heartbeat_ms = heartbeat_ms
        self.durable = durable
        self.respond = respond
        self.touched = touched
        self.txn_timeout_ms = txn_timeout_ms
        self.resolve = resolve
        self.stats = RaftStats()
        self.quiesce = quiesce
        self.liveness = Liveness(env, network, liveness_ms)
        self._rng = rng
        self._draws: list[float] = []

    def election_timeout(self) -> float:
        """A fresh randomised election timeout (§5.2), drawn in batches from the raft stream."""
        if not self._draws:
            draws = self._rng.uniform(self.election_low, self.election_high, self.BUFFER)
            self._draws = draws.tolist()[::-1]
        return self._draws.pop()


class _PendingRead:
    """A read waiting at the leader: for a heartbeat round `seq` and its read index."""

    __slots__ = ("index", "key", "origin", "req", "seq")

    def __init__(self, seq: int, origin: int, req: int, key: str) -> None:
        self.seq = seq
        self.index: int | None = None  # set once the leader's no-op is committed
        self.origin = origin
        self.req = req
        self.key = key


class Replica:
    """One member's state in one group: Figure 2 of the Raft paper, plus timers and requests."""

    __slots__ = (
        "acked_seq",
        "ballot",
        "commit_index",
        "down",
        "election_armed",
        "election_deadline",
        "gen",
        "hb_armed",
        "last_ack",
        "last_applied",
        "last_leader_contact",
        "leader_id",
        "leader_since",
        "log",
        "match_index",
        "next_index",
        "node",
        "noop_index",
        "parked",
        "pending",
        "pending_req",
        "prevoting",
        "quiesce_acks",
        "quiesce_seq",
        "quiet",
        "quiet_seq",
        "read_round_armed",
        "reads",
        "role",
        "sent_upto",
        "seq",
        "sm",
        "term",
        "txn_seen",
        "voted_for",
        "votes",
    )

    def __init__(self, node: int) -> None:
        self.node = node
        # persistent state (durable): current term, vote, log
        self.term = 0
        self.voted_for: int | None = None
        self.log = RaftLog()
        self.down = False
        self.gen = 0
        self.forget_volatile()

    def forget_volatile(self) -> None:
        """Drop everything a crash loses: commit index, state machine, role, timers, requests."""
        self.commit_index = 0
        self.last_applied = 0
        self.sm = StateMachine()
        self.role = Role.FOLLOWER
        self.leader_id: int | None = None
        self.gen += 1  # stale timer ticks drop themselves
        self.election_armed = False
        self.election_deadline = 0.0
        self.last_leader_contact = _NEVER
        self.prevoting = False
        self.votes: set[int] = set()
        self.ballot = 0  # numbers (pre-)vote rounds, so a superseded round stops resending
        # Quiescence: a quiet leader sends no heartbeats, a quiet follower runs no
        # election timer. quiet_seq: the leader's round a quiet follower obeyed
        # (AppendEntries of that round or older, reordered, do not wake it).
        self.quiet = False
        self.quiet_seq = 0
        self.forget_leadership()

    def forget_leadership(self) -> None:
        """Drop the leader-only state (next/match indices, pending requests and reads)."""
        self.next_index: dict[int, int] = {}
        self.match_index: dict[int, int] = {}
        self.sent_upto: dict[int, int] = {}
        self.last_ack: dict[int, float] = {}
        self.acked_seq: dict[int, int] = {}
        self.seq = 0
        self.hb_armed = False  # a heartbeat tick is scheduled for this leadership
        self.quiesce_seq = 0  # the first Quiesce round since the last news (0: none)
        self.quiesce_acks: set[int] = set()  # followers that obeyed one of those rounds
        self.leader_since = 0.0
        self.noop_index = 0
        self.pending: dict[int, tuple[int, int]] = {}  # log index -> (origin node, request)
        self.pending_req: dict[int, int] = {}  # request -> log index
        self.reads: deque[_PendingRead] = deque()
        self.read_round_armed = False
        # Requests waiting for a transaction's intent on their key: key ->
        # request -> (since, the confirmed read or the (origin, Forward) write).
        self.parked: dict[str, dict[int, tuple[float, Any]]] = {}
        self.txn_seen: dict[str, float] = {}  # prepared transaction -> since when (or last asked)


class RaftGroup:
    """The replicas of one consensus group and the protocol between them.

    Args:
        gid: the group's id (messages carry it).
        members: the member nodes, sorted.
        ctx: what the groups of a run share.
        down: nodes crashed right now (their replicas start down).
    """

    def __init__(
        self, gid: int, members: tuple[int, ...], ctx: RaftContext, down: set[int]
    ) -> None:
        self.id = gid
        self.members = members
        self.ctx = ctx
        self.env = ctx.env
        self.majority = len(members) // 2 + 1
        self.replicas: dict[int, Replica] = {n: Replica(n) for n in members}
        self.peers: dict[int, tuple[int, ...]] = {
            n: tuple(m for m in members if m != n) for n in members
        }
        self.keys: dict[str, None] = {}
        self.first = members[0]  # the member that campaigned first (a proxy's first guess)
        self.elected: list[tuple[int, int]] = []  # (term, node) each time a leader is elected
        # Every entry some member applied, by index (the sentinel at 0), and the
        # others applied at an index already taken (two different entries
        # applied at one index: only without durable logs). The ground truth
        # that lost_committed() compares the logs with at the end.
        self.applied: list[Entry | None] = [None]
        self.displaced: list[tuple[int, Entry]] = []
        self._displaced_ids: set[tuple[int, int]] = set()  # (index, id(entry)): kept alive above
        for node in members:
            if node in down:
                self.replicas[node].down = True

    def start(self, first: int) -> None:
        """Arm every live member's election timer; `first` stands for election at once.

        A new group has never had a leader, so the bootstrap campaign skips the
        pre-vote (there is no leader to protect) and the group elects in one
        round trip instead of waiting out a timeout. The others time out as
        usual in case `first` cannot win. The campaign runs on the next tick,
        after the initial data of the same instant is loaded.
        """
        self.first = first
        for node, r in self.replicas.items():
            if r.down:
                continue
            if node == first:
                self.env.call_later(0.0, self._bootstrap, r, r.gen)
            else:
                self._arm_election(r, self.ctx.election_timeout())

    def _bootstrap(self, r: Replica, gen: int) -> None:
        if gen == r.gen and r.term == 0 and r.role is Role.FOLLOWER:
            self._start_election(r)

    # ------------------------------------------------------------------ observation

    def leader(self) -> int | None:
        """The live replica that is leader in the highest term, if any (for tests and stats)."""
        best = None
        for r in self.replicas.values():
            if not r.down and r.role is Role.LEADER and (best is None or r.term > best.term):
                best = r
        return None if best is None else best.node

    def live(self) -> list[Replica]:
        """The replicas of nodes that are up, in node order."""
        return [r for r in self.replicas.values() if not r.down]

    def lost_committed(self) -> int:
        """Committed commands the members' logs no longer keep at their index.

        An entry counts as committed once some member applied it (a member
        applies only what a leader said is committed; loads are committed).
        It survives if more members hold it at its index than hold any other
        entry there; it is lost if none holds it (cut short, or a volatile
        member restarted empty) or a rival entry is held more widely (the logs
        diverged silently: a restarted member reused a term, so entries of
        equal index and term differ and the consistency check cannot tell; a
        tie loses both). A crashed member's log counts only if durable (a
        volatile one is empty), so with durable logs nothing is ever lost
        (State Machine Safety, §5.4.3). A leader's no-op carries no data and is
        not counted. Linear in the applied entries: called after a run.
        """
        logs = [r.log.entries for r in self.replicas.values()]

        def survives(index: int, entry: Entry) -> bool:
            mine = 0
            rivals: dict[int, int] = {}
            for log in logs:
                if index < len(log):
                    held = log[index]
                    if held is entry:
                        mine += 1
                    else:
                        rivals[id(held)] = rivals.get(id(held), 0) + 1
            return mine > max(rivals.values(), default=0)

        applied = [(i, e) for i, e in enumerate(self.applied) if e is not None]
        return sum(
            1
            for index, entry in applied + self.displaced
            if entry.command is not None and not survives(index, entry)
        )

    def _applied_elsewhere(self, index: int, entry: Entry) -> None:
        """`entry` was applied at `index`, where the record holds another entry or nothing yet."""
        applied = self.applied
        if index >= len(applied):
            applied.extend([None] * (index + 1 - len(applied)))
        if applied[index] is None:
            applied[index] = entry
        elif (index, id(entry)) not in self._displaced_ids:
            # A second entry applied at one index: the logs diverged (not durable).
            self._displaced_ids.add((index, id(entry)))
            self.displaced.append((index, entry))

    # ------------------------------------------------------------------ initial data

    def load(self, command: Command) -> None:
        """Install an initial value on every member as a committed entry of term 0.

        It is a log entry, so a member that restarts empty (not durable) gets it
        back from the leader like any other entry.

        Raises:
            InvariantError: the group already has entries of a real term.
        """
        entry = Entry(0, command)
        for r in self.replicas.values():
            if r.log.last_term != 0:
                raise InvariantError(f"load of {command.key!r} after group {self.id} started")
            r.log.append(entry)
            r.commit_index = r.log.last_index
            self._apply(r)

    # ------------------------------------------------------------------ faults

    def crash(self, node: int) -> None:
        """The node crashed: volatile state goes; term, vote and log stay only if durable."""
        r = self.replicas[node]
        r.down = True
        r.forget_volatile()
        if not self.ctx.durable:
            r.term = 0
            r.voted_for = None
            r.log = RaftLog()

    def restart(self, node: int) -> None:
        """The node is back: a follower again, with an empty state machine that the log rebuilds."""
        r = self.replicas[node]
        r.down = False
        self._arm_election(r, self.ctx.election_timeout())

    # ------------------------------------------------------------------ timers

    def _arm_election(self, r: Replica, delay: float) -> None:
        r.election_deadline = self.env.now + delay
        if not r.election_armed:
            r.election_armed = True
            self.env.call_later(delay, self._election_tick, r, r.gen)

    def _election_tick(self, r: Replica, gen: int) -> None:
        if gen != r.gen:
            return  # a crash or a change of role since this tick was set
        if r.quiet:
            r.election_armed = False  # quiesced: the timer stops until a wake re-arms it
            return
        now = self.env.now
        if now < r.election_deadline:
            self.env.call_later(r.election_deadline - now, self._election_tick, r, gen)
            return
        r.election_armed = False
        self._campaign(r)

    def _heartbeat_tick(self, r: Replica, gen: int) -> None:
        if gen != r.gen or r.role is not Role.LEADER:
            return
        if r.quiet:
            r.hb_armed = False  # quiesced: the timer stops until a wake re-arms it
            return
        ctx = self.ctx
        now = self.env.now
        # Check-quorum (thesis §6.2): step down without a majority heard from recently.
        window = ctx.election_low
        if now - r.leader_since >= window:
            heard = 1 + sum(1 for p in self.peers[r.node] if now - r.last_ack[p] < window)
            if heard < self.majority:
                ctx.stats.step_downs += 1
                self._become_follower(r, r.term, None)
                return
        if self._can_quiesce(r):
            self._send_quiesce(r)
        else:
            self._broadcast(r)
        if r.sm.prepared:
            self._chase_prepared(r, now)
        self.env.call_later(ctx.heartbeat_ms, self._heartbeat_tick, r, gen)

    def _chase_prepared(self, r: Replica, now: float) -> None:
        """Ask the coordinator group about transactions prepared here too long (presumed abort).

        The clock of a transaction starts when this leader first sees it
        prepared (a new leader starts afresh) and restarts at each question, so
        a coordinator group without a leader is asked again, not flooded.
        """
        seen = r.txn_seen
        prepared = r.sm.prepared
        timeout = self.ctx.txn_timeout_ms
        for txn, prepare in list(prepared.items()):
            since = seen.get(txn)
            if since is None:
                seen[txn] = now
            elif now - since >= timeout:
                seen[txn] = now
                self.ctx.resolve(r.node, prepare)
        if len(seen) > len(prepared):
            for txn in [t for t in seen if t not in prepared]:
                del seen[txn]

    # ------------------------------------------------------------------ quiescence

    def _can_quiesce(self, r: Replica) -> bool:
        """Leader `r` has nothing in flight and every follower holds and knows all of its log.

        CockroachDB's conditions: no pending proposal, everything committed and
        applied, every follower's match index at the last index. Prepared
        transactions and parked requests keep the group awake too (the
        heartbeat chases them). Reads waiting for a round do not prevent a
        Quiesce round, whose acknowledgements confirm them like any heartbeat's;
        the leader goes quiet only once none is left (`on_append_reply`).
        """
        if not self.ctx.quiesce or r.pending or r.parked or r.sm.prepared:
            return False
        last = r.log.last_index
        if r.commit_index != last or r.last_applied != last:
            return False
        match = r.match_index
        return all(match[peer] == last for peer in self.peers[r.node])

    def _send_quiesce(self, r: Replica) -> None:
        """This tick's heartbeat round, as a Quiesce: followers that obey it answer `Quiesced`.

        Successive Quiesce rounds with no news between them ask the same
        thing, so a follower's answer to any of them counts (links slower
        than a heartbeat period still let the group quiesce).
        """
        r.seq += 1
        if not r.quiesce_seq:
            r.quiesce_seq = r.seq  # the first round of this stretch
            r.quiesce_acks = set()
        peers = self.peers[r.node]
        if not peers:
            self._quiet_leader(r)  # a group of one has no one to tell
            return
        last = r.log.last_index
        boot = self.ctx.liveness.boot_of(r.node)
        msg = Quiesce(self.id, r.term, r.node, last, r.log.term_at(last), r.seq, boot)
        send = self.ctx.net.send
        for peer in peers:
            send(r.node, peer, msg)

    def _quiet_leader(self, r: Replica) -> None:
        """Every follower obeyed the Quiesce: stop heartbeating (the next tick ends the timer)."""
        if r.quiet:
            return
        r.quiet = True
        r.quiesce_seq = 0
        self.ctx.stats.quiesces += 1
        self.ctx.liveness.lead(r.node, self.peers[r.node])

    def _quiet_follower(self, r: Replica, msg: Quiesce, last_new: int) -> bool:
        """Obey a Quiesce if the log ends where the leader's does and all of it is committed."""
        if last_new != r.log.last_index or r.commit_index != last_new:
            return False
        if not self.ctx.liveness.follow(r.node, msg.leader, msg.boot, self):
            return False  # sent by an earlier boot of the leader's node: a stale message
        r.quiet = True
        r.quiet_seq = max(r.quiet_seq, msg.seq)
        return True

    def _unquiet(self, r: Replica) -> None:
        """Leave quiescence (the caller restarts the timer the role needs)."""
        r.quiet = False
        if r.role is Role.LEADER:
            self.ctx.liveness.unlead(r.node, self.peers[r.node])
        elif r.leader_id is not None:
            self.ctx.liveness.unfollow(r.node, r.leader_id, self)

    def _wake(self, r: Replica, tell_leader: bool = True) -> None:
        """Leave quiescence: a leader heartbeats again, a follower runs its election timer.

        A follower that wakes on its own (a request, a pre-vote) tells its
        leader (CockroachDB proposes an empty command for it), so that the
        leader's heartbeats resume before the follower's timer runs out.
        """
        self._unquiet(r)
        if r.role is Role.LEADER:
            self.ctx.stats.wakes += 1
            # Check-quorum counts afresh: no acknowledgement was due while quiet.
            r.leader_since = self.env.now
            if not r.hb_armed:
                r.hb_armed = True
                self.env.call_later(self.ctx.heartbeat_ms, self._heartbeat_tick, r, r.gen)
            return
        self._arm_election(r, self.ctx.election_timeout())
        if tell_leader and r.leader_id is not None:
            self.ctx.net.send(r.node, r.leader_id, Wake(self.id, r.term))

    def _wake_for_request(self, r: Replica) -> None:
        """A request reached quiesced follower `r`: wake the leader, or campaign if it is not live.

        (CockroachDB campaigns on waking when node liveness says the leader is
        down, instead of waiting out an election timeout.) A request finds a
        follower mostly when its proxy could not reach the leader, so a live
        leader's silence is not waited out for a whole election timeout either:
        a leader answers a Wake with a heartbeat round at once, and without
        word from it within about a heartbeat period (randomised, so that two
        followers do not campaign together) the follower campaigns. The
        campaign starts with a pre-vote, which disturbs a leader that is alive
        after all no more than the Wake did.
        """
        ctx = self.ctx
        if ctx.liveness.alive(r.node, r.leader_id):  # type: ignore[arg-type]
            self._wake(r)
            delay = ctx.heartbeat_ms + ctx.election_timeout() - ctx.election_low
            self.env.call_later(delay, self._wake_unanswered, r, r.gen, self.env.now)
            return
        ctx.stats.liveness_suspicions += 1
        self._unquiet(r)
        self._campaign(r)

    def _wake_unanswered(self, r: Replica, gen: int, since: float) -> None:
        if gen != r.gen or r.quiet or r.role is not Role.FOLLOWER or r.prevoting:
            return
        if r.last_leader_contact < since:
            self._campaign(r)

    def suspect(self, node: int) -> None:
        """`node` no longer hears its leader's node: its quiesced replica wakes and campaigns.

        The campaign starts after a random part of the election timeout's
        spread, so that the members that suspect on the same liveness tick do
        not split the vote. It begins with a pre-vote, which disturbs nothing
        if the leader is in fact alive.
        """
        r = self.replicas[node]
        if not r.quiet or r.role is Role.LEADER:
            return
        self.ctx.stats.liveness_suspicions += 1
        self._unquiet(r)
        ctx = self.ctx
        self._arm_election(r, ctx.election_timeout() - ctx.election_low)

    def on_wake(self, src: int, dst: int, msg: Wake) -> None:
        """A follower woke: a quiesced leader resumes heartbeats at once."""
        r = self.replicas[dst]
        if r.role is not Role.LEADER or msg.term > r.term:
            return
        r.quiesce_seq = 0  # that follower's answer to a Quiesce no longer holds
        if r.quiet:
            self._broadcast(r)

    # ------------------------------------------------------------------ elections (§5.2)

    def _campaign(self, r: Replica) -> None:
        """Election timeout: ask for pre-votes for term + 1 (thesis §9.6), changing nothing yet."""
        self.ctx.stats.prevotes += 1
        r.leader_id = None
        r.prevoting = True
        r.votes = {r.node}
        self._arm_election(r, self.ctx.election_timeout())
        if len(r.votes) >= self.majority:
            self._start_election(r)
            return
        self._ask_votes(r)

    def _start_election(self, r: Replica) -> None:
        """A majority would vote: become candidate in a new term and ask for votes (§5.2)."""
        self.ctx.stats.elections += 1
        r.prevoting = False
        r.role = Role.CANDIDATE
        r.term += 1
        r.voted_for = r.node
        r.votes = {r.node}
        r.leader_id = None
        self._arm_election(r, self.ctx.election_timeout())
        if len(r.votes) >= self.majority:
            self._become_leader(r)
            return
        self._ask_votes(r)

    def _ask_votes(self, r: Replica) -> None:
        """Send this round's (pre-)vote request to every peer, and resend it until answered."""
        r.ballot += 1
        pre = r.prevoting
        term = r.term + 1 if pre else r.term
        msg = RequestVote(self.id, term, r.node, r.log.last_index, r.log.last_term, pre)
        send = self.ctx.net.send
        for peer in self.peers[r.node]:
            send(r.node, peer, msg)
        self.env.call_later(self.ctx.heartbeat_ms, self._resend_votes, r, r.gen, r.ballot, msg)

    def _resend_votes(self, r: Replica, gen: int, ballot: int, msg: RequestVote) -> None:
        """Servers retry RPCs that get no timely response (§5.1): a lost request or vote would
        otherwise cost a whole election timeout. Vote requests are idempotent."""
        if gen != r.gen or ballot != r.ballot:
            return
        if not (r.prevoting if msg.pre else r.role is Role.CANDIDATE and r.term == msg.term):
            return
        send = self.ctx.net.send
        for peer in self.peers[r.node]:
            if peer not in r.votes:
                send(r.node, peer, msg)
        self.env.call_later(self.ctx.heartbeat_ms, self._resend_votes, r, gen, ballot, msg)

    def on_request_vote(self, src: int, dst: int, msg: RequestVote) -> None:
        """Grant a (pre-)vote to a candidate whose log is at least as up-to-date (§5.4.1)."""
        r = self.replicas[dst]
        sticky = False
        if r.role is Role.LEADER:
            r.quiesce_seq = 0  # the campaigner is awake: its answer to a Quiesce no longer holds
        if r.quiet:
            if r.role is Role.LEADER:
                # A member campaigns: it lost touch. Assert the leadership at once.
                self._broadcast(r)
            else:
                # A quiesced follower hears no heartbeats: its leader's node being
                # live stands in for them. Its own leader campaigning means that
                # node restarted and its leadership is gone.
                sticky = src != r.leader_id and self.ctx.liveness.alive(dst, r.leader_id)
                self._wake(r, tell_leader=sticky)
        up_to_date = r.log.up_to_date(msg.last_index, msg.last_term)
        if msg.pre:
            # A pre-vote changes nothing here. Refused by a leader, and by a
            # follower that heard from its leader within the minimum election
            # timeout: the candidate is the one cut off, not the leader.
            granted = (
                msg.term > r.term
                and up_to_date
                and r.role is not Role.LEADER
                and not sticky
                and self.env.now - r.last_leader_contact >= self.ctx.election_low
            )
            self.ctx.net.send(dst, src, Vote(self.id, r.term, granted, True, msg.term))
            return
        if msg.term > r.term:
            self._become_follower(r, msg.term, None)
        granted = msg.term == r.term and r.voted_for in (None, msg.candidate) and up_to_date
        if granted:
            r.voted_for = msg.candidate
            self._arm_election(r, self.ctx.election_timeout())
        self.ctx.net.send(dst, src, Vote(self.id, r.term, granted, False, msg.term))

    def on_vote(self, src: int, dst: int, msg: Vote) -> None:
        """Count a vote; a majority of pre-votes starts the election, of votes makes a leader."""
        r = self.replicas[dst]
        if msg.term > r.term:
            self._become_follower(r, msg.term, None)
            return
        if not msg.granted:
            return
        if msg.pre:
            if r.prevoting and msg.for_term == r.term + 1 and r.role is not Role.LEADER:
                r.votes.add(src)
                if len(r.votes) >= self.majority:
                    self._start_election(r)
        elif r.role is Role.CANDIDATE and msg.for_term == r.term:
            r.votes.add(src)
            if len(r.votes) >= self.majority:
                self._become_leader(r)

    def _become_leader(self, r: Replica) -> None:
        """Won the election: reset follower indices, append a no-op (§8), start heartbeats."""
        ctx = self.ctx
        now = self.env.now
        r.forget_leadership()
        r.role = Role.LEADER
        r.leader_id = r.node
        r.prevoting = False
        r.gen += 1  # cancels the election timer
        r.election_armed = False
        ctx.stats.leader_changes += 1
        self.elected.append((r.term, r.node))
        last = r.log.last_index
        for peer in self.peers[r.node]:
            r.next_index[peer] = last + 1
            r.match_index[peer] = 0
            r.sent_upto[peer] = last
            r.last_ack[peer] = now
            r.acked_seq[peer] = 0
        r.leader_since = now
        r.noop_index = r.log.append(Entry(r.term, None))
        self._broadcast(r)
        self._advance_commit(r)
        r.hb_armed = True
        self.env.call_later(ctx.heartbeat_ms, self._heartbeat_tick, r, r.gen)

    def _become_follower(self, r: Replica, term: int, leader: int | None) -> None:
        """Adopt `term` (a newer term always wins, §5.1) and follow `leader` if known."""
        if r.quiet:
            # What was quiesced was under the old leadership: timers run again.
            self._unquiet(r)
            if r.role is not Role.LEADER:
                self._arm_election(r, self.ctx.election_timeout())
        if term > r.term:
            r.term = term
            r.voted_for = None
        r.prevoting = False
        was_leader = r.role is Role.LEADER
        r.role = Role.FOLLOWER
        r.leader_id = leader
        if was_leader:
            r.gen += 1  # cancels the heartbeat timer
            r.election_armed = False
            self._abandon_requests(r, leader)
            r.forget_leadership()
            self._arm_election(r, self.ctx.election_timeout())

    def _abandon_requests(self, r: Replica, hint: int | None) -> None:
        """A deposed leader sends its waiting requests back to their home nodes to retry.

        A write it appended may still commit under the next leader; the retry
        carries the same request id, so it is applied once whichever way.
        """
        respond = self.ctx.respond
        for origin, req in r.pending.values():
            respond(r.node, origin, Redirect(req, self.id, hint))
        for read in r.reads:
            respond(r.node, read.origin, Redirect(read.req, self.id, hint))
        now = self.env.now
        stats = self.ctx.stats
        for waiting in r.parked.values():
            for req, (since, item) in waiting.items():
                stats.intent_blocked_ms += now - since
                origin = item.origin if type(item) is _PendingRead else item[0]
                respond(r.node, origin, Redirect(req, self.id, hint))

    # ------------------------------------------------------------------ replication (§5.3)

    def _broadcast(self, r: Replica) -> None:
        """One round of AppendEntries to every follower (entries they lack, or a heartbeat)."""
        if r.quiet:
            self._wake(r)
        r.seq += 1
        r.quiesce_seq = 0  # a round with news ends the stretch of Quiesce rounds
        for peer in self.peers[r.node]:
            self._send_append(r, peer)

    def _send_append(self, r: Replica, peer: int) -> None:
        if r.quiet:
            self._wake(r)  # a follower to catch up: the group has work again
        log = r.log
        nxt = r.next_index[peer]
        prev = nxt - 1
        entries = log.since(nxt, MAX_ENTRIES) if nxt <= log.last_index else ()
        if entries:
            r.sent_upto[peer] = max(r.sent_upto[peer], prev + len(entries))
        msg = AppendEntries(
            self.id, r.term, r.node, prev, log.term_at(prev), entries, r.commit_index, r.seq
        )
        self.ctx.net.send(r.node, peer, msg)

    def on_append(self, src: int, dst: int, msg: AppendEntries) -> None:
        """Follower side of AppendEntries: term check, consistency check, merge, commit (§5.3)."""
        self._follow(src, dst, msg, None)

    def on_quiesce(self, src: int, dst: int, msg: Quiesce) -> None:
        """A heartbeat that asks to quiesce: obeyed only by a follower whose log ends there."""
        heartbeat = AppendEntries(
            self.id, msg.term, msg.leader, msg.index, msg.index_term, (), msg.index, msg.seq
        )
        self._follow(src, dst, heartbeat, msg)

    def _follow(self, src: int, dst: int, msg: AppendEntries, quiesce: Quiesce | None) -> None:
        r = self.replicas[dst]
        net = self.ctx.net
        if msg.term < r.term:
            net.send(dst, src, AppendReply(self.id, r.term, False, 0, msg.seq))
            return
        if r.role is Role.LEADER and msg.term == r.term:
            # Election Safety (§5.2): impossible while votes survive crashes.
            if self.ctx.durable:
                raise InvariantError(
                    f"group {self.id}: two leaders in term {r.term} ({dst}, {src})"
                )
            self.ctx.stats.split_brains += 1
        if msg.term > r.term or r.role is not Role.FOLLOWER:
            self._become_follower(r, msg.term, msg.leader)
        if r.quiet and (msg.leader != r.leader_id or (quiesce is None and msg.seq > r.quiet_seq)):
            # News from the leader (a round sent after the Quiesce): follow it with a
            # timer again. An older round, overtaken by the Quiesce, wakes nothing.
            self._wake(r, tell_leader=False)
        r.leader_id = msg.leader
        r.prevoting = False
        r.last_leader_contact = self.env.now
        if not r.quiet:
            self._arm_election(r, self.ctx.election_timeout())
        log = r.log
        prev = msg.prev_index
        if prev > log.last_index:
            net.send(dst, src, AppendReply(self.id, r.term, False, log.last_index + 1, msg.seq))
            return
        if log.term_at(prev) != msg.prev_term:
            hint = log.first_index_of_term_at(prev)
            net.send(dst, src, AppendReply(self.id, r.term, False, hint, msg.seq))
            return
        last_new, cut = log.merge(prev, msg.entries)
        if cut is not None and cut <= r.commit_index:
            self._truncated_committed(r, cut)
        # commitIndex = min(leaderCommit, index of last new entry) (Figure 2)
        commit = min(msg.commit, last_new)
        if commit > r.commit_index:
            r.commit_index = commit
            self._apply(r)
        if quiesce is not None and self._quiet_follower(r, quiesce, last_new):
            net.send(dst, src, Quiesced(self.id, r.term, msg.seq))
            return
        net.send(dst, src, AppendReply(self.id, r.term, True, last_new, msg.seq))

    def _truncated_committed(self, r: Replica, cut: int) -> None:
        """A committed entry was truncated: impossible with durable logs (Log Matching, §5.4)."""
        if self.ctx.durable:
            raise InvariantError(
                f"group {self.id}: node {r.node} truncated committed entry {cut} "
                f"(commit index {r.commit_index})"
            )
        # Without durable logs Raft's safety does not hold: keep going (the
        # entry may survive elsewhere; lost_committed() counts it if not).
        # The state machine applied entries the log no longer has: rebuild it
        # from the log, as after a restart, so that it never holds their effects.
        r.commit_index = min(r.commit_index, cut - 1)
        r.sm = StateMachine()
        r.last_applied = 0
        self._apply(r)

    def on_append_reply(self, src: int, dst: int, msg: AppendReply) -> None:
        """Leader side: advance match/next on success, back off on failure, then commit (§5.3)."""
        r = self.replicas[dst]
        if msg.term > r.term:
            self._become_follower(r, msg.term, None)
            return
        if r.role is not Role.LEADER or msg.term != r.term:
            return  # a reply to an earlier term's request
        r.last_ack[src] = self.env.now
        if msg.seq > r.acked_seq[src]:
            r.acked_seq[src] = msg.seq
        if msg.success:
            if msg.index > r.match_index[src]:
                r.match_index[src] = msg.index
                self._advance_commit(r)
            if msg.index >= r.next_index[src]:
                r.next_index[src] = msg.index + 1
            if r.sent_upto[src] < r.log.last_index and r.next_index[src] > r.sent_upto[src]:
                self._send_append(r, src)  # the rest of a long catch-up, batch by batch
        else:
            # With durable logs a follower never loses what it matched, so a
            # failure below match_index is a stale reply; without them it may
            # have restarted empty, and the leader must start over lower.
            floor = r.match_index[src] + 1 if self.ctx.durable else 1
            nxt = max(floor, min(msg.index, r.next_index[src] - 1))
            if nxt <= r.match_index[src]:
                r.match_index[src] = nxt - 1
            if nxt != r.next_index[src]:
                r.next_index[src] = nxt
                r.sent_upto[src] = nxt - 1
                self._send_append(r, src)
        if r.reads:
            self._serve_reads(r)

    def on_quiesced(self, src: int, dst: int, msg: Quiesced) -> None:
        """A follower obeyed a Quiesce: a successful reply to that round; quiet once all have.

        Its log ends at the leader's last index, so its match index is already
        there (a Quiesce is sent only then, and any new entry ends the stretch).
        """
        r = self.replicas[dst]
        if r.role is not Role.LEADER or msg.term != r.term:
            return  # from an earlier term (a follower obeys only its term's leader)
        r.last_ack[src] = self.env.now
        if msg.seq > r.acked_seq[src]:
            r.acked_seq[src] = msg.seq
        if r.reads:
            self._serve_reads(r)
        if not r.quiesce_seq or msg.seq < r.quiesce_seq:
            return  # a stretch of Quiesce rounds that news interrupted since
        acks = r.quiesce_acks
        acks.add(src)
        if len(acks) == len(self.peers[r.node]) and not r.reads and self._can_quiesce(r):
            self._quiet_leader(r)

    def _advance_commit(self, r: Replica) -> None:
        """Commit the highest index a majority stores, if it is from the current term (§5.4.2)."""
        matches = [r.log.last_index]
        matches.extend(r.match_index.values())
        matches.sort(reverse=True)
        n = matches[self.majority - 1]
        if n > r.commit_index and r.log.term_at(n) == r.term:
            r.commit_index = n
            self._apply(r)

    def _apply(self, r: Replica) -> None:
        """Apply committed entries in log order; a leader answers the requests they carry."""
        log = r.log
        sm = r.sm
        touched = self.ctx.touched
        leader = r.role is Role.LEADER
        applied = self.applied
        while r.last_applied < r.commit_index:
            index = r.last_applied + 1
            r.last_applied = index
            entry = log[index]
            if index >= len(applied) or applied[index] is not entry:
                self._applied_elsewhere(index, entry)
            command = entry.command
            if command is None:
                continue  # a leader's no-op
            result = sm.apply(index, command)
            if type(command) is TxnCommand:
                if command.op == FINISH and command.commit:
                    for w in command.writes:
                        self.keys[w.key] = None
                        touched(w.key)
            else:
                self.keys[command.key] = None
                touched(command.key)
            if leader:
                waiting = r.pending.pop(index, None)
                if waiting is not None:
                    origin, req = waiting
                    r.pending_req.pop(req, None)
                    self.ctx.stats.answers += 1
                    self.ctx.respond(r.node, origin, Answer(req, result))
        if leader:
            if r.parked:
                self._unpark(r)
            if r.reads:
                self._serve_reads(r)

    # ------------------------------------------------------------------ client requests (§8)

    def on_forward(self, src: int, dst: int, msg: Forward) -> None:
        """A request from a home node: the leader takes it, anyone else redirects."""
        r = self.replicas[dst]
        ctx = self.ctx
        respond = ctx.respond
        if r.role is not Role.LEADER:
            if r.quiet:
                self._wake_for_request(r)
            ctx.stats.redirects += 1
            respond(dst, src, Redirect(msg.req, self.id, r.leader_id))
            return
        op = msg.op
        if isinstance(op, ReadCommand):
            ctx.stats.reads += 1
            r.reads.append(_PendingRead(r.seq + 1, src, msg.req, op.key))
            respond(dst, src, Accepted(msg.req))
            if self.majority == 1:
                self._serve_reads(r)
            elif not r.read_round_armed:
                # One heartbeat round confirms every read arriving at this instant.
                r.read_round_armed = True
                self.env.call_later(0.0, self._read_round, r, r.gen)
            return
        txn = type(op) is TxnCommand
        # applied already (a retry whose answer was lost)? A transaction's step
        # is known by its transaction: a DECIDE is answered from the decision
        # logged, without a new entry.
        done = r.sm.txn_answer(op) if txn else r.sm.results.get(op.req)
        if done is not None:
            ctx.stats.answers += 1
            respond(dst, src, Answer(msg.req, done))
            return
        index = r.pending_req.get(op.req)
        if index is not None:  # in the log, not yet committed: answer the latest asker
            r.pending[index] = (src, msg.req)
            respond(dst, src, Accepted(msg.req))
            return
        respond(dst, src, Accepted(msg.req))
        if txn:
            command: Command | TxnCommand = op
        else:
            if op.op == WRITE and op.key in r.sm.intents:
                # A transaction holds the key: wait for its outcome (else the
                # state machine would refuse the write).
                self._park(r, op.key, msg.req, (src, msg))
                return
            command = Command(
                op.op,
                op.key,
                op.req,
                op.value,
                op.context,
                op.conditional,
                op.owner,
                op.lease_ms,
                ctx.wall_clock(dst),  # the lease clock every replica will use
            )
        index = r.log.append(Entry(r.term, command))
        r.pending[index] = (src, msg.req)
        r.pending_req[op.req] = index
        ctx.stats.proposals += 1
        self._broadcast(r)
        self._advance_commit(r)  # a group of one commits at once

    def _read_round(self, r: Replica, gen: int) -> None:
        if gen != r.gen or r.role is not Role.LEADER:
            return
        r.read_round_armed = False
        if r.reads and r.reads[-1].seq > r.seq:
            # A Quiesce is a heartbeat round too: on an idle group it confirms the
            # reads and leaves (or puts) the group quiet, with no round of its own.
            if r.quiet:
                self._wake(r)  # heartbeats retry the round and check-quorum runs till it is done
            if self._can_quiesce(r):
                self._send_quiesce(r)
            else:
                self._broadcast(r)

    def _confirmed_seq(self, r: Replica) -> int:
        """The latest round a majority (the leader included) has acknowledged in this term."""
        need = self.majority - 1
        if need == 0:
            return _ALWAYS  # a group of one needs no confirmation
        acked = sorted(r.acked_seq.values(), reverse=True)
        return acked[need - 1]

    def _serve_reads(self, r: Replica) -> None:
        """Answer the reads whose leadership check passed and whose read index is applied."""
        if r.commit_index < r.noop_index:
            return  # not yet sure what is committed (§8)
        reads = r.reads
        confirmed = self._confirmed_seq(r)
        respond = self.ctx.respond
        while reads:
            read = reads[0]
            if read.index is None:
                read.index = r.commit_index
            if read.seq > confirmed or r.last_applied < read.index:
                return
            reads.popleft()
            result = self.readable(r, read.key)
            if result is None:
                self._park(r, read.key, read.req, read)
                continue
            self.ctx.stats.answers += 1
            respond(r.node, read.origin, Answer(read.req, result))

    @staticmethod
    def readable(r: Replica, key: str) -> ReadResult | None:
        """What a read of `key` that leader `r` confirmed answers now; None: it must wait.

        Never a half-applied transaction: while a transaction's intent holds
        the key, the read waits until the transaction is finished here, then
        answers from the state then (txn.py).
        """
        intents = r.sm.intents
        if intents and key in intents:
            return None
        return r.sm.read(key)

    # ------------------------------------------------------------------ intents (txn.py)

    def _park(self, r: Replica, key: str, req: int, item: Any) -> None:
        """Hold a confirmed read or a write back until no intent holds `key`."""
        waiting = r.parked.get(key)
        if waiting is None:
            waiting = r.parked[key] = {}
        held = waiting.get(req)
        if held is None:
            self.ctx.stats.intent_waits += 1
            waiting[req] = (self.env.now, item)
        else:  # the proxy asked again: keep the first wait's start
            waiting[req] = (held[0], item)

    def _unpark(self, r: Replica) -> None:
        """Serve the reads and propose the writes whose key no intent holds any more."""
        intents = r.sm.intents
        free = [key for key in r.parked if key not in intents]
        if not free:
            return
        now = self.env.now
        stats = self.ctx.stats
        for key in free:
            waiting = r.parked.pop(key, None)  # a nested call may have taken it
            if waiting is None:
                continue
            for req, (since, item) in waiting.items():
                stats.intent_blocked_ms += now - since
                if type(item) is _PendingRead:
                    result = self.readable(r, key)
                    if result is None:  # a newer intent, taken meanwhile
                        self._park(r, key, req, item)
                        continue
                    stats.answers += 1
                    self.ctx.respond(r.node, item.origin, Answer(req, result))
                else:
                    origin, msg = item
                    self.on_forward(origin, r.node, msg)  # may wait again, behind a newer intent
            if r.role is not Role.LEADER:
                return  # a proposal found a higher term: the rest were redirected
