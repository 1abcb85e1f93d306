"""The contract every consistency mode implements, how a mode describes itself, and its answers.

A mode is one module (or package) that declares `MODE = ModeSpec(...)`: its
name, its own settings table, the message kinds it sends, the counters it
reports, and `build(world, settings)`. The registry (sim/plugins.py) finds it;
nothing else lists modes. docs/design.md, "How to add a mode", walks through it.

A mode owns the replicas' state and the protocol between them; it knows
nothing of the shop, the history or metrics. Clients call it with a `reply`
callback; a mode calls `reply` at most once per request (late or duplicate
replies are ignored by the client, which also enforces the timeout).
`Version` values are opaque to callers: a (timestamp, node) pair in weak,
a vector clock in eventual, a log index in strong. Each mode's docstring says
what a write's `context` means there.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from sim.config.cluster import ModeSettings
from sim.engine.network import message
from sim.engine.world import World

Key = str
Value = Any
Version = Any


class Status(StrEnum):
    """How a request ended, from the client's point of view."""

    OK = "ok"
    FAIL = "fail"  # certainly not applied (node down, no quorum reachable, not the leader)
    CONFLICT = "conflict"  # a conditional write's version check failed: not applied
    BUSY = "busy"  # a lock is held by another owner
    TIMEOUT = "timeout"  # no answer in time: the outcome is unknown


@message
class ReadResult:
    """A read's answer: the causally-latest values (none if the key is absent) and their context."""

    status: Status
    siblings: tuple[Value, ...] = ()
    version: Version = None
    error: str | None = None


@message
class WriteResult:
    """A write's (or lock's) answer and the version the store gave the value."""

    status: Status
    version: Version = None
    error: str | None = None


Reply = Callable[[Any], None]


@message
class TxnWrite:
    """One key's part of an atomic commit: a write, conditional on the key's version if asked."""

    key: Key
    value: Value
    context: Version = None
    conditional: bool = False


@dataclass(frozen=True, slots=True)
class KeyState:
    """A key at the end of a run: the values the store would return, and whether replicas agree."""

    siblings: tuple[Value, ...]
    agree: bool
    replicas: int


class Mode(Protocol):
    """How replicas store, replicate and answer clients (one object per run)."""

    name: str

    def load(self, key: Key, value: Value) -> None:
        """Install `value` on every replica of `key` before the run (no messages)."""

    def read(self, node: int, key: Key, reply: Reply) -> None:
        """Read `key` through `node`; reply(ReadResult)."""

    def write(
        self,
        node: int,
        key: Key,
        value: Value,
        context: Version,
        conditional: bool,
        reply: Reply,
    ) -> None:
        """Write `value` through `node`; reply(WriteResult).

        `context` is the version the client read. With `conditional`, the write
        applies only if the store's version still equals it (else CONFLICT).
        """

    def lock(self, node: int, key: Key, owner: str, lease_ms: float, reply: Reply) -> None:
        """Take a lease lock on `key` for `owner`; reply(WriteResult OK or BUSY)."""

    def unlock(self, node: int, key: Key, owner: str, reply: Reply) -> None:
        """Release `owner`'s lock; FAIL with error "lease-expired" if the lease ran out."""

    def crash(self, node: int) -> None:
        """`node` crashed: drop its volatile state (durable state survives if configured)."""

    def restart(self, node: int) -> None:
        """`node` came back: rebuild from durable state, rejoin the protocol."""

    def divergent_keys(self) -> Iterable[Key]:
        """Keys whose live replicas do not (yet) hold the same state."""

    def repair_target(self, key: Key) -> Any:
        """What every live replica of `key` must hold, or supersede, to count as repaired.

        Taken when the last fault heals, for the keys that diverged then
        (`convergence_ms`); writes after that only supersede it.
        """

    def repaired(self, key: Key, target: Any) -> bool:
        """Whether every live replica of `key` holds `target` or something newer."""

    def stored_keys(self) -> Iterable[Key]:
        """Every key the store holds."""

    def final(self, key: Key) -> KeyState:
        """The state of `key` now (called after the run)."""

    def export_version(self, version: Version) -> Any:
        """A version as a JSON value for the history: a number or list (totally ordered)
        or a {node: counter} dict (a vector clock)."""

    def stats(self) -> dict[str, Any]:
        """Mode-specific counters for metrics (pruned clocks, handoffs, elections...)."""


