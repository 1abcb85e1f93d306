"""The eventual mode's messages: slotted records dispatched by type (`kind`: latency class)."""

from __future__ import annotations

from typing import ClassVar

from sim.engine.network import message
from sim.vclock import Versioned

Siblings = tuple[Versioned, ...]


@message
class Get:
    """Coordinator -> replica: send me your versions of `key`."""

    kind: ClassVar[str] = "read"
    req: int
    key: str


@message
class GetReply:
    """Replica -> coordinator: my sibling set for `key` (empty if I have none)."""

    kind: ClassVar[str] = "response"
    req: int
    key: str
    siblings: Siblings


@message
class Put:
    """Coordinator -> replica: merge my state of `key`, which holds the new version.

    `hint` names the owner a fall-back holds it for (sloppy quorum).
    """

    kind: ClassVar[str] = "write"
    req: int
    key: str
    siblings: Siblings
    hint: int | None


@message
class PutAck:
    """Replica -> coordinator: stored."""

    kind: ClassVar[str] = "ack"
    req: int


@message
class Repair:
    """Coordinator -> replica after a read: versions you were missing (read repair, Dynamo §5)."""

    kind: ClassVar[str] = "write"
    key: str
    siblings: Siblings


@message
class Handoff:
    """Fall-back -> owner: the versions I held for you while you were unreachable (§4.6)."""

    kind: ClassVar[str] = "handoff"
    key: str
    siblings: Siblings


@message
class HandoffAck:
    """Owner -> fall-back: merged; you may drop the hint if it has not changed since."""

    kind: ClassVar[str] = "handoff"
    key: str
    state: tuple


@message
class SyncRoot:
    """Anti-entropy, step 1: my Merkle root over the keys we both replicate (§4.7).

    `root` is the tree's hash, `count` how many keys it holds.
    """

    kind: ClassVar[str] = "sync"
    root: int
    count: int


@message
class SyncTree:
    """Next step where nodes differ: my children of the differing subtrees, one level down.

    `nodes` holds (index, hash, count) of all 16 children (empty ones too) of
    each subtree of level `level - 1` that differed and was too big to send.
    """

    kind: ClassVar[str] = "sync"
    level: int
    nodes: tuple[tuple[int, int, int], ...]


@message
class SyncKeys:
    """Last steps: the versions of every key I hold in `subtrees` (node indices at `level`).

    `answer` asks the receiver to merge them and send back, for the same
    subtrees, the versions it holds that differ from what was sent.
    """

    kind: ClassVar[str] = "sync"
    level: int
    subtrees: tuple[int, ...]
    entries: tuple[tuple[str, Siblings], ...]
    answer: bool
