"""Strong mode: linearizable reads and writes through one Raft group per replica set (multi-Raft).

The pieces, one module each: `log` (the Raft log and commands), `machine`
(the replicated state machine), `raft` (one group: election, replication,
commit, ReadIndex reads, check-quorum), `multiraft` (key -> group, and the
home node's proxy to the leader), `txn` (atomic commit across groups: two-phase
commit whose every step is a log entry), `messages`.

Contract with clients (modes/base.py):
- Versions are log indices: a key's version is the index of the entry that
  last wrote it, 0 for the initial load. A write's `context` is the version the
  client read (None for an absent key); a conditional write applies only if the
  key's version is still that, checked in the state machine, so the check is
  global (else CONFLICT, and nothing changed).
- Reads are linearizable by ReadIndex (the leader confirms it still leads with
  a heartbeat round to a majority, then answers from its state machine once
  applied up to its commit index); they are not written to the log.
- Locks are replicated lease locks (base.LeaseLocks) decided against the
  timestamp the leader put into the entry; unlock after the lease ran out is
  FAIL "lease-expired". Orders fence their write with the version read under
  the lock, so a holder whose lease expired cannot overwrite its successor.
- Under a partition only a majority of a group's members can elect a leader
  and commit; on the other side reads fail ("unavailable") and writes get no
  answer (the client reports them as unknown), never a false OK or FAIL.
- Atomic commit (`commit`, txn.py): every write of a transaction or none,
  across groups. OK carries the commit's version (the index of the decision in
  the group of the first key; each key's own version becomes the index of the
  entry that applied it in its group). A read or write that meets a
  transaction's intent waits for its outcome at the leader; a write that an
  intent reached first in the log gets CONFLICT "intent".

Quiescence (raft.py, CockroachDB's quiesced ranges): a group with nothing in
flight stops its heartbeats and its followers' election timers, so idle groups
cost nothing however many there are; a request, a read or a fault wakes it.
Quiesced followers watch their leader's node through one liveness heartbeat
per node pair every `liveness_ms` and replace a leader gone silent within
about three periods and an election (a request reaching the group wakes it at
once). Safety is unchanged: only timers stop, no rule of Raft does.

Durability: with `cluster.durable` (the default) a replica's term, vote and log
survive a crash, and after a restart it rebuilds its state machine by applying
the log up to the commit index the leader tells it. Raft's safety rests on
that. With `durable = false` a node restarts with nothing (the initial load
comes back from the leader, as a log entry); it may then vote twice in a term
or help elect a leader missing committed entries, so acknowledged writes can be
lost: that is the measured cost, counted as `lost_committed` in stats(): the
committed commands the members' logs no longer keep (RaftGroup.lost_committed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from sim.config.cluster import ClusterConfig, ModeSettings
from sim.config.table import as_tuple
from sim.engine.world import World
from sim.errors import ScenarioError
from sim.modes.base import Key, KeyState, ModeSpec, Reply, Status, TxnWrite, Value, Version
from sim.modes.strong.log import LOAD, LOCK, UNLOCK, WRITE, Command
from sim.modes.strong.messages import ReadCommand
from sim.modes.strong.multiraft import MultiRaft
from sim.modes.strong.raft import RaftStats

__all__ = ["MODE", "StrongMode", "StrongSettings"]


class StrongSettings(ModeSettings):
    """`[cluster.strong]`: Raft's timers, quiescence, and the home node's proxy time-out."""

    election_timeout_ms: Annotated[tuple[float, float], BeforeValidator(as_tuple)] = (
        150.0,
        300.0,
    )
    """[low, high] of the randomised election timeout (Raft §5.2)."""
    heartbeat_ms: float = Field(50.0, gt=0.0)
    """The leader's heartbeat period; must be below the election timeout's low end."""
    peer_timeout_ms: float = Field(50.0, gt=0.0)
    """The proxy tries the next member after this long without an answer."""
    quiesce: bool = True
    """Idle groups quiesce: no heartbeats, no election timers, until work or a fault wakes them."""
    liveness_ms: float = Field(500.0, gt=0.0)
    """Period of the per-node-pair liveness heartbeat that quiesced followers watch their
    leader's node with; silent for twice this, the leader is suspected and replaced."""

    def check(self, cluster: ClusterConfig, path: str) -> None:
        """Positive, ordered election timeouts; heartbeats faster than the lowest."""
        low, high = self.election_timeout_ms
        for i, value in enumerate((low, high)):
            if value <= 0:
                raise ScenarioError(f"{path}.election_timeout_ms[{i}]: must be > 0 (got {value})")
        if high < low:
            raise ScenarioError(
                f"{path}.election_timeout_ms: must have low <= high (got {[low, high]})"
            )
        if self.heartbeat_ms >= low:
            raise ScenarioError(
                f"{path}.heartbeat_ms: must be < {path}.election_timeout_ms[0] "
                f"(got {self.heartbeat_ms} >= {low})"
            )