class AtomicCommit(Protocol):
    """What a mode with `atomic_commit=True` in its spec adds: several keys written, all or none."""

    def commit(self, node: int, txn: str, writes: tuple[TxnWrite, ...], reply: Reply) -> None:
        """Apply every write of transaction `txn` or none, through `node`; reply(WriteResult).

        OK: all applied (`version`: the commit's version). CONFLICT: a
        conditional write's version check failed, nothing applied (`error`
        names the key). FAIL: certainly not applied (no leader reachable...).
        No answer: the outcome is unknown (the client's deadline reports it).
        Retries of one transaction carry the same `txn` id and apply at most once.
        """


@dataclass(frozen=True)
class ModeSpec:
    """What a mode module declares about itself (`MODE = ModeSpec(...)`).

    Attributes:
        name: the scenario's `cluster.mode` value.
        settings: its settings table class (`[cluster.<name>]`); a ModeSettings
            subclass, possibly with no fields.
        build: `build(world, settings)` -> the Mode object of one run.
        message_kinds: latency classes its messages use beyond the core four
            (write, ack, read, response); `network.latency_by_kind` accepts them.
        counters: the names of `Mode.stats()`, reported under the `mode` metric.
        summary: one line for listings.
        atomic_commit: whether its modes implement `AtomicCommit` (writes to several
            keys, all or none: what `shop.orders = "2pc"` needs).
        colour: a matplotlib colour for its lines in the experiments' figures.
        order: where it is listed among the modes.
    """

    name: str
    settings: type[ModeSettings]
    build: Callable[[World, Any], Mode]
    message_kinds: tuple[str, ...] = ()
    counters: tuple[str, ...] = ()
    summary: str = ""
    atomic_commit: bool = False
    colour: str = "tab:gray"
    order: int = 100


class LeaseLocks:
    """Lease locks on keys: a lock is free once its lease has run out (no process, no timer).

    Used by modes that keep locks on one node (weak, eventual) and as the state
    machine of strong mode's replicated locks.
    """

    __slots__ = ("_held", "expiries")

    def __init__(self) -> None:
        self._held: dict[Hashable, tuple[str, float]] = {}
        self.expiries = 0

    def acquire(self, key: Hashable, owner: str, now: float, lease_ms: float) -> bool:
        """Grant the lock to `owner` if free, expired, or already theirs (the lease renews)."""
        held = self._held.get(key)
        if held is not None and held[0] != owner:
            if held[1] > now:
                return False
            self.expiries += 1  # a holder's lease ran out before it released
        self._held[key] = (owner, now + lease_ms)
        return True

    def release(self, key: Hashable, owner: str, now: float) -> bool:
        """Release `owner`'s lock; False if its lease had expired or someone else holds it."""
        held = self._held.get(key)
        if held is None or held[0] != owner:
            return False
        del self._held[key]
        return held[1] > now

    def clear(self) -> None:
        """Forget every lock (a crash loses them: they are volatile)."""
        self._held.clear()


class LocalLocks:
    """Lease locks kept on the node that takes the request (weak and eventual modes).

    A lock on one node excludes only the buyers who come through that node:
    not a global lock, which is the point of measuring it. Expects `self.world`
    and `self.locks` (one LeaseLocks per node) on the mode.
    """

    world: World
    locks: list[LeaseLocks]

    def lock(self, node: int, key: Key, owner: str, lease_ms: float, reply: Reply) -> None:
        """Take the lock on `node`'s table: OK or BUSY at once."""
        granted = self.locks[node].acquire(key, owner, self.world.now, lease_ms)
        reply(WriteResult(Status.OK if granted else Status.BUSY))

    def unlock(self, node: int, key: Key, owner: str, reply: Reply) -> None:
        """Release it; FAIL "lease-expired" if the lease ran out first."""
        if self.locks[node].release(key, owner, self.world.now):
            reply(WriteResult(Status.OK))
        else:
            reply(WriteResult(Status.FAIL, None, "lease-expired"))
