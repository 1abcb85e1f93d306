"""A Raft log: numbered entries with terms, the consistency check and conflict truncation (§5.3).

Indices start at 1; index 0 is a sentinel of term 0, so "the entry before the
first" always exists (AppendEntries' prev_index may be 0). The log is one
replica's durable state together with its term and vote: it survives a crash
when the cluster is durable (Raft's safety argument assumes it does).
"""

from __future__ import annotations

from typing import Any

from sim.engine.network import message

WRITE = "write"
LOCK = "lock"
UNLOCK = "unlock"
LOAD = "load"


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
class Entry:
    """One log entry: the term it was created in and its command (None: a leader's no-op, §8)."""

    term: int
    command: Command | None


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
