"""Eventual mode, Dynamo style: quorums, vector clocks, siblings, hinted handoff, anti-entropy.

The pieces, one module each: `storage` (sibling sets and Merkle digests per
node), `coordinator` (N/R/W quorums, sloppy quorum, read repair, the failure
detector), `handoff` (hinted handoff), `antientropy` (Merkle-tree sync).
Versions are dotted vector clocks whose actors are nodes, a node taking a new
actor id when it restarts without its data. A write's `context` is the merged
clock of the read it follows: the new version descends every sibling the
client saw, so writing a resolver's merge back collapses them. A conditional
write first checks, on a read quorum, that the merged clock still equals the
context.
Conflicts are not settled here: reads return every causally-latest sibling
and the client's resolver merges them (DESIGN.md, "Client-side resolvers").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from pydantic import Field

from sim.config.cluster import ClusterConfig, ModeSettings, check_at_most
from sim.engine.world import World
from sim.modes.base import Key, KeyState, LeaseLocks, LocalLocks, ModeSpec, Reply, Value, Version
from sim.modes.eventual.antientropy import AntiEntropy
from sim.modes.eventual.coordinator import Coordinators
from sim.modes.eventual.handoff import HintedHandoff
from sim.modes.eventual.storage import NodeStorage, state_of
from sim.vclock import VClock, Versioned, merge_siblings


class EventualSettings(ModeSettings):
    """`[cluster.eventual]`: Dynamo's quorums, sloppy quorum, repair and clock size."""

    read_quorum: int = Field(2, ge=1)
    """R: replies a read waits for."""
    write_quorum: int = Field(2, ge=1)
    """W: acks a write waits for."""
    sloppy_quorum: bool = True
    """Write to fall-back nodes with a hint when replicas do not answer (Dynamo §4.6)."""
    anti_entropy_ms: float = Field(1000.0, ge=0.0)
    """Period of Merkle-tree anti-entropy; 0 turns it off (Dynamo §4.7)."""
    handoff_ms: float = Field(500.0, gt=0.0)
    """How often hinted versions are offered back to their owner."""
    peer_timeout_ms: float = Field(50.0, gt=0.0)
    """A replica silent this long is suspected; the request tries a fall-back."""
    vclock_limit: int = Field(10, ge=1)
    """Vector clock entries kept before the oldest are pruned."""
    read_repair: bool = True
    """After a read, send the merged set to every replica that lacked part of it (Dynamo §4.5)."""

    QUIET: ClassVar[Mapping[str, Any]] = {"read_repair": False, "anti_entropy_ms": 0.0}

    def check(self, cluster: ClusterConfig, path: str) -> None:
        """R and W are at most N."""
        for name in ("read_quorum", "write_quorum"):
            check_at_most(
                getattr(self, name), cluster.replication, f"{path}.{name}", "cluster.replication"
            )


