"""Weak mode: the home node answers alone, pushes writes best effort, last writer wins.

The client's home node reads and writes its own copy and acknowledges at once;
it then pushes the value to the key's other holders asynchronously. A push
that a cut or loss drops is gone: there is no anti-entropy, no retry, so
replicas may never agree. Conflicts are settled by last-writer-wins on the
writing node's wall clock (skewed per node), ties broken by node id: a write
stamped earlier than the value it lands on is acknowledged and silently lost,
as in Cassandra at consistency ONE.

A home node that is not among a key's N replicas fetches the key the first
time a client asks for it, from ONE replica, as Cassandra does at consistency
ONE (the data request goes to one replica): its designated replica,
`preference_list(key, N)[node % N]`, which spreads the non-replicas over the N
deterministically. If no reply came within FETCH_RETRY_MS while readers wait,
it asks the next replica in the list, and so on once round the list
(Cassandra's speculative retry, "rapid read protection"; a timer, not the next
read, so a cut or crashed replica costs a waiting reader 100 ms, not its
request). The Fetch subscribes the node at the replica it went to, and the
replica that answered is the node's *source*; from then on the node is a
holder of the key like the replicas. Asking all N, as this mode first did,
cost 2N messages per cold read and N subscriptions where one answer was used:
behind the balancer on 1,000 nodes most reads are cold, and the scale target
(benchmarks/scale.py) was missed by that alone.

One subscription per subscriber. A subscriber's own write goes to all N
replicas (best effort, as any write), but only its source (named in the Push's
`via`) subscribes it; a replica decides from the message, not from the
subscriber's state. A replica that receives a push, from another replica or
from a subscriber, forwards it to its own subscribers except the push's sender
and origin; subscribers never forward, so a write reaches every holder in at
most two hops and no loop can form. The cost in fidelity: a subscriber whose
source is down, crashed (a volatile replica forgets its subscribers) or cut
off sees no pushes through any other replica, and serves its copy as it was
until a push lapses it or it writes the key itself (its write re-subscribes
it at its source); weak mode is best effort. Retries that overlap (a slow
rather than dead replica) may subscribe a node at two replicas: it then gets
some pushes twice, harmlessly, and the lease below prunes the extra one.

A copy is kept only from a node's second request for the key within
`lease_ms` (`cache_on_first_read = false`, the default): a first request is
answered from the replica's copy and nothing is cached, so the node is not
subscribed and no write is pushed to it. Caches call this second-hit admission
(a CDN's "cache on second hit", TinyLFU's doorkeeper): behind the balancer on
1,000 nodes most keys reach a node once per lease, and caching those one-hit
copies cost a Push and an Unsubscribe per copy at the next write, most of
what a request cost there. A first read is answered from its replica, so it is
no staler than a cached one.

Versions are `(timestamp_ms, node)` pairs; a write's `context` is the version
read, and a conditional write applies only if the home node's version still
equals it (a local check, not a global one: which is why weak mode oversells).

A subscriber's copy is a cache entry with a lease (`lease_ms`, after Gray and
Cheriton's leases, SOSP 1989): it stays subscribed while it serves the key at
least once every `lease_ms`. A subscriber that has not served the key for that
long when a push for it arrives lets the subscription lapse: it drops its copy
and answers the push with an Unsubscribe, and that replica pushes to it no
more; its next request for the key fetches afresh, as a first one does. So a
write reaches the nodes that served the key recently (plus, once each, those
that lapsed since), not every node that ever did: behind a load balancer on
1,000 nodes, the latter is most of the cluster for a popular key. The lapse is
found at a push, not kept off by renewals (a cache-coherence directory prunes
a silently evicted sharer at the next invalidation the same way): renewing
would cost every busy holder messages for every key it serves, at any cluster
size, where a lapse costs a push and an Unsubscribe, and only when a write
comes. A copy newer than the push (a write of its own that the replicas lack)
is not dropped: weak mode has no other path that would bring it to them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import Field

from sim.config.cluster import ModeSettings
from sim.engine.network import message
from sim.engine.world import World
from sim.modes.base import (
    Key,
    KeyState,
    LeaseLocks,
    LocalLocks,
    ModeSpec,
    ReadResult,
    Reply,
    Status,
    Value,
    Version,
    WriteResult,
)

Stamp = tuple[float, int]
_ZERO: Stamp = (float("-inf"), -1)  # "no copy" in a FetchReply
_LOADED: Stamp = (-1.0e15, -1)  # the initial data: older than any write, JSON-safe
_NEVER = float("-inf")
_RETRYING = -1.0  # the retry timer's mark while it runs
FETCH_RETRY_MS = 100.0
"""A node whose fetch got no reply this long while readers wait asks the next replica
(a timer); after asking all N in turn it waits for the next read to start again."""
LEASE_MS = 2000.0
"""Default lease of a subscriber's copy. The demo's longest pause between two requests
for its product at one node is 1.2 s, so no copy lapses there (seeds 1 to 10) and the
demo is what it was before leases; on 1,000 nodes behind the balancer a node serves
even the most popular product about once every 6 s, so most subscriptions lapse."""


@message
class Push:
    """A write pushed from one holder to another.

    `epoch` is the origin's subscription epoch for the key (see Fetch), and `via`
    its source replica (-1 from a replica): a non-replica origin's push
    subscribes it at `via` only, one subscription per subscriber. A forwarded
    push is the same message, sent on by a replica to its subscribers.
    """

    kind: ClassVar[str] = "write"
    key: Key
    stamp: Stamp
    value: Value
    origin: int
    epoch: int
    via: int


@message
class Fetch:
    """A non-replica home node asks one replica for a key it does not hold.

    With `keep` the node will keep the copy and the replica subscribes it;
    without, the copy answers this read only. `epoch` orders the sender's
    subscriptions to the key: an Unsubscribe ends only those of smaller epochs,
    so one overtaken by a later Fetch ends nothing new.
    """

    kind: ClassVar[str] = "read"
    key: Key
    epoch: int
    keep: bool


@message
class FetchReply:
    """A replica's answer to Fetch (stamp _ZERO and value None when it has no copy).

    `epoch` and `keep` are the Fetch's: a reply to a fetch made before the asker's
    last lapse is dropped, since that subscription may have ended.
    """

    kind: ClassVar[str] = "response"
    key: Key
    stamp: Stamp
    value: Value
    epoch: int
    keep: bool


@message
class Unsubscribe:
    """A subscriber's answer to a push once its lease lapsed: push no more.

    Ends the sender's subscriptions of epochs below `epoch` (its epoch from now on).
    """

    kind: ClassVar[str] = "ack"
    key: Key
    epoch: int


class WeakSettings(ModeSettings):
    """`[cluster.weak]`: how long a non-replica holder's copy stays subscribed unused."""

    lease_ms: float = Field(LEASE_MS, ge=0.0)
    """A non-replica holder that has not served a key for this long lets its
    subscription lapse at the next push and fetches afresh when next asked;
    0: subscriptions never lapse (every node that held a key stays subscribed)."""
    cache_on_first_read: bool = False
    """False (default): a non-replica keeps a fetched copy (and subscribes) only when it
    served the key once already within `lease_ms`, so a key asked for once is answered
    and not cached; True: every fetched copy is kept."""