class StrongMode:
    """Raft per replica set: a leader orders every write, a majority must store it."""

    name = "strong"

    def __init__(self, world: World, settings: StrongSettings) -> None:
        self.world = world
        self.links = world.links
        self._keys: dict[Key, None] = {}
        self._dirty: dict[Key, None] = {}
        self.raft = MultiRaft(world, settings, self._touched)

    def _touched(self, key: Key) -> None:
        self._keys[key] = None
        self._dirty[key] = None

    # ------------------------------------------------------------------ client API

    def load(self, key: Key, value: Value) -> None:
        """Install `value` on every member of the key's group, committed, at version 0."""
        self.raft.group_for(key).load(Command(LOAD, key, value=value))

    def read(self, node: int, key: Key, reply: Reply) -> None:
        """Linearizable read through the group's leader (ReadIndex)."""
        raft = self.raft
        raft.submit(node, raft.new_request(), key, ReadCommand(key), reply)

    def write(
        self, node: int, key: Key, value: Value, context: Version, conditional: bool, reply: Reply
    ) -> None:
        """Write through the leader's log; conditional on the version being `context`."""
        raft = self.raft
        rid = raft.new_request()
        raft.submit(node, rid, key, Command(WRITE, key, rid, value, context, conditional), reply)

    def lock(self, node: int, key: Key, owner: str, lease_ms: float, reply: Reply) -> None:
        """Take a replicated lease lock: OK, or BUSY while another owner's lease runs."""
        raft = self.raft
        rid = raft.new_request()
        raft.submit(node, rid, key, Command(LOCK, key, rid, owner=owner, lease_ms=lease_ms), reply)

    def unlock(self, node: int, key: Key, owner: str, reply: Reply) -> None:
        """Release the lock; FAIL "lease-expired" if the lease ran out first."""
        raft = self.raft
        rid = raft.new_request()
        raft.submit(node, rid, key, Command(UNLOCK, key, rid, owner=owner), reply)

    def commit(self, node: int, txn: str, writes: tuple[TxnWrite, ...], reply: Reply) -> None:
        """Write every key of `writes` or none (AtomicCommit; two-phase commit, txn.py).

        A conditional write's `context` is the key's version read, as for
        `write`. Answers OK (version: the commit's), CONFLICT (error: the key
        whose version changed or that another transaction holds), FAIL (aborted:
        "vote-timeout" when a group did not vote in time, "recovered-abort" when a
        participant's recovery aborted it first), or nothing when the decision
        could not be logged (unknown). Retries with the same `txn` apply once.
        """
        self.raft.commit(node, txn, writes, reply)

    # ------------------------------------------------------------------ faults

    def crash(self, node: int) -> None:
        """Volatile state goes (commit index, state machine, leadership, requests, timers)."""
        self.raft.crash(node)
        self._mark_groups_of(node)

    def restart(self, node: int) -> None:
        """Back as a follower; the log is replayed once the leader tells the commit index."""
        self.raft.restart(node)
        self._mark_groups_of(node)

    def _mark_groups_of(self, node: int) -> None:
        for group in self.raft.groups_of_node[node]:
            for key in group.keys:
                self._dirty[key] = None

    # ------------------------------------------------------------------ observation

    def stored_keys(self) -> Iterable[Key]:
        """Every key some replica has applied a value for (loaded or written)."""
        return list(self._keys)

    def _live_versions(self, key: Key) -> set[int | None]:
        group = self.raft.group_of(key)
        if group is None:
            return set()
        return {r.sm.version(key) for r in group.live()}

    def divergent_keys(self) -> Iterable[Key]:
        """Keys whose live members have applied different versions (checks keys changed since)."""
        still = {key: None for key in self._dirty if len(self._live_versions(key)) > 1}
        self._dirty = still
        return sorted(still)

    def repair_target(self, key: Key) -> Any:
        """The highest version of `key` a live member has applied (-1: none)."""
        versions = self._live_versions(key)
        return max((-1 if v is None else v for v in versions), default=-1)

    def repaired(self, key: Key, target: Any) -> bool:
        """Every live member has applied `target`'s version of `key` or a later one."""
        versions = self._live_versions(key)
        return min((-1 if v is None else v for v in versions), default=target) >= target

    def final(self, key: Key) -> KeyState:
        """The most advanced live member's value, and whether every live member agrees."""
        group = self.raft.group_of(key)
        live = group.live() if group is not None else []
        if not live:
            return KeyState((), True, 0)
        best = max(live, key=lambda r: r.last_applied)
        held = best.sm.data.get(key)
        agree = len({r.sm.version(key) for r in live}) == 1
        return KeyState(() if held is None else (held[0],), agree, len(live))

    def export_version(self, version: Version) -> Any:
        """A log index, as an int."""
        return int(version)

    def stats(self) -> dict[str, Any]:
        """Raft's and the proxies' counters, lock expiries, duplicates, transactions, intents."""
        out = self.raft.stats()
        groups = self.raft.groups
        # Per group, the most advanced replica's count (every replica counts the same entries).
        out["lock_expiries"] = sum(
            max(r.sm.locks.expiries for r in g.replicas.values()) for g in groups
        )
        out["duplicates_suppressed"] = sum(
            max(r.sm.duplicates for r in g.replicas.values()) for g in groups
        )
        out["intent_conflicts"] = sum(
            max(r.sm.intent_conflicts for r in g.replicas.values()) for g in groups
        )
        # Decisions, from the coordinator groups' most advanced replicas.
        committed = aborted = conflicts = 0
        for g in groups:
            decisions = max((r.sm.decisions for r in g.replicas.values()), key=len)
            for decision in decisions.values():
                if decision.status is Status.OK:
                    committed += 1
                else:
                    aborted += 1
                    conflicts += decision.status is Status.CONFLICT
        out["txn_committed"] = committed
        out["txn_aborted"] = aborted
        out["txn_conflicts"] = conflicts
        return out


MODE = ModeSpec(
    name="strong",
    settings=StrongSettings,
    build=StrongMode,
    message_kinds=("forward", "vote", "append", "liveness"),
    counters=(
        "groups",
        *RaftStats.__slots__,
        "lost_committed",
        "max_term",
        "forwards",
        "proxy_retries",
        "proxy_give_ups",
        "lock_expiries",
        "duplicates_suppressed",
        "txn_started",
        "txn_committed",
        "txn_aborted",
        "txn_conflicts",
        "txn_recoveries",
        "intent_conflicts",
    ),
    summary="linearizable: a Raft group per replica set; only a majority serves",
    atomic_commit=True,
    colour="tab:blue",
    order=10,
)