class EventualMode(LocalLocks):
    """Dynamo: any node coordinates; R and W of N replicas; siblings go to the client."""

    name = "eventual"

    read: Callable[[int, Key, Reply], None]
    """Quorum read coordinated by `node`: the coordinators' own method, bound here so that a
    request costs one call less (the hot path)."""

    def __init__(self, world: World, settings: EventualSettings) -> None:
        self.world = world
        self.ring = world.ring
        self.links = world.links
        self.n = world.replication
        self.durable = world.durable
        self.dirty: set[str] = set()
        self.storage = [NodeStorage(node, self.dirty) for node in range(world.nodes)]
        self.locks = [LeaseLocks() for _ in range(world.nodes)]
        self.coordinators = Coordinators(world, self.storage, settings)
        self.handoff = HintedHandoff(world, self.storage, settings.handoff_ms)
        self.anti_entropy = (
            AntiEntropy(world, self.storage, settings.anti_entropy_ms)
            if settings.anti_entropy_ms > 0
            else None
        )
        self._keys: dict[str, None] = {}
        self.read = self.coordinators.read

    # ------------------------------------------------------------------ client API

    def load(self, key: Key, value: Value) -> None:
        """The initial version, with an empty clock, on the key's N replicas."""
        version = Versioned.new(VClock(), None, value, 0.0)
        for node in self.ring.preference_list(key, self.n):
            self.storage[node].merge(key, (version,))
        self._keys[key] = None

    def write(
        self, node: int, key: Key, value: Value, context: Version, conditional: bool, reply: Reply
    ) -> None:
        """Quorum write coordinated by `node`; `context` is the read's merged clock."""
        self._keys[key] = None
        self.coordinators.write(node, key, value, context, conditional, reply)

    # ------------------------------------------------------------------ faults

    def crash(self, node: int) -> None:
        """Requests in flight, suspicions and locks are lost; data too unless durable.

        A node that lost its data writes on as a new actor (`NodeStorage.reincarnate`).
        """
        self.coordinators.crash(node)
        self.locks[node].clear()
        if not self.durable:
            self.storage[node].wipe()
            self.storage[node].reincarnate()

    def restart(self, node: int) -> None:
        """Nothing to replay: anti-entropy and handoff bring the node up to date."""

    # ------------------------------------------------------------------ observation

    def stored_keys(self) -> Iterable[Key]:
        """Every key loaded or written."""
        return list(self._keys)

    def _replica_states(self, key: Key) -> list[Any]:
        down = self.links.down
        return [
            self.storage[n].data.get(key, ())
            for n in self.ring.preference_list(key, self.n)
            if n not in down
        ]

    def divergent_keys(self) -> Iterable[Key]:
        """Keys whose live replicas differ, or that hints still hold for an absent owner."""
        still = {key for store in self.storage for key in store.hints}
        for key in self.dirty:
            if key not in still and len({state_of(s) for s in self._replica_states(key)}) > 1:
                still.add(key)
        self.dirty.clear()
        self.dirty.update(still)
        return sorted(still)

    def repair_target(self, key: Key) -> Any:
        """The union of the live replicas' sibling sets and of the hints held for the key."""
        merged: tuple[Versioned, ...] = ()
        for siblings in self._replica_states(key):
            merged = merge_siblings(merged, siblings)
        for store in self.storage:
            for versions in store.hints.get(key, {}).values():
                merged = merge_siblings(merged, versions)
        return merged

    def repaired(self, key: Key, target: Any) -> bool:
        """Every live replica's sibling set already dominates `target` (merging adds nothing)."""
        return all(merge_siblings(s, target) == s for s in self._replica_states(key))

    def final(self, key: Key) -> KeyState:
        """The union of the live replicas' sibling sets, and whether they were equal."""
        states = self._replica_states(key)
        merged: tuple[Versioned, ...] = ()
        for siblings in states:
            merged = merge_siblings(merged, siblings)
        agree = len({state_of(s) for s in states}) <= 1
        return KeyState(tuple(v.value for v in merged), agree, len(states))

    def export_version(self, version: Version) -> Any:
        """A vector clock as {actor: counter} (compared entry by entry; `VClock.to_json`).

        An actor is written as its node id, "3", or after the node's n-th
        restart without its data as "3:n".
        """
        return None if version is None else version.to_json()

    def stats(self) -> dict[str, Any]:
        """Pruned clock entries, hinted writes and handoffs, read repairs, anti-entropy work."""
        c = self.coordinators
        ae = self.anti_entropy
        return {
            "vclock_pruned": c.pruned,
            "hinted_writes": c.hinted,
            "handoffs_delivered": self.handoff.delivered,
            "read_repairs": c.read_repairs,
            "anti_entropy_rounds": ae.rounds if ae else 0,
            "anti_entropy_in_sync": ae.in_sync if ae else 0,
            "anti_entropy_keys_sent": ae.keys_sent if ae else 0,
            "hints_pending": sum(len(h) for s in self.storage for h in s.hints.values()),
        }


MODE = ModeSpec(
    name="eventual",
    settings=EventualSettings,
    build=EventualMode,
    message_kinds=("handoff", "sync"),
    counters=(
        "vclock_pruned",
        "hinted_writes",
        "handoffs_delivered",
        "read_repairs",
        "anti_entropy_rounds",
        "anti_entropy_in_sync",
        "anti_entropy_keys_sent",
        "hints_pending",
    ),
    summary="Dynamo: N/R/W quorums, vector clocks, siblings to a client-side resolver",
    colour="tab:green",
    order=30,
)
