"""Multi-Raft: which consensus group holds a key, and the home node's proxy to the group's leader.

Groups. A key's replicas are the first N nodes of its preference list; they
form one Raft group. Groups are made lazily, the first time a key needs one,
and are shared by every key with the same replica set (the members sorted: two
preference lists that differ only in order name the same replicas, so they
share one log). A 1,000-node cluster therefore runs only the groups its keys
touch. A new group's key's primary stands for election at once, so the first
request does not wait a whole election timeout. A group with nothing to do
quiesces (raft.py): it sends nothing but one liveness heartbeat per node pair
and period, whatever the number of groups the pair shares, so a run's
background cost follows the node pairs in use, not the groups, and a request's
cost does not depend on the cluster's size.

Proxying (Raft §8, client interaction). A client talks to its home node only;
the home node forwards each request to the member it believes leads the group
(its last hint; else, if it is a member, the leader its own replica follows;
else the member that stood for election first). A member that is not leader
answers `Redirect` with its hint; the leader answers `Accepted`, then `Answer`
once the request is applied. With no answer within `peer_timeout_ms` the proxy tries the next
member; after `Accepted` it waits an election timeout for the answer before
asking again. Every retry carries the same request id and the state machine
applies a request at most once, so retrying is always safe.

What the client hears is always true (sim/client.py and the checker rely on
it): the leader's answer, or nothing. A read that finds no leader within two
election timeouts fails ("unavailable": a read changes nothing, so failing it
is certain). A write is never failed by the proxy once sent: it may sit in
some leader's log and commit later, so the proxy stops retrying after four
election timeouts and stays silent, and the client's deadline reports the
outcome as unknown.

Atomic commits (txn.py) run their steps through the same proxy: the home
node's transaction coordinator, and a participant leader asking a coordinator
group for a decision, are home nodes like any other.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from sim.engine.world import World
from sim.modes.base import ReadResult, Reply, Status, TxnWrite
from sim.modes.strong.log import Command, TxnCommand
from sim.modes.strong.messages import (
    Accepted,
    Answer,
    AppendEntries,
    AppendReply,
    Forward,
    NodeHeartbeat,
    Quiesce,
    Quiesced,
    ReadCommand,
    Redirect,
    RequestVote,
    Vote,
    Wake,
)
from sim.modes.strong.raft import RaftContext, RaftGroup
from sim.modes.strong.txn import Transactions

if TYPE_CHECKING:
    from sim.modes.strong import StrongSettings

_UNAVAILABLE = ReadResult(Status.FAIL, error="unavailable")


class _Request:
    """A client request in flight at its home node."""

    __slots__ = (
        "accepted",
        "gen",
        "group",
        "home",
        "id",
        "misses",
        "op",
        "reply",
        "start",
        "target",
    )

    def __init__(
        self,
        rid: int,
        home: int,
        group: RaftGroup,
        op: Command | ReadCommand | TxnCommand,
        reply: Reply,
        start: float,
    ) -> None:
        self.id = rid
        self.home = home
        self.group = group
        self.op = op
        self.reply = reply
        self.start = start
        self.target = -1
        self.gen = 0  # bumped per attempt: stale time-outs drop themselves
        self.accepted = False
        self.misses = 0


class MultiRaft:
    """Every consensus group of a run, the routing of keys to them, and each node's proxy.

    Args:
        world: the engine parts of the run (N and durability among them).
        settings: strong mode's table (Raft timers, the proxy's time-out).
        touched: called with a key whenever a replica applies a change to it.
    """

    def __init__(
        self, world: World, settings: StrongSettings, touched: Callable[[str], None]
    ) -> None:
        self.env = world.env
        self.net = world.network
        self.self_latency = world.self_latency  # a request to the home node itself: a message
        self.ring = world.ring
        self.n = world.replication
        high = float(settings.election_timeout_ms[1])
        self.peer_timeout_ms = settings.peer_timeout_ms
        self.accept_timeout_ms = high
        self.pause_ms = settings.heartbeat_ms
        self.give_up_read_ms = 2 * high
        self.give_up_write_ms = 4 * high
        self.txns = Transactions(self, world.nodes, timeout_ms=2 * high)
        self.ctx = RaftContext(
            world.env,
            world.network,
            world.clocks.now,
            settings.election_timeout_ms,
            settings.heartbeat_ms,
            world.streams.get("raft"),
            world.durable,
            self._respond,
            touched,
            self.txns.timeout_ms,
            self.txns.resolve,
            settings.quiesce,
            settings.liveness_ms,
        )
        self.groups: list[RaftGroup] = []
        self._by_members: dict[tuple[int, ...], RaftGroup] = {}
        self._by_key: dict[str, RaftGroup] = {}
        self.groups_of_node: list[list[RaftGroup]] = [[] for _ in range(world.nodes)]
        self.crashed: set[int] = set()
        self.requests: list[dict[int, _Request]] = [{} for _ in range(world.nodes)]
        self.hints: list[dict[int, int]] = [{} for _ in range(world.nodes)]  # group -> leader
        self._ids = itertools.count(1)
        self.forwards = 0
        self.retries = 0
        self.give_ups = 0
        net = world.network
        net.register(RequestVote, self._on_request_vote)
        net.register(Vote, self._on_vote)
        net.register(AppendEntries, self._on_append)
        net.register(AppendReply, self._on_append_reply)
        net.register(Forward, self._on_forward)
        net.register(Quiesce, self._on_quiesce)
        net.register(Quiesced, self._on_quiesced)
        net.register(Wake, self._on_wake)
        net.register(NodeHeartbeat, self.ctx.liveness.on_heartbeat)
        net.register(Redirect, self._on_redirect)
        net.register(Accepted, self._on_accepted)
        net.register(Answer, self._on_answer)

    # ------------------------------------------------------------------ groups

    def group_for(self, key: str) -> RaftGroup:
        """The group holding `key`, made (and its first election started) on first use."""
        group = self._by_key.get(key)
        if group is not None:
            return group
        pref = self.ring.preference_list(key, self.n)
        members = tuple(sorted(pref))
        group = self._by_members.get(members)
        if group is None:
            group = RaftGroup(len(self.groups), members, self.ctx, self.crashed)
            self.groups.append(group)
            self._by_members[members] = group
            for node in members:
                self.groups_of_node[node].append(group)
            group.start(first=pref[0])
        self._by_key[key] = group
        return group

    def group_of(self, key: str) -> RaftGroup | None:
        """The group holding `key` if it exists (observation: never makes one)."""
        group = self._by_key.get(key)
        if group is None:
            group = self._by_members.get(tuple(sorted(self.ring.preference_list(key, self.n))))
        return group

    # ------------------------------------------------------------------ faults

    def crash(self, node: int) -> None:
        """The node's proxied requests and leader hints are lost, and its replicas crash."""
        self.crashed.add(node)
        for req in self.requests[node].values():
            req.gen += 1
        self.requests[node].clear()
        self.hints[node].clear()
        self.txns.crash(node)
        for group in self.groups_of_node[node]:
            group.crash(node)
        self.ctx.liveness.crash(node)

    def restart(self, node: int) -> None:
        """The node's replicas rejoin their groups as followers."""
        self.crashed.discard(node)
        for group in self.groups_of_node[node]:
            group.restart(node)

    # ------------------------------------------------------------------ the proxy

    def new_request(self) -> int:
        """A fresh request id (unique in the run; retries reuse it)."""
        return next(self._ids)

    def submit(
        self,
        home: int,
        rid: int,
        key: str,
        op: Command | ReadCommand | TxnCommand,
        reply: Reply,
    ) -> None:
        """Send request `rid` from `home` towards the leader of `key`'s group."""
        group = self.group_for(key)
        req = _Request(rid, home, group, op, reply, self.env.now)
        self.requests[home][rid] = req
        self._attempt(req, self._first_target(home, group))

    def cancel(self, home: int, rid: int) -> None:
        """Stop retrying request `rid` (its answer no longer matters); what was sent stays sent."""
        req = self.requests[home].pop(rid, None)
        if req is not None:
            req.gen += 1

    def commit(self, home: int, txn: str, writes: tuple[TxnWrite, ...], reply: Reply) -> None:
        """Run transaction `txn` from `home`'s coordinator (txn.py)."""
        self.txns.commit(home, txn, writes, reply)

    def _first_target(self, home: int, group: RaftGroup) -> int:
        hint = self.hints[home].get(group.id)
        if hint is not None:
            return hint
        own = group.replicas.get(home)
        if own is not None:
            return own.leader_id if own.leader_id is not None else home
        return group.first  # it stood for election first: the likeliest leader

    def _attempt(self, req: _Request, target: int) -> None:
        req.target = target
        req.accepted = False
        req.gen += 1
        self.forwards += 1
        self.env.call_later(self.peer_timeout_ms, self._on_timeout, req.home, req.id, req.gen)
        msg = Forward(req.id, req.group.id, req.op)
        if target == req.home and not self.self_latency:
            req.group.on_forward(target, target, msg)  # the home node is a member: no hop
        else:
            self.net.send(req.home, target, msg)

    def _on_timeout(self, home: int, rid: int, gen: int) -> None:
        req = self.requests[home].get(rid)
        if req is None or req.gen != gen:
            return
        if req.accepted:
            # The leader took it but its answer is late or lost: ask it again
            # (it answers a duplicate from its table, or redirects if deposed).
            self._retry(req, req.target)
            return
        hints = self.hints[home]
        if hints.get(req.group.id) == req.target:
            del hints[req.group.id]
        self._retry(req, None)

    def _retry(self, req: _Request, hint: int | None) -> None:
        """Try again: the hinted leader, else the next member; pause after a fruitless round."""
        if self.env.now - req.start >= (
            self.give_up_read_ms if isinstance(req.op, ReadCommand) else self.give_up_write_ms
        ):
            self._give_up(req)
            return
        self.retries += 1
        members = req.group.members
        req.misses += 1
        if hint is None:
            i = members.index(req.target) if req.target in members else -1
            hint = members[(i + 1) % len(members)]
        if req.misses % (len(members) + 1) == 0:
            # No leader found on a whole round (an election is probably under
            # way): wait a heartbeat before the next round.
            req.gen += 1
            self.env.call_later(self.pause_ms, self._resume, req.home, req.id, req.gen, hint)
        else:
            self._attempt(req, hint)

    def _resume(self, home: int, rid: int, gen: int, target: int) -> None:
        req = self.requests[home].get(rid)
        if req is not None and req.gen == gen:
            self._attempt(req, target)

    def _give_up(self, req: _Request) -> None:
        del self.requests[req.home][req.id]
        req.gen += 1
        self.give_ups += 1
        if isinstance(req.op, ReadCommand):
            req.reply(_UNAVAILABLE)
        # A write may be in some leader's log: its outcome is unknown, so no answer.

    def _respond(self, src: int, origin: int, msg: Redirect | Accepted | Answer) -> None:
        """A leader's or member's answer to the home node `origin` (locally if it is the same)."""
        if src != origin or self.self_latency:
            self.net.send(src, origin, msg)
        elif type(msg) is Answer:
            self._on_answer(src, origin, msg)
        elif type(msg) is Accepted:
            self._on_accepted(src, origin, msg)
        else:
            self._on_redirect(src, origin, msg)

    def _on_redirect(self, src: int, home: int, msg: Redirect) -> None:
        req = self.requests[home].get(msg.req)
        if req is None or src != req.target:
            return  # answered already, or a late reply to an earlier attempt
        hints = self.hints[home]
        if msg.leader is not None and msg.leader != src:
            hints[msg.group] = msg.leader
            self._retry(req, msg.leader)
        else:
            hints.pop(msg.group, None)
            self._retry(req, None)

    def _on_accepted(self, src: int, home: int, msg: Accepted) -> None:
        req = self.requests[home].get(msg.req)
        if req is None or src != req.target:
            return
        self.hints[home][req.group.id] = src
        req.accepted = True
        req.misses = 0
        req.gen += 1
        self.env.call_later(self.accept_timeout_ms, self._on_timeout, home, req.id, req.gen)

    def _on_answer(self, src: int, home: int, msg: Answer) -> None:
        req = self.requests[home].pop(msg.req, None)
        if req is None:
            return  # a duplicate answer, or the home node crashed since
        req.gen += 1
        self.hints[home][req.group.id] = src
        req.reply(msg.result)

    # ------------------------------------------------------------------ dispatch to groups

    def _on_request_vote(self, src: int, dst: int, msg: RequestVote) -> None:
        self.groups[msg.group].on_request_vote(src, dst, msg)

    def _on_vote(self, src: int, dst: int, msg: Vote) -> None:
        self.groups[msg.group].on_vote(src, dst, msg)

    def _on_append(self, src: int, dst: int, msg: AppendEntries) -> None:
        self.groups[msg.group].on_append(src, dst, msg)

    def _on_append_reply(self, src: int, dst: int, msg: AppendReply) -> None:
        self.groups[msg.group].on_append_reply(src, dst, msg)

    def _on_forward(self, src: int, dst: int, msg: Forward) -> None:
        self.groups[msg.group].on_forward(src, dst, msg)

    def _on_quiesce(self, src: int, dst: int, msg: Quiesce) -> None:
        self.groups[msg.group].on_quiesce(src, dst, msg)

    def _on_quiesced(self, src: int, dst: int, msg: Quiesced) -> None:
        self.groups[msg.group].on_quiesced(src, dst, msg)

    def _on_wake(self, src: int, dst: int, msg: Wake) -> None:
        self.groups[msg.group].on_wake(src, dst, msg)

    # ------------------------------------------------------------------ observation

    def stats(self) -> dict[str, int]:
        """Protocol counters over every group, and the proxies' work."""
        terms = [r.term for g in self.groups for r in g.replicas.values()]
        out = {
            "groups": len(self.groups),
            **self.ctx.stats.as_dict(),
            "lost_committed": sum(group.lost_committed() for group in self.groups),
            "max_term": max(terms, default=0),
            "forwards": self.forwards,
            "proxy_retries": self.retries,
            "proxy_give_ups": self.give_ups,
            **self.txns.stats(),
        }
        return out
