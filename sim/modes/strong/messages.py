"""The strong mode's messages: Raft's RPCs, client requests forwarded to a leader, and answers.

Slotted records dispatched by type (`kind` is the latency class of
scenario.MESSAGE_KINDS). Every Raft message names its consensus group, since
one node takes part in many groups (multi-Raft). Replies are separate
messages, not RPC returns: the network may drop, delay or reorder any of them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sim.engine.network import message
from sim.modes.strong.log import Command, Entry, TxnCommand


@message
class RequestVote:
    """Candidate -> peer: vote for me in `term` (Raft §5.2); `pre` asks a pre-vote (thesis §9.6).

    A pre-vote names the term the candidate would start (its own + 1) and
    changes no state at the receiver: only a candidate that a majority would
    elect goes on to raise its term, so a node cut off from the group cannot
    inflate terms and depose a working leader when it returns.
    """

    kind: ClassVar[str] = "vote"
    group: int
    term: int
    candidate: int
    last_index: int
    last_term: int
    pre: bool


@message
class Vote:
    """Peer -> candidate: the answer to RequestVote; `for_term` is the term it was asked for."""

    kind: ClassVar[str] = "vote"
    group: int
    term: int
    granted: bool
    pre: bool
    for_term: int


@message
class AppendEntries:
    """Leader -> follower: entries after (prev_index, prev_term), or none (a heartbeat) (§5.3).

    `seq` numbers the leader's broadcast rounds; the reply echoes it, so a
    ReadIndex read knows when a majority acknowledged a round sent after it
    arrived (thesis §6.4).
    """

    kind: ClassVar[str] = "append"
    group: int
    term: int
    leader: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int
    seq: int


@message
class AppendReply:
    """Follower -> leader: whether the consistency check passed (§5.3).

    On success `index` is the last index now known to match the leader's log;
    on failure it is where the leader should try next (the follower's log end,
    or the first index of the conflicting term: the back-off optimisation of §5.3).
    """

    kind: ClassVar[str] = "append"
    group: int
    term: int
    success: bool
    index: int
    seq: int


@message
class ReadCommand:
    """A linearizable read of `key`: served by the leader through ReadIndex, not logged."""

    key: str


@message
class Forward:
    """Home node -> a group member: please run this request (§8, client interaction).

    A step of an atomic commit (`TxnCommand`, txn.py) travels the same way: the
    home node's transaction coordinator, or a participant's leader asking a
    coordinator group, is the home node of its steps.
    """

    kind: ClassVar[str] = "forward"
    req: int
    group: int
    op: Command | ReadCommand | TxnCommand


@message
class Redirect:
    """Member -> home node: I am not the leader; `leader` is my hint (None if I know none)."""

    kind: ClassVar[str] = "response"
    req: int
    group: int
    leader: int | None


@message
class Accepted:
    """Leader -> home node: I hold the request (appended, or a read waiting); wait for Answer."""

    kind: ClassVar[str] = "response"
    req: int


@message
class Answer:
    """Leader -> home node: the request's outcome (a ReadResult or WriteResult)."""

    kind: ClassVar[str] = "response"
    req: int
    result: Any


@message
class Quiesce:
    """Leader -> follower: my log ends at (index, index_term), all committed; stop your timer.

    CockroachDB's quiescing heartbeat. The follower obeys only if its own log
    ends exactly there (it then knows the commit index too) and answers
    `Quiesced`; otherwise it treats the message as the heartbeat it also is
    and answers `AppendReply`. `boot` is the leader node's boot number (see
    `Liveness`).
    """

    kind: ClassVar[str] = "append"
    group: int
    term: int
    leader: int
    index: int
    index_term: int
    seq: int
    boot: int


@message
class Quiesced:
    """Follower -> leader: I obeyed your Quiesce of round `seq` (an AppendReply's success too)."""

    kind: ClassVar[str] = "append"
    group: int
    term: int
    seq: int


@message
class Wake:
    """Follower -> its leader: I woke from quiescence (a request, a campaign); resume heartbeats."""

    kind: ClassVar[str] = "append"
    group: int
    term: int


@message
class NodeHeartbeat:
    """Node -> node: I am up, in boot `boot` (one per node pair per period, for every group).

    Sent by a node that leads quiesced groups to each node following one of
    them: coalesced per node pair (CockroachDB coalesces Raft heartbeats per
    node pair and keeps node liveness apart from the ranges), so its cost
    does not grow with the groups the two nodes share.
    """

    kind: ClassVar[str] = "liveness"
    boot: int
