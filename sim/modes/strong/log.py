"""A Raft log: numbered entries with terms, the consistency check and conflict truncation (§5.3).

Indices start at 1; index 0 is a sentinel of term 0, so "the entry before the
first" always exists (AppendEntries' prev_index may be 0). The log is one
replica's durable state together with its term and vote: it survives a crash
when the cluster is durable (Raft's safety argument assumes it does). An
entry's command is a client's write, lock or unlock (`Command`), a step of an
atomic commit (`TxnCommand`), or None (a leader's no-op).
"""

from __future__ import annotations

from typing import Any

from sim.engine.network import message
from sim.modes.base import TxnWrite, WriteResult

WRITE = "write"
LOCK = "lock"
UNLOCK = "unlock"
LOAD = "load"
PREPARE = "prepare"
DECIDE = "decide"
FINISH = "finish"


@message
class Command:
    """A state-machine command (a client's write, lock or unlock, or the initial load).

    `req` identifies the client request across retries: the state machine
    applies each request once and answers duplicates from its table (§8).
    `stamp_ms` is the proposing leader's clock, which lease decisions use so
    that every replica decides the same.
    """

    op: str
    key: str
    req: int = -1
    value: Any = None
    context: Any = None
    conditional: bool = False
    owner: str | None = None
    lease_ms: float = 0.0
    stamp_ms: float = 0.0


@message
class TxnCommand:
    """A step of an atomic commit, logged in one group (two-phase commit over groups: txn.py).

    - PREPARE, in each participant group (`writes`: its part of the
      transaction): hold intents on the keys if every conditional write's
      version still matches and no other transaction's intent holds one of
      them; else vote no, CONFLICT naming the key.
    - DECIDE, in the coordinator group (the group of `coordinator`, the
      transaction's first key): log the outcome `result` (OK: commit). The
      first DECIDE of a transaction wins; a later one gets it back.
    - FINISH, in each participant group: apply (`commit`) or drop the
      prepared writes and release their intents (`writes` names the keys).

    `key` is a key of the group the command is logged in (the proxy routes by
    it); `req` is the proxy's request id. Each step applies once per
    transaction in a group, whatever the retries: the state machine keys its
    tables by `txn`.
    """

    op: str
    key: str
    txn: str
    req: int = -1
    writes: tuple[TxnWrite, ...] = ()
    coordinator: str = ""
    result: WriteResult | None = None
    commit: bool = False


@message
class Entry:
    """One log entry: the term it was created in and its command (None: a leader's no-op, §8)."""

    term: int
    command: Command | TxnCommand | None


_SENTINEL = Entry(0, None)


class RaftLog:
    """The entries of one replica, 1-indexed behind a sentinel at 0."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[Entry] = [_SENTINEL]

    @property
    def last_index(self) -> int:
        """Index of the last entry (0 when empty)."""
        return len(self.entries) - 1

    @property
    def last_term(self) -> int:
        """Term of the last entry (0 when empty): what RequestVote compares (§5.4.1)."""
        return self.entries[-1].term

    def term_at(self, index: int) -> int:
        """Term of the entry at `index` (0 for the sentinel)."""
        return self.entries[index].term

    def __getitem__(self, index: int) -> Entry:
        return self.entries[index]

    def append(self, entry: Entry) -> int:
        """Append one entry (a leader's proposal); returns its index."""
        self.entries.append(entry)
        return len(self.entries) - 1

    def since(self, index: int, limit: int) -> tuple[Entry, ...]:
        """At most `limit` entries from `index` on (what an AppendEntries carries)."""
        return tuple(self.entries[index : index + limit])

    def matches(self, index: int, term: int) -> bool:
        """The consistency check (§5.3): an entry at `index` with `term` is present."""
        return index < len(self.entries) and self.entries[index].term == term

    def first_index_of_term_at(self, index: int) -> int:
        """First index of the run of entries sharing the term of `index` (back-off hint, §5.3)."""
        entries = self.entries
        term = entries[index].term
        while index > 1 and entries[index - 1].term == term:
            index -= 1
        return index

    def up_to_date(self, last_index: int, last_term: int) -> bool:
        """Whether a log ending at (last_index, last_term) is at least as up-to-date (§5.4.1)."""
        mine = self.last_term
        return last_term > mine or (last_term == mine and last_index >= self.last_index)

    def merge(self, prev_index: int, entries: tuple[Entry, ...]) -> tuple[int, int | None]:
        """Add a leader's entries after prev_index (which must match).

        An existing entry that conflicts with a new one (same index, different
        term) is deleted with all that follow it, and new entries not already
        in the log are appended (§5.3, AppendEntries receiver steps 3-4).
        Entries already present are kept, so a stale, reordered AppendEntries
        never truncates what a newer one added.

        Returns:
            The index of the last new entry, and the index the log was cut
            from (None if nothing was deleted), which the caller checks
            against its commit index.
        """
        log = self.entries
        cut = None
        for i, entry in enumerate(entries):
            index = prev_index + 1 + i
            if index < len(log):
                if log[index].term == entry.term:
                    continue
                cut = index
                del log[index:]
            log.extend(entries[i:])
            break
        return prev_index + len(entries), cut