class WeakMode(LocalLocks):
    """Local reads and writes, asynchronous best-effort push, last writer wins."""

    name = "weak"

    def __init__(self, world: World, settings: WeakSettings | None = None) -> None:
        self.world = world
        self.env = world.env  # env.now on the hot paths: World.now is a property over it
        self.net = world.network
        self.ring = world.ring
        self.clocks = world.clocks
        self.n = world.replication
        self.durable = world.durable
        nodes = world.nodes
        settings = settings or WeakSettings()
        lease = settings.lease_ms
        self.lease_ms = lease if lease > 0 else float("inf")
        self.cache_on_first_read = settings.cache_on_first_read
        # store[node][key] = (stamp, value)
        self.store: list[dict[Key, tuple[Stamp, Value]]] = [{} for _ in range(nodes)]
        # subscribers[node][key] = {non-replica node: its subscription epoch}, for the
        # nodes that fetched the key from `node` or pushed it a write of theirs
        self.subscribers: list[dict[Key, dict[int, int]]] = [{} for _ in range(nodes)]
        # served_at[node][key] = when `node` last answered a request for the key
        self.served_at: list[dict[Key, float]] = [{} for _ in range(nodes)]
        # epochs[node][key] = the node's subscription epoch for the key (0 until a lapse)
        self.epochs: list[dict[Key, int]] = [{} for _ in range(nodes)]
        self._last_epoch = 0
        self.lapses = 0
        self.pending_fetch: list[dict[Key, list[Reply]]] = [{} for _ in range(nodes)]
        # fetching[node][key] = (generation, attempt, keep) of the fetch whose retry timer is
        # live; generations are never reused, so a timer from before a crash or a
        # reply is stale whatever was cleared since (STYLE.md §5)
        self.fetching: list[dict[Key, tuple[int, int, bool]]] = [{} for _ in range(nodes)]
        self._last_generation = 0
        # Every fetch's retry time, in the order fetched (so in due order: one delay for
        # all), behind one timer for the mode, armed for the first live entry.
        self._due: deque[tuple[float, int, Key, int]] = deque()
        self._retry_timer_at: float | None = None
        # source[node][key] = the replica a non-replica holder is subscribed at (the
        # one that answered its fetch, or its designated replica): its pushes' `via`
        self.source: list[dict[Key, int]] = [{} for _ in range(nodes)]
        self.locks = [LeaseLocks() for _ in range(nodes)]
        self.holders: dict[Key, set[int]] = {}
        self.dirty: set[Key] = set()
        self.lost_on_arrival = 0
        self.written_at: dict[Stamp, float] = {}  # a write's stamp -> its real time
        self._exported: dict[Stamp, list[Any]] = {}  # a stamp -> its JSON form
        self.skew_discarded: set[Stamp] = set()
        world.network.register(Push, self._on_push)
        world.network.register(Fetch, self._on_fetch)
        world.network.register(FetchReply, self._on_fetch_reply)
        world.network.register(Unsubscribe, self._on_unsubscribe)

    # ------------------------------------------------------------------ client API

    def load(self, key: Key, value: Value) -> None:
        """Put the initial value on the key's N replicas."""
        for node in self.ring.preference_list(key, self.n):
            self._apply(node, key, _LOADED, value)

    def read(self, node: int, key: Key, reply: Reply) -> None:
        """Answer from the home node's copy; fetch it first if the node holds none.

        The fetched copy is kept (and subscribed) only if the node served the key
        within the last `lease_ms` too: a key asked for once is answered and not cached.
        """
        now = self.env.now
        served = self.served_at[node]
        last = served.get(key, _NEVER)
        served[key] = now
        entry = self.store[node].get(key)
        if entry is None and node not in self.ring.preference_list(key, self.n):
            self.pending_fetch[node].setdefault(key, []).append(reply)
            if key not in self.fetching[node]:
                # The first asker fetches; so does a later one once a round of retries
                # ran out unanswered (a cut dropped them: nothing else would retry).
                keep = self.cache_on_first_read or now - last <= self.lease_ms
                self._fetch(node, key, 0, keep)
            return
        reply(self._read_result(entry))

    def designated_replica(self, node: int, key: Key) -> int:
        """The replica a non-replica `node` fetches `key` from first (spreads the load)."""
        replicas = self.ring.preference_list(key, self.n)
        return replicas[node % len(replicas)]

    def write(
        self,
        node: int,
        key: Key,
        value: Value,
        context: Version,
        conditional: bool,
        reply: Reply,
    ) -> None:
        """Apply locally, acknowledge at once, push to the other holders."""
        self.served_at[node][key] = self.world.now
        entry = self.store[node].get(key)
        if conditional:
            current = entry[0] if entry is not None else None
            if current != context:
                reply(WriteResult(Status.CONFLICT, current, "version changed"))
                return
        stamp = (self.clocks.now(node), node)
        self.written_at[stamp] = self.world.now
        if entry is not None and stamp <= entry[0]:
            # Last writer wins on skewed clocks: this write is already older than
            # what the node holds; it is acknowledged and lost.
            self.lost_on_arrival += 1
        self._apply(node, key, stamp, value)
        reply(WriteResult(Status.OK, stamp))
        self._push(node, key, stamp, value)

    # ------------------------------------------------------------------ faults

    def crash(self, node: int) -> None:
        """Locks and in-flight fetches are volatile; data too unless the cluster is durable."""
        self.locks[node].clear()
        self.pending_fetch[node].clear()
        self.fetching[node].clear()  # its retry timers find nothing and stop
        self.served_at[node].clear()
        if not self.durable:
            for key in self.store[node]:
                self.holders[key].discard(node)
                self.dirty.add(key)
            self.store[node].clear()
            self.subscribers[node].clear()
            self.source[node].clear()

    def restart(self, node: int) -> None:
        """Nothing to rebuild: weak mode has no recovery protocol."""

    # ------------------------------------------------------------------ protocol

    def _apply(self, node: int, key: Key, stamp: Stamp, value: Value) -> bool:
        store = self.store[node]
        entry = store.get(key)
        if entry is not None:
            loser = stamp if entry[0] >= stamp else entry[0]
            winner = entry[0] if loser is stamp else stamp
            written = self.written_at
            if written.get(loser, _NEVER) > written.get(winner, _NEVER):
                # Written later in real time, yet older by its (skewed) stamp: a write
                # that clock skew made last-writer-wins discard.
                self.skew_discarded.add(loser)
            if loser is stamp:
                return False
        store[key] = (stamp, value)
        holders = self.holders.get(key)
        if holders is None:
            holders = self.holders[key] = set()
        holders.add(node)
        self.dirty.add(key)
        return True

    def _push(self, node: int, key: Key, stamp: Stamp, value: Value) -> None:
        """Send `node`'s write to the other replicas and to its own subscribers."""
        replicas = self.ring.preference_list(key, self.n)
        via = -1
        if node not in replicas:
            # A non-replica writer: subscribed at its source, or from now on at its
            # designated replica (a write with no fetch before it).
            sources = self.source[node]
            via = sources.get(key, -1)
            if via < 0:
                via = sources[key] = self.designated_replica(node, key)
        msg = Push(key, stamp, value, node, self.epochs[node].get(key, 0), via)
        send = self.net.send
        for replica in replicas:
            if replica != node:
                send(node, replica, msg)
        subs = self.subscribers[node].get(key)
        if subs:
            for sub in sorted(subs):
                send(node, sub, msg)

    def _on_push(self, src: int, dst: int, msg: Push) -> None:
        key = msg.key
        replicas = self.ring.preference_list(key, self.n)
        if dst not in replicas:
            # A subscriber: its lease runs from the last request it served for the key.
            if self.world.now - self.served_at[dst].get(key, _NEVER) > self.lease_ms:
                entry = self.store[dst].get(key)
                if entry is None:
                    self._lapse(src, dst, key)
                    return
                if entry[0] <= msg.stamp:
                    # Lapsed, and the sender holds this value or a later one: nothing is
                    # lost by dropping the copy (applied first, for LWW's accounting). A
                    # newer copy (a write of its own the replicas lack) stays subscribed.
                    self._apply(dst, key, msg.stamp, msg.value)
                    self._lapse(src, dst, key)
                    return
            self._apply(dst, key, msg.stamp, msg.value)
            return
        self._apply(dst, key, msg.stamp, msg.value)
        if msg.via == dst:
            # A subscriber's own write, and this replica is its source: subscribe it
            # (the other replicas got the same push and must not).
            subs: dict[int, int] | None = self._subscribe(dst, key, src, msg.epoch)
        else:
            subs = self.subscribers[dst].get(key)
        if subs:
            # Each subscriber is subscribed at one replica, so that replica passes on
            # every write it gets, whoever made it: one hop, to all but the sender
            # and the origin (which hold it); subscribers never forward.
            send = self.net.send
            origin = msg.origin
            for sub in sorted(subs):
                if sub != src and sub != origin:
                    send(dst, sub, msg)

    def _subscribe(self, replica: int, key: Key, node: int, epoch: int) -> dict[int, int]:
        """Record `node` as a subscriber of `replica` for `key` (at the later epoch)."""
        subs = self.subscribers[replica].get(key)
        if subs is None:
            subs = self.subscribers[replica][key] = {}
        if subs.get(node, -1) < epoch:
            subs[node] = epoch
        return subs

    def _lapse(self, src: int, node: int, key: Key) -> None:
        """`node`'s lease on `key` ran out: drop its copy and tell `src` to push no more."""
        if self.store[node].pop(key, None) is not None:
            self.holders[key].discard(node)
            self.dirty.add(key)
            self.lapses += 1
        self.served_at[node].pop(key, None)
        self.source[node].pop(key, None)  # the next fetch or write chooses again
        # A new epoch, larger than any the node subscribed with: the Unsubscribe ends
        # those, and not a subscription its next Fetch makes (which may arrive first).
        self._last_epoch += 1
        self.epochs[node][key] = self._last_epoch
        self.net.send(node, src, Unsubscribe(key, self._last_epoch))

    def _on_unsubscribe(self, src: int, dst: int, msg: Unsubscribe) -> None:
        subs = self.subscribers[dst].get(msg.key)
        if subs is not None and subs.get(src, msg.epoch) < msg.epoch:
            del subs[src]
            if not subs:
                del self.subscribers[dst][msg.key]

    def _fetch(self, node: int, key: Key, attempt: int, keep: bool) -> None:
        """Ask the `attempt`-th replica after `node`'s designated one, and arm the retry;
        `keep`: the node will keep the copy (and the replica subscribes it)."""
        replicas = self.ring.preference_list(key, self.n)
        replica = replicas[(node + attempt) % len(replicas)]
        self._last_generation += 1
        generation = self._last_generation
        self.fetching[node][key] = (generation, attempt, keep)
        self.net.send(node, replica, Fetch(key, self.epochs[node].get(key, 0), keep))
        due = self.env.now + FETCH_RETRY_MS
        self._due.append((due, node, key, generation))
        if self._retry_timer_at is None:
            self._arm_retries(due)

    def _arm_retries(self, at: float) -> None:
        self._retry_timer_at = at
        self.world.env.call_at(at, self._retry_due, at)

    def _retry_due(self, armed_at: float) -> None:
        """The retry timer: retry every live fetch now due, re-arm for the next live one.

        One timer for all fetches, not one each (a fetch is nearly always answered
        long before its retry: at 1,000 nodes that was a heap entry per cold read).
        Entries whose fetch was answered, crashed or superseded are dropped as met.
        """
        if armed_at != self._retry_timer_at:
            return
        self._retry_timer_at = _RETRYING  # a retry's own fetch must not arm a timer
        now = self.world.now
        due = self._due
        fetching = self.fetching
        while due:
            at, node, key, generation = due[0]
            current = fetching[node].get(key)
            if current is None or current[0] != generation:
                due.popleft()  # answered, crashed or superseded: no retry
                continue
            if at > now:
                self._arm_retries(at)
                return
            due.popleft()
            self._fetch_timeout(node, key, current)
        self._retry_timer_at = None

    def _fetch_timeout(self, node: int, key: Key, current: tuple[int, int, bool]) -> None:
        """No reply within FETCH_RETRY_MS: speculative retry at the next replica.

        Cassandra's rapid read protection. After all N were asked the round ends,
        and the next read starts another, so a node cut off from every replica does
        not tick forever.
        """
        attempt = current[1] + 1
        if not self.pending_fetch[node].get(key) or attempt >= len(
            self.ring.preference_list(key, self.n)
        ):
            del self.fetching[node][key]
            return
        self._fetch(node, key, attempt, current[2])

    def _on_fetch(self, src: int, dst: int, msg: Fetch) -> None:
        if msg.keep:
            self._subscribe(dst, msg.key, src, msg.epoch)
        entry = self.store[dst].get(msg.key)
        stamp, value = entry if entry is not None else (_ZERO, None)
        self.net.send(dst, src, FetchReply(msg.key, stamp, value, msg.epoch, msg.keep))

    def _on_fetch_reply(self, src: int, dst: int, msg: FetchReply) -> None:
        if msg.epoch != self.epochs[dst].get(msg.key, 0):
            # Asked before a lapse (a reply slower than the lease): the replica may no
            # longer push to this node, so its value must not become a served copy. A
            # reader still waiting is answered by the next fetch (FETCH_RETRY_MS).
            return
        key = msg.key
        if msg.keep and msg.value is not None:
            self._apply(dst, key, msg.stamp, msg.value)
        waiting = self.pending_fetch[dst].pop(key, None)
        self.fetching[dst].pop(key, None)  # its retry timer is stale now
        if msg.keep:
            if not waiting:
                # A later reply (an overlapping retry's) leaves the source as it was.
                self.source[dst].setdefault(key, src)
                return
            # The replica that answered the readers is the source (a write made meanwhile
            # named the designated one, which a cut may have kept its push from).
            self.source[dst][key] = src
            self.served_at[dst][key] = self.env.now  # the lease runs from the answer
        elif not waiting:
            return
        entry = self.store[dst].get(key)
        if not msg.keep and msg.value is not None and (entry is None or entry[0] < msg.stamp):
            # A copy fetched for this read only: it answers and is not kept (unless the
            # node came to hold a later one meanwhile, by a write of its own).
            entry = (msg.stamp, msg.value)
        result = self._read_result(entry)
        for reply in waiting:
            reply(result)

    @staticmethod
    def _read_result(entry: tuple[Stamp, Value] | None) -> ReadResult:
        if entry is None:
            return ReadResult(Status.OK)
        return ReadResult(Status.OK, (entry[1],), entry[0])

    # ------------------------------------------------------------------ observation

    def stored_keys(self) -> Iterable[Key]:
        """Every key some node holds."""
        return sorted(self.holders)

    def _live_copies(self, key: Key) -> list[tuple[Stamp, Value] | None]:
        """Each live replica's and subscriber's entry for key (None where it has no copy)."""
        down = self.world.links.down
        nodes = set(self.ring.preference_list(key, self.n)) | self.holders.get(key, set())
        return [self.store[n].get(key) for n in sorted(nodes) if n not in down]

    def divergent_keys(self) -> Iterable[Key]:
        """Keys whose live holders hold different stamps (checks only keys written since)."""
        still = set()
        for key in self.dirty:
            if len({e[0] if e else None for e in self._live_copies(key)}) > 1:
                still.add(key)
        self.dirty = still
        return sorted(still)

    def repair_target(self, key: Key) -> Any:
        """The latest stamp any live holder has for `key` (what LWW converges on)."""
        return max((e[0] for e in self._live_copies(key) if e is not None), default=None)

    def repaired(self, key: Key, target: Any) -> bool:
        """Every live holder has `target`'s stamp or a later one."""
        if target is None:
            return True
        return all(e is not None and e[0] >= target for e in self._live_copies(key))

    def final(self, key: Key) -> KeyState:
        """The last writer's value across the live holders (what LWW replication would keep)."""
        copies = self._live_copies(key)
        entries = [e for e in copies if e is not None]
        if not entries:
            return KeyState((), True, 0)
        best = max(entries, key=lambda e: e[0])
        agree = len({e[0] if e else None for e in copies}) == 1
        return KeyState((best[1],), agree, len(copies))

    def export_version(self, version: Version) -> Any:
        """(timestamp, node) as a JSON list; compared lexicographically.

        Made once per stamp and shared by the ops that record it (most reads return
        a value many others read too); callers must not mutate it.
        """
        if version is None:
            return None
        exported = self._exported.get(version)
        if exported is None:
            exported = self._exported[version] = [round(version[0], 6), version[1]]
        return exported

    def stats(self) -> dict[str, Any]:
        """Writes acknowledged but already older than the value they landed on; writes that
        clock skew made last-writer-wins discard (later in real time, older by stamp);
        subscribers' copies dropped because their lease lapsed."""
        return {
            "lww_lost_on_arrival": self.lost_on_arrival,
            "lww_discarded": len(self.skew_discarded),
            "lease_lapses": self.lapses,
        }


MODE = ModeSpec(
    name="weak",
    settings=WeakSettings,
    build=WeakMode,
    counters=("lww_lost_on_arrival", "lww_discarded", "lease_lapses"),
    summary="the home node answers alone, pushes writes best effort; last writer wins",
    colour="tab:red",
    order=20,
)
