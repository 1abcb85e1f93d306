"""Quorum coordination (Dynamo §4.5-4.6): reads wait for R replies, writes for W acks.

The client's home node coordinates. It sends a request to the key's N
replicas, or, with a sloppy quorum, to the first N nodes of the key's ring walk
that it does not suspect, a fall-back standing in for each suspected replica
and holding the write with a hint naming that replica. A replica that has not
answered within `peer_timeout_ms` is suspected (a local failure detector: any
message from it clears the suspicion; otherwise it lasts SUSPECT_MS), and with a
sloppy quorum the request goes on to the next node of the walk.

A read answers the client once R replicas replied, with every causally-latest
sibling and their merged clock as context; it keeps collecting the other
replies and then sends each out-of-date replica the merged set (read repair).
A write makes a new clock, the read's context advanced at the coordinator's
actor (its node id; a new id once it has lost its data), stores it on the
targets and answers after W acks. A conditional write (occ) first reads a
quorum and goes ahead only if its merged clock still equals the context: a
check on one quorum, not a global one.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.engine.world import World
from sim.modes.base import ReadResult, Reply, Status, WriteResult
from sim.modes.eventual.messages import Get, GetReply, Put, PutAck, Repair
from sim.modes.eventual.storage import NodeStorage, Siblings
from sim.vclock import VClock, Versioned, add_version, merge_siblings, merged_context

if TYPE_CHECKING:
    from sim.modes.eventual import EventualSettings

_EMPTY = VClock()
_OK = Status.OK

SUSPECT_MS = 1000.0
"""How long a replica that did not answer stays suspected, unless it speaks first."""

EXPIRE_ROUNDS = 40
"""A coordinator forgets a write after this many peer time-outs (late acks then ignored)."""

UNAVAILABLE_ROUNDS = 4
"""A read still short of R replies after this many peer time-outs with nobody new to ask
answers "unavailable": certain, since a read changes nothing (and the client's router
may then try another node). Until then late replies may still complete it."""

_UNAVAILABLE = ReadResult(Status.FAIL, error="unavailable")
_WRITE_UNAVAILABLE = WriteResult(Status.FAIL, error="unavailable")

SWEEPS_PER_TIMEOUT = 2
"""How often per peer time-out the coordinators look for requests that timed out."""


def _answer_context(version: Versioned, base: VClock, gap: bool) -> VClock:
    """The context a write answers its client with: what a write made from it may cover.

    The version's clock (its context and its dot) covers, as a version vector,
    every earlier dot of its actor. When the actor issued another dot for the key
    that this write's context did not cover (a concurrent write through the same
    node: a gap), that clock would claim the concurrent version too, and a write
    on it would silently drop it (a lost order). Then the answer is the context
    the write was made from: a write on it is its sibling, or (conditional) a
    conflict that makes the client read again.
    """
    return base if gap else version.clock


class _Read:
    """A read in progress at its coordinator."""

    __slots__ = (
        "check_at",
        "done",
        "expected",
        "failure",
        "key",
        "merged",
        "need",
        "on_quorum",
        "replies",
        "reply",
        "rounds",
        "targets",
    )

    def __init__(
        self, key: str, need: int, on_quorum: Callable[[Siblings], None] | None, reply: Reply | None
    ) -> None:
        self.key = key
        self.need = need
        self.on_quorum = on_quorum  # what to do at the quorum: a conditional write's check...
        self.reply = reply  # ...or answer a client's read
        self.failure: tuple[Reply, Any] | None = None  # whom to tell "unavailable", and how
        self.rounds = 0  # time-outs passed with nobody new to ask
        self.replies: dict[int, Siblings] = {}
        self.merged: Siblings = ()
        self.done = False
        self.targets: dict[int, int | None] = {}  # every node asked -> owner it stands in for
        self.expected = 0  # replies to wait for before read repair
        self.check_at = 0.0  # when unanswered targets are next suspected


class _Write:
    """A write in progress at its coordinator."""

    __slots__ = (
        "acked",
        "check_at",
        "context",
        "done",
        "expire_at",
        "key",
        "need",
        "reply",
        "state",
        "tried",
        "version",
        "waiting",
    )

    def __init__(
        self, key: str, version: Versioned, state: Siblings, need: int, reply: Reply
    ) -> None:
        self.key = key
        self.version = version
        self.state = state  # the coordinator's whole state of the key, shipped with the write
        self.need = need
        self.reply = reply
        self.acked: set[int] = set()
        self.check_at = 0.0
        self.expire_at = 0.0
        self.done = False
        self.tried: list[int] = []
        self.waiting: dict[int, int | None] = {}


class Coordinators:
    """The coordinator role of every node: quorum reads and writes, failure detection."""

    def __init__(
        self, world: World, storage: list[NodeStorage], settings: EventualSettings
    ) -> None:
        self.env = world.env
        self.net = network = world.network
        self.ring = world.ring
        self.storage = storage
        self.wall_clock = world.clocks.now
        self.n, self.r, self.w = world.replication, settings.read_quorum, settings.write_quorum
        self.sloppy = settings.sloppy_quorum
        self.read_repair = settings.read_repair
        # A request to the coordinator itself: a message paying its latency, or a call.
        self.self_latency = world.self_latency
        self.peer_timeout_ms = peer_timeout_ms = settings.peer_timeout_ms
        self.vclock_limit = settings.vclock_limit
        self.suspected: list[dict[int, float]] = [{} for _ in storage]
        self.reads: list[dict[int, _Read]] = [{} for _ in storage]
        # The coordinators that may have reads in flight, in the order they began: the
        # sweep visits these, not every node (its cost must not grow with the cluster).
        self._reading: dict[int, None] = {}
        self.writes: list[dict[int, _Write]] = [{} for _ in storage]
        self._ids = itertools.count(1)
        self._replica_targets: dict[str, dict[int, None]] = {}
        self._sweep_at: float | None = None  # when the live sweep timer fires
        self._period = peer_timeout_ms / SWEEPS_PER_TIMEOUT
        # (due time, coordinator, request) of writes, in time order; reads need
        # no queue: each coordinator's dict of reads is in due order (see _sweep)
        self._write_due: deque[tuple[float, int, int]] = deque()
        self._expiries: deque[tuple[float, int, int]] = deque()
        self.pruned = 0
        self.hinted = 0
        self.read_repairs = 0
        # replica-side handlers (Put/Get arrive at replicas)
        network.register(Get, self._on_get)
        network.register(GetReply, self._on_get_reply)
        network.register(Put, self._on_put)
        network.register(PutAck, self._on_put_ack)
        network.register(Repair, self._on_repair)

    # ------------------------------------------------------------------ targets

    def _suspects(self, coord: int, peer: int) -> bool:
        until = self.suspected[coord].get(peer)
        if until is None:
            return False
        if until <= self.env.now:
            del self.suspected[coord][peer]
            return False
        return True

    def _first_targets(self, coord: int, key: str) -> dict[int, int | None]:
        """Target -> the replica it stands in for (None for a replica itself)."""
        if not self.sloppy or not self.suspected[coord]:
            targets = self._replica_targets.get(key)  # the usual case: the cached replicas
            return targets if targets is not None else self._replicas(key)
        pref = self.ring.preference_list(key, self.n)
        targets: dict[int, int | None] = {}
        missing = []
        for node in pref:
            if node == coord or not self._suspects(coord, node):
                targets[node] = None
            else:
                missing.append(node)
        if missing:
            self._stand_in(coord, key, targets, missing, exclude=())
            for node in missing:  # nobody to stand in for it: ask the suspect anyway
                targets[node] = None  # (skipping it would leave fewer than R or W targets)
        return targets

    def _replicas(self, key: str) -> dict[int, None]:
        """The key's N replicas as targets: cached, shared, never mutated (callers copy)."""
        targets = self._replica_targets.get(key)
        if targets is None:
            targets = self._replica_targets[key] = dict.fromkeys(
                self.ring.preference_list(key, self.n)
            )
        return targets

    def _stand_in(
        self, coord: int, key: str, targets: dict[int, int | None], owners: list[int], exclude: Any
    ) -> None:
        """Add fall-backs from the ring walk past the replicas, one per owner in `owners`."""
        pref = self.ring.preference_list(key, self.n)
        for node in self.ring.walk(key):
            if not owners:
                return
            if node in pref or node in targets or node in exclude:
                continue
            if node != coord and self._suspects(coord, node):
                continue
            targets[node] = owners.pop(0)

    # ------------------------------------------------------------------ sending

    def _send(self, coord: int, node: int, msg: Any, handler: Callable) -> None:
        if node == coord and not self.self_latency:
            handler(coord, coord, msg)  # local: no network hop
        else:
            self.net.send(coord, node, msg)

    def _heard_from(self, coord: int, peer: int) -> None:
        if self.suspected[coord]:
            self.suspected[coord].pop(peer, None)

    # ------------------------------------------------------------------ reads

    def read(
        self,
        coord: int,
        key: str,
        reply: Reply | None,
        on_quorum: Callable[[Siblings], None] | None = None,
        failed: Reply | None = None,
    ) -> None:
        """Quorum read: at R replies answer `reply` with ReadResult(OK, values, merged clock).

        Given `on_quorum` instead (a conditional write's check), call
        `on_quorum(merged siblings)` at R replies.
        """
        req = next(self._ids)
        op = _Read(key, self.r, on_quorum, reply)
        if failed is not None:  # a conditional write's check: no quorum, no write
            op.failure = (failed, _WRITE_UNAVAILABLE)
        self.reads[coord][req] = op
        self._reading[coord] = None
        self._dispatch_read(coord, req, op, self._first_targets(coord, key))

    def _dispatch_read(
        self, coord: int, req: int, op: _Read, targets: dict[int, int | None]
    ) -> None:
        # Register every target before sending: a local target answers at once.
        # `targets` may be shared (a cached replica set): never mutate it.
        if op.targets:  # a second round, to stand-ins: move the read to the back
            reads = self.reads[coord]  # of the due order (its time-out is the latest)
            del reads[req]
            reads[req] = op
            op.targets = {**op.targets, **targets}
        else:
            op.targets = targets
        op.expected = len(op.replies) + len(targets)
        msg = Get(req, op.key)  # one message object shared by every target
        send = self.net.send
        local = coord if not self.self_latency else None
        for node in targets:
            if node == local:
                self._on_get(coord, coord, msg)  # local: no network hop
            else:
                send(coord, node, msg)
        op.check_at = when = self.env.now + self.peer_timeout_ms
        if self._sweep_at is None or when < self._sweep_at:  # else no call: a sweep is due first
            self._schedule_sweep(when)

    def _on_get(self, src: int, dst: int, msg: Get) -> None:
        storage = self.storage[dst]
        key = msg.key
        # NodeStorage.visible's common case inlined (a replica's every read): owned data only
        if key in storage.own or key in storage.hints:
            siblings = storage.visible(key)
        else:
            siblings = storage.data.get(key, ())
        reply = GetReply(msg.req, key, siblings)
        if src == dst and not self.self_latency:
            self._on_get_reply(dst, dst, reply)
        else:
            self.net.send(dst, src, reply)

    def _on_get_reply(self, src: int, dst: int, msg: GetReply) -> None:
        if self.suspected[dst]:
            self.suspected[dst].pop(src, None)
        op = self.reads[dst].get(msg.req)
        if op is None:
            return
        replies = op.replies
        if src in replies:
            return
        siblings = msg.siblings
        replies[src] = siblings
        merged = op.merged
        if not merged:
            op.merged = merged = siblings
        elif siblings is not merged and siblings != merged:
            op.merged = merged = merge_siblings(merged, siblings)
        if not op.done and len(replies) >= op.need:
            op.done = True
            if op.reply is None:
                op.on_quorum(merged)
            elif len(merged) == 1:
                op.reply(ReadResult(_OK, (merged[0].value,), merged[0].clock))
            else:
                op.reply(ReadResult(_OK, tuple(v.value for v in merged), merged_context(merged)))
        if len(replies) >= op.expected:
            self._finish_read(dst, msg.req, op)

    def _read_timer(self, coord: int, req: int) -> None:
        op = self.reads[coord].get(req)
        if op is None:
            return
        late = [n for n in op.targets if n not in op.replies]
        for node in late:
            self.suspected[coord][node] = self.env.now + SUSPECT_MS
        if op.done:
            self._finish_read(coord, req, op)
            return
        if not late:  # every target answered and still no quorum: nobody left to ask
            op.rounds = UNAVAILABLE_ROUNDS
        if self.sloppy:
            extra: dict[int, int | None] = {}
            owners = [op.targets[n] if op.targets[n] is not None else n for n in late]
            self._stand_in(coord, op.key, extra, owners, exclude=set(op.targets))
            if extra:
                self._dispatch_read(coord, req, op, extra)
                return
        op.rounds += 1
        if op.rounds >= UNAVAILABLE_ROUNDS:
            op.done = True
            if op.reply is not None:
                op.reply(_UNAVAILABLE)
            elif op.failure is not None:
                op.failure[0](op.failure[1])
            self._finish_read(coord, req, op)
            return
        # Nobody new to ask: wait one more time-out for late replies from every target.
        reads = self.reads[coord]
        del reads[req]
        reads[req] = op  # its time-out is now the latest: the back of the due order
        op.expected = len(op.targets)
        op.check_at = when = self.env.now + self.peer_timeout_ms
        if self._sweep_at is None or when < self._sweep_at:
            self._schedule_sweep(when)

    def _finish_read(self, coord: int, req: int, op: _Read) -> None:
        """Read repair: send the merged set to every replica that lacked part of it."""
        self.reads[coord].pop(req, None)
        if not self.read_repair:
            return
        # Sibling tuples are canonical (sorted by clock), so equal sets are equal
        # tuples. A target is a replica of the key when it stands in for no one.
        merged = op.merged
        targets = op.targets
        for node, siblings in op.replies.items():
            if siblings is not merged and siblings != merged and targets[node] is None:
                self.read_repairs += 1
                self._send(coord, node, Repair(op.key, merged), self._on_repair)

    def _on_repair(self, src: int, dst: int, msg: Repair) -> None:
        self.storage[dst].merge(msg.key, msg.siblings)

    # ------------------------------------------------------------------ writes

    def write(
        self,
        coord: int,
        key: str,
        value: Any,
        context: VClock | None,
        conditional: bool,
        reply: Reply,
    ) -> None:
        """Quorum write of `value` descending `context`; conditional: check a quorum first."""
        if not conditional:
            self._put(coord, key, value, context, reply)
            return
        expected = (context or _EMPTY).counters()

        def check(merged: Siblings) -> None:
            current = merged_context(merged)
            if current.counters() != expected:
                reply(WriteResult(Status.CONFLICT, current, "version changed"))
            else:
                self._put(coord, key, value, context, reply)

        self.read(coord, key, None, check, failed=reply)

    def _new_version(
        self, coord: int, key: str, value: Any, context: VClock | None
    ) -> tuple[Versioned, VClock]:
        """A version with the client's context and a fresh dot of the coordinator's actor,
        and the context a client may write on from it (see `_answer_context`)."""
        storage = self.storage[coord]
        actor = storage.actor
        base = context or _EMPTY
        counter = max(base.counter(actor), storage.counters.get(key, 0)) + 1
        storage.counters[key] = counter
        if len(base) >= self.vclock_limit:
            # Dynamo's size bound: drop the oldest entries. Pruning can only
            # create false conflicts (siblings), never hide a version: a pruned
            # context covers less.
            base, dropped = base.prune(self.vclock_limit - 1, keep=actor)
            self.pruned += dropped
        version = Versioned.new(base, (actor, counter), value, self.wall_clock(coord))
        return version, _answer_context(version, base, counter - 1 > base.counter(actor))

    def _put(self, coord: int, key: str, value: Any, context: VClock | None, reply: Reply) -> None:
        version, answer = self._new_version(coord, key, value, context)
        storage = self.storage[coord]
        if coord not in self.ring.preference_list(key, self.n):
            storage.own[key] = add_version(storage.own.get(key, ()), version)
            state = storage.visible(key)
        elif self.self_latency:  # the coordinator's own copy arrives with its Put
            state = add_version(storage.visible(key), version)
        else:
            storage.merge(key, (version,))
            state = storage.visible(key)
        req = next(self._ids)
        op = _Write(key, version, state, self.w, reply)
        op.context = answer
        self.writes[coord][req] = op
        op.expire_at = self.env.now + self.peer_timeout_ms * EXPIRE_ROUNDS
        self._expiries.append((op.expire_at, coord, req))
        self._dispatch_write(coord, req, op, self._first_targets(coord, key))

    def _dispatch_write(
        self, coord: int, req: int, op: _Write, targets: dict[int, int | None]
    ) -> None:
        op.tried.extend(targets)
        op.waiting.update(targets)
        for node, owner in targets.items():
            if owner is not None:
                self.hinted += 1
            self._send(coord, node, Put(req, op.key, op.state, owner), self._on_put)
        op.check_at = when = self.env.now + self.peer_timeout_ms
        self._write_due.append((when, coord, req))
        self._schedule_sweep(when)

    def _on_put(self, src: int, dst: int, msg: Put) -> None:
        if msg.hint is None:
            self.storage[dst].merge(msg.key, msg.siblings)
        else:
            self.storage[dst].hint(msg.key, msg.hint, msg.siblings)
        self._send(dst, src, PutAck(msg.req), self._on_put_ack)

    def _on_put_ack(self, src: int, dst: int, msg: PutAck) -> None:
        self._heard_from(dst, src)
        op = self.writes[dst].get(msg.req)
        if op is None or src in op.acked:
            return
        op.waiting.pop(src, None)
        op.acked.add(src)
        if not op.done and len(op.acked) >= op.need:
            op.done = True
            op.reply(WriteResult(Status.OK, op.context))
        if op.done and not op.waiting:
            self.writes[dst].pop(msg.req, None)

    def _write_timer(self, coord: int, req: int) -> None:
        op = self.writes[coord].get(req)
        if op is None:
            return
        late = list(op.waiting)
        for node in late:
            self.suspected[coord][node] = self.env.now + SUSPECT_MS
        if op.done:
            self.writes[coord].pop(req, None)
            return
        op.check_at = op.expire_at  # late acks may still complete it until it expires
        if not self.sloppy or not late:
            return
        extra: dict[int, int | None] = {}
        owners = [op.waiting[n] if op.waiting[n] is not None else n for n in late]
        self._stand_in(coord, op.key, extra, owners, exclude=set(op.tried))
        op.waiting.clear()
        if extra:
            self._dispatch_write(coord, req, op, extra)

    # ------------------------------------------------------------------ time-outs

    def _schedule_sweep(self, when: float) -> None:
        # At most one live sweep timer: an earlier need replaces a later timer,
        # whose tick then finds itself stale (timers are not cancellable).
        when = max(when, self.env.now + self._period)
        if self._sweep_at is None or when < self._sweep_at:
            self._sweep_at = when
            self.env.call_later(when - self.env.now, self._sweep, when)

    def _sweep(self, at: float) -> None:
        """Run the peer time-outs that are due, and forget writes that expired.

        One timer for all requests, not one per request (a timer each doubled
        the cost of a quorum read), and no bookkeeping per read: a read's
        time-out is peer_timeout_ms after it was sent, so each coordinator's
        dict of reads, in insertion order, is in due order (a read sent to
        stand-ins moves to the back), and the sweep stops at the first read
        not yet due. Writes wait past their first time-out for late acks, so
        they are queued by due time instead. The sweep runs at most
        SWEEPS_PER_TIMEOUT times per peer time-out, so a time-out fires up to
        peer_timeout_ms / SWEEPS_PER_TIMEOUT late.
        """
        if at != self._sweep_at:
            return  # superseded by an earlier sweep
        self._sweep_at = None
        now = self.env.now
        heads = []
        idle = []
        for coord in list(self._reading):  # a reply may start a read elsewhere
            reads = self.reads[coord]
            if not reads:
                idle.append(coord)
                continue
            due = []
            for req, op in reads.items():
                if op.check_at > now:
                    heads.append(op.check_at)
                    break
                due.append(req)
            for req in due:
                self._read_timer(coord, req)
        for coord in idle:
            del self._reading[coord]
        writes = self._write_due
        while writes and writes[0][0] <= now:
            _, coord, req = writes.popleft()
            op = self.writes[coord].get(req)
            if op is not None and op.check_at <= now:
                self._write_timer(coord, req)
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            _, coord, req = expiries.popleft()
            self.writes[coord].pop(req, None)
        heads.extend(q[0][0] for q in (writes, expiries) if q)
        if heads:
            self._schedule_sweep(min(heads))

    # ------------------------------------------------------------------ faults

    def crash(self, node: int) -> None:
        """In-flight requests and suspicions are volatile."""
        self.reads[node].clear()
        self.writes[node].clear()
        self.suspected[node].clear()
