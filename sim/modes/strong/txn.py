"""Atomic commit across Raft groups: two-phase commit whose every step is a log entry.

Spanner-style (Corbett et al. 2012, §4.2.1), with the coordinator's record in
a consensus group so that no single node's crash can block a transaction
(Gray & Lamport's "Consensus on Transaction Commit" makes the same point):

1. Prepare. The home node's coordinator (this module, at the client's home
   node) sends each participant group, the group of some of the written keys,
   a PREPARE entry with its part of the writes. Applied, it either holds an
   intent on each key (every conditional write's version still matches, no
   other transaction's intent holds a key) or votes no: CONFLICT naming the
   key, and the group holds nothing.
2. Decide. With every vote yes, the coordinator proposes commit, else abort,
   as a DECIDE entry in the coordinator group: the group of the transaction's
   first key. The first DECIDE of a transaction in that log wins and every
   later one gets it back, so the decision is made exactly once, and only once
   it is logged is anyone told: the client (OK with the DECIDE's index as the
   commit's version, or the abort's CONFLICT / FAIL), then the participants.
3. Finish. Each participant logs FINISH, which applies the prepared writes
   (a key's version becomes the FINISH's index) or drops them, and releases
   the intents. The client is answered at step 2: from then on a reader of any
   key sees the transaction whole (below).

Recovery (presumed abort). A participant group's leader that has held a
transaction prepared for `timeout_ms` without a FINISH asks the coordinator
group, through its own node's proxy, by proposing DECIDE abort there: the
coordinator group's leader answers at once from its state machine if a
decision is logged, else logs the abort, and the first decision in the log
wins either way. The participant then logs FINISH with the answer. A crashed
home node, or a coordinator group's leader that crashed between prepare and
decision, therefore leaves no intent behind for longer than about
`timeout_ms` plus an election, and the coordinator's own time-out on the
votes (the same `timeout_ms`) decides abort ("vote-timeout") when a
participant cannot be reached.

Intents and other requests (raft.py). A read whose key holds an intent waits
at the leader until the transaction is finished in that group, then answers
from the state then: it never sees one key of a committed transaction without
the other (a committed transaction's PREPAREs were all applied before its
DECIDE, so after the commit every key is either finished or still holds the
intent). A write, conditional or not, waits the same way at the leader before
it is proposed; one that an intent reached first in the log is refused with
CONFLICT "intent" (the client's occ loop retries it). A PREPARE never waits: it
votes no on an intent, so two transactions cannot deadlock.

Retries. The client may call `commit` again with the same transaction id; a
second call at the same home node while the first runs takes over its answer,
and any later attempt finds the transaction's state in each group's tables
(prepared, committed, aborted) and the decision logged: it applies at most
once. With durable logs the intents and decisions survive crashes, being log
entries; the state machine rebuilt from the log holds the same intents.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from sim.errors import InvariantError
from sim.modes.base import Reply, Status, TxnWrite, WriteResult
from sim.modes.strong.log import DECIDE, FINISH, PREPARE, TxnCommand

if TYPE_CHECKING:
    from sim.modes.strong.multiraft import MultiRaft
    from sim.modes.strong.raft import RaftGroup

_COMMIT = WriteResult(Status.OK)
_VOTE_TIMEOUT = WriteResult(Status.FAIL, None, "vote-timeout")  # a participant never answered
_RECOVERED = WriteResult(Status.FAIL, None, "recovered-abort")  # presumed abort, by recovery


def _ignore(result: object) -> None:
    """The answer to a FINISH: nothing waits for it (a lost one is recovered)."""


class _Txn:
    """One transaction being coordinated at its home node."""

    __slots__ = ("coordinator", "decided", "home", "id", "parts", "refused", "reply", "voting")

    def __init__(
        self,
        txn: str,
        home: int,
        coordinator: str,
        parts: list[tuple[RaftGroup, tuple[TxnWrite, ...]]],
        reply: Reply,
    ) -> None:
        self.id = txn
        self.home = home
        self.coordinator = coordinator
        self.parts = parts
        self.reply = reply
        self.voting: dict[int, int] = {}  # PREPARE request -> group id, until it answers
        self.refused: set[int] = set()  # groups that voted no (they hold nothing)
        self.decided = False


class Transactions:
    """The transaction coordinators of every home node, and the participants' recovery.

    Args:
        raft: the groups and the proxies the steps go through.
        nodes: how many nodes (one table of open transactions each).
        timeout_ms: how long votes are awaited, and how long a participant
            holds a transaction prepared before asking for the decision.
    """

    def __init__(self, raft: MultiRaft, nodes: int, timeout_ms: float) -> None:
        self.raft = raft
        self.env = raft.env
        self.timeout_ms = timeout_ms
        self.open: list[dict[str, _Txn]] = [{} for _ in range(nodes)]
        self.started = 0
        self.recoveries = 0

    # ------------------------------------------------------------------ the coordinator

    def commit(self, home: int, txn: str, writes: tuple[TxnWrite, ...], reply: Reply) -> None:
        """Coordinate transaction `txn` from `home`: prepare, decide, finish (module docstring).

        Raises:
            InvariantError: a key is written twice in one transaction.
        """
        running = self.open[home].get(txn)
        if running is not None:
            running.reply = reply  # a retry while it runs: answer the latest asker
            return
        if not writes:
            reply(_COMMIT)
            return
        keys = [w.key for w in writes]
        if len(set(keys)) != len(keys):
            raise InvariantError(f"transaction {txn!r} writes a key twice: {keys}")
        by_group: dict[int, tuple[RaftGroup, list[TxnWrite]]] = {}
        for w in writes:
            group = self.raft.group_for(w.key)
            by_group.setdefault(group.id, (group, []))[1].append(w)
        parts = [(group, tuple(ws)) for group, ws in by_group.values()]
        t = _Txn(txn, home, writes[0].key, parts, reply)
        self.open[home][txn] = t
        self.started += 1
        raft = self.raft
        for group, ws in parts:
            rid = raft.new_request()
            t.voting[rid] = group.id
            prepare = TxnCommand(PREPARE, ws[0].key, txn, rid, ws, t.coordinator)
            raft.submit(home, rid, ws[0].key, prepare, partial(self._voted, t, rid))
        self.env.call_later(self.timeout_ms, self._votes_due, t)

    def _running(self, t: _Txn) -> bool:
        return self.open[t.home].get(t.id) is t  # not finished, and its home did not crash

    def _voted(self, t: _Txn, rid: int, result: WriteResult) -> None:
        group = t.voting.pop(rid, None)
        if group is None or t.decided or not self._running(t):
            return
        if result.status is not Status.OK:
            t.refused.add(group)
            self._decide(t, result)  # one no is enough: abort, saying why
        elif not t.voting:
            self._decide(t, _COMMIT)

    def _votes_due(self, t: _Txn) -> None:
        if not t.decided and self._running(t):
            self._decide(t, _VOTE_TIMEOUT)

    def _decide(self, t: _Txn, outcome: WriteResult) -> None:
        """Log the outcome in the coordinator group; whatever is logged first is the decision."""
        t.decided = True
        raft = self.raft
        for rid in t.voting:
            raft.cancel(t.home, rid)
        t.voting.clear()
        rid = raft.new_request()
        decide = TxnCommand(DECIDE, t.coordinator, t.id, rid, result=outcome)
        raft.submit(t.home, rid, t.coordinator, decide, partial(self._decided, t))
        # The proxy stays silent if the coordinator group is unreachable: then
        # the outcome is unknown, and the transaction is forgotten here.
        self.env.call_later(raft.give_up_write_ms + raft.pause_ms, self._forget, t)

    def _forget(self, t: _Txn) -> None:
        if self._running(t):
            del self.open[t.home][t.id]

    def _decided(self, t: _Txn, decision: WriteResult) -> None:
        if not self._running(t):
            return
        del self.open[t.home][t.id]
        t.reply(decision)
        commit = decision.status is Status.OK
        raft = self.raft
        for group, ws in t.parts:
            if group.id not in t.refused:
                rid = raft.new_request()
                finish = TxnCommand(FINISH, ws[0].key, t.id, rid, ws, commit=commit)
                raft.submit(t.home, rid, ws[0].key, finish, _ignore)

    def crash(self, node: int) -> None:
        """The node's coordinators are lost with it (participants recover on their own)."""
        self.open[node].clear()

    # ------------------------------------------------------------------ participants' recovery

    def resolve(self, node: int, prepare: TxnCommand) -> None:
        """The leader on `node` asks for the decision on `prepare`'s transaction, then finishes it.

        It proposes DECIDE abort to the coordinator group: answered from the
        decision if one is logged, else logged (presumed abort).
        """
        self.recoveries += 1
        raft = self.raft
        rid = raft.new_request()
        ask = TxnCommand(DECIDE, prepare.coordinator, prepare.txn, rid, result=_RECOVERED)
        raft.submit(node, rid, prepare.coordinator, ask, partial(self._finish, node, prepare))

    def _finish(self, node: int, prepare: TxnCommand, decision: WriteResult) -> None:
        raft = self.raft
        rid = raft.new_request()
        commit = decision.status is Status.OK
        finish = TxnCommand(FINISH, prepare.key, prepare.txn, rid, prepare.writes, commit=commit)
        raft.submit(node, rid, prepare.key, finish, _ignore)

    # ------------------------------------------------------------------ observation

    def stats(self) -> dict[str, int]:
        """Transactions started by coordinators, and recoveries asked by participants."""
        return {"txn_started": self.started, "txn_recoveries": self.recoveries}
