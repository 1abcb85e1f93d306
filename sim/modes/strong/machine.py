"""The replicated state machine: versioned values, lease locks, intents, tables of applied requests.

Every member of a group applies the same committed entries in log order, and
`apply` is deterministic, so every member reaches the same state (Raft §5.3,
State Machine Safety). A key holds `(value, version)` where the version is the
log index of the write that set it (0 for the initial load). Lock leases are
judged against the timestamp the leader wrote into the entry, never against a
replica's own clock, so replicas agree on who holds a lock. Each client request
is applied at most once: its result is kept by request id and a duplicate (a
retry after a lost answer or a leader change) gets the first result back
without running again (Raft §8, "linearizable semantics").

Atomic commits (txn.py) add three tables, all rebuilt from the log like the
rest: `intents` (key -> the transaction prepared on it), `prepared` (the
PREPARE entry of each transaction holding intents here) and `txns` (each
transaction's state in this group), and, in a coordinator group, `decisions`
(the first DECIDE logged for each transaction). A write that finds an intent
on its key is refused (CONFLICT "intent"): it would otherwise slip between a
transaction's version check and its commit.
"""

from __future__ import annotations

from typing import Any

from sim.errors import InvariantError
from sim.modes.base import LeaseLocks, ReadResult, Status, WriteResult
from sim.modes.strong.log import (
    DECIDE,
    FINISH,
    LOAD,
    LOCK,
    PREPARE,
    UNLOCK,
    WRITE,
    Command,
    TxnCommand,
)

_ABSENT = ReadResult(Status.OK)

PREPARED = "prepared"
COMMITTED = "committed"
ABORTED = "aborted"
REFUSED = "refused"
"""A transaction's states in a participant group (`StateMachine.txns`)."""

_VOTE = {
    PREPARED: WriteResult(Status.OK),
    COMMITTED: WriteResult(Status.OK),
    ABORTED: WriteResult(Status.FAIL, None, "aborted"),
}
_DONE = WriteResult(Status.OK)


class StateMachine:
    """One replica's applied state."""

    __slots__ = (
        "data",
        "decisions",
        "duplicates",
        "intent_conflicts",
        "intents",
        "locks",
        "prepared",
        "refusals",
        "results",
        "txns",
    )

    def __init__(self) -> None:
        self.data: dict[str, tuple[Any, int]] = {}
        self.locks = LeaseLocks()
        self.results: dict[int, WriteResult] = {}
        self.duplicates = 0
        self.intents: dict[str, str] = {}  # key -> transaction holding it
        self.prepared: dict[str, TxnCommand] = {}  # transaction -> its PREPARE
        self.txns: dict[str, str] = {}  # transaction -> PREPARED, COMMITTED, ABORTED, REFUSED
        self.refusals: dict[str, WriteResult] = {}  # transaction -> the CONFLICT it voted
        self.decisions: dict[str, WriteResult] = {}  # coordinator: transaction -> outcome
        self.intent_conflicts = 0  # writes and prepares refused because of an intent

    def apply(self, index: int, command: Command | TxnCommand) -> WriteResult | None:
        """Apply the command of entry `index`; the result for its client (None for a load)."""
        op = command.op
        if op == LOAD:
            self.data[command.key] = (command.value, 0)
            return None
        if type(command) is TxnCommand:
            return self._apply_txn(index, command)
        done = self.results.get(command.req)
        if done is not None:
            self.duplicates += 1
            return done
        key = command.key
        if op == WRITE:
            if self.intents and key in self.intents:
                self.intent_conflicts += 1
                result = WriteResult(Status.CONFLICT, self.version(key), "intent")
                self.results[command.req] = result
                return result
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

    def txn_answer(self, command: TxnCommand) -> WriteResult | None:
        """What `command` answers if this state machine already applied its step (else None).

        A PREPARE answers the group's vote (OK once prepared or committed,
        FAIL "aborted", or the CONFLICT it voted); a DECIDE the logged outcome;
        a FINISH OK once the transaction is over here.
        """
        txn = command.txn
        if command.op == DECIDE:
            return self.decisions.get(txn)
        state = self.txns.get(txn)
        if state is None or (state == PREPARED and command.op == FINISH):
            return None
        if command.op == FINISH:
            return _DONE
        return self.refusals[txn] if state == REFUSED else _VOTE[state]

    def _apply_txn(self, index: int, command: TxnCommand) -> WriteResult:
        op = command.op
        txn = command.txn
        if op == DECIDE:
            decided = self.decisions.get(txn)
            if decided is None:  # the first decision logged wins (presumed abort relies on it)
                decided = command.result
                if decided is None:
                    raise InvariantError(f"DECIDE of {txn!r} without an outcome")
                if decided.status is Status.OK:
                    decided = WriteResult(Status.OK, index)  # the commit's version
                self.decisions[txn] = decided
            return decided
        done = self.txn_answer(command)
        if done is not None:
            return done
        if op == PREPARE:
            return self._prepare(command)
        if op != FINISH:
            raise InvariantError(f"unknown transaction step {op!r}")
        prepare = self.prepared.pop(txn, None)
        if prepare is not None:
            data = self.data
            intents = self.intents
            for w in prepare.writes:
                del intents[w.key]
                if command.commit:
                    data[w.key] = (w.value, index)
        # Recorded even if never prepared here, so that a late PREPARE is refused.
        self.txns[txn] = COMMITTED if command.commit else ABORTED
        return _DONE

    def _prepare(self, command: TxnCommand) -> WriteResult:
        """Check every write of this group's part, then hold intents on all, or vote no."""
        intents = self.intents
        for w in command.writes:
            key = w.key
            if key in intents:
                self.intent_conflicts += 1
                return self._refuse(command.txn, WriteResult(Status.CONFLICT, None, key))
            if w.conditional:
                current = self.version(key)
                if current != w.context:
                    return self._refuse(command.txn, WriteResult(Status.CONFLICT, current, key))
        for w in command.writes:
            intents[w.key] = command.txn
        self.prepared[command.txn] = command
        self.txns[command.txn] = PREPARED
        return _VOTE[PREPARED]

    def _refuse(self, txn: str, result: WriteResult) -> WriteResult:
        self.txns[txn] = REFUSED
        self.refusals[txn] = result
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
