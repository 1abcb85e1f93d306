"""The replicated state machine: versioned values, lease locks and the table of applied requests.

Every member of a group applies the same committed entries in log order, and
`apply` is deterministic, so every member reaches the same state (Raft §5.3,
State Machine Safety). A key holds `(value, version)` where the version is the
log index of the write that set it (0 for the initial load). Lock leases are
judged against the timestamp the leader wrote into the entry, never against a
replica's own clock, so replicas agree on who holds a lock. Each client request
is applied at most once: its result is kept by request id and a duplicate (a
retry after a lost answer or a leader change) gets the first result back
without running again (Raft §8, "linearizable semantics").
"""

from __future__ import annotations

from typing import Any

from sim.errors import InvariantError
from sim.modes.base import LeaseLocks, ReadResult, Status, WriteResult
from sim.modes.strong.log import LOAD, LOCK, UNLOCK, WRITE, Command

_ABSENT = ReadResult(Status.OK)


class StateMachine:
    """One replica's applied state."""

    __slots__ = ("data", "duplicates", "locks", "results")

    def __init__(self) -> None:
        self.data: dict[str, tuple[Any, int]] = {}
        self.locks = LeaseLocks()
        self.results: dict[int, WriteResult] = {}
        self.duplicates = 0

    def apply(self, index: int, command: Command) -> WriteResult | None:
        """Apply the command of entry `index`; the result for its client (None for a load)."""
        op = command.op
        if op == LOAD:
            self.data[command.key] = (command.value, 0)
            return None
        done = self.results.get(command.req)
        if done is not None:
            self.duplicates += 1
            return done
        key = command.key
        if op == WRITE:
            if command.conditional:
                held = self.data.get(key)
                current = None if held is None else held[1]
                if current != command.context:
                    result = WriteResult(Status.CONFLICT, current, "version changed")
                    self.results[command.req] = result
                    return result
            self.data[key] = (command.value, index)
            result = WriteResult(Status.OK, index)
        elif op == LOCK:
            granted = self.locks.acquire(key, command.owner, command.stamp_ms, command.lease_ms)
            result = WriteResult(Status.OK) if granted else WriteResult(Status.BUSY, None, "busy")
        elif op == UNLOCK:
            if self.locks.release(key, command.owner, command.stamp_ms):
                result = WriteResult(Status.OK)
            else:
                result = WriteResult(Status.FAIL, None, "lease-expired")
        else:
            raise InvariantError(f"unknown command {op!r}")
        self.results[command.req] = result
        return result

    def read(self, key: str) -> ReadResult:
        """The key's value and version as a read returns it (no siblings in strong mode)."""
        held = self.data.get(key)
        if held is None:
            return _ABSENT
        return ReadResult(Status.OK, (held[0],), held[1])

    def version(self, key: str) -> int | None:
        """The key's version here (None if absent): what divergence checks compare."""
        held = self.data.get(key)
        return None if held is None else held[1]
