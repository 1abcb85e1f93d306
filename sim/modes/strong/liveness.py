"""Node liveness for quiesced Raft groups: one heartbeat per node pair, not per group.

A quiesced follower runs no election timer (sim/modes/strong/raft.py); this
is how it learns that its leader's node crashed, restarted or was cut off
(CockroachDB's node liveness, with heartbeats coalesced per node pair).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.engine.kernel import Engine
from sim.engine.network import Network
from sim.modes.strong.messages import NodeHeartbeat

if TYPE_CHECKING:
    from sim.modes.strong.raft import RaftGroup


class _Watch:
    """What a follower node knows of one leader node: its boot, when last heard, groups at stake."""

    __slots__ = ("boot", "groups", "heard")

    def __init__(self, boot: int, heard: float) -> None:
        self.boot = boot
        self.heard = heard
        self.groups: dict[RaftGroup, None] = {}  # the groups quiesced here under that leader


class Liveness:
    """Node liveness for quiesced groups: one heartbeat per node pair, not per group.

    A quiesced follower runs no election timer, so it needs another way to
    notice that its leader's node crashed or is cut off (CockroachDB uses its
    node liveness records). Here each node that leads quiesced groups sends,
    every `period_ms`, one `NodeHeartbeat` to each node that follows one of
    them (`fans`: leader node -> follower node -> how many such groups). Each
    follower node keeps, per leader node it follows in a quiesced group, when
    it last heard from it and in which boot (`watch`). On the same tick a
    follower node suspects every leader node not heard from for two periods
    (one lost heartbeat is tolerated) and wakes the groups it follows there;
    a heartbeat with a newer boot (the node restarted, so its leaderships are
    gone) wakes them at once. The faults are seen only through messages: a
    crash or a cut drops the heartbeats, nothing else tells the follower.

    One timer serves every node (each node's timer would fire on the same
    period), and it runs only while some group is quiesced. Its cost per
    period is one message per watched node pair, whatever the number of
    groups; a wake costs the groups of that pair only.

    Args:
        env: the engine.
        network: where the heartbeats go.
        period_ms: the heartbeat period.
    """

    def __init__(self, env: Engine, network: Network, period_ms: float) -> None:
        self.env = env
        self.net = network
        self.period_ms = period_ms
        self.expiry_ms = 2 * period_ms
        self.boot: dict[int, int] = {}  # node -> its boot number (raised by each crash)
        self.fans: dict[int, dict[int, int]] = {}
        self.watch: dict[int, dict[int, _Watch]] = {}
        self._ticking = False

    def boot_of(self, node: int) -> int:
        """The node's current boot number (a node knows its own)."""
        return self.boot.get(node, 0)

    def lead(self, leader: int, followers: tuple[int, ...]) -> None:
        """`leader` quiesced a group followed by `followers`: heartbeat them."""
        fans = self.fans.get(leader)
        if fans is None:
            fans = self.fans[leader] = {}
        for node in followers:
            fans[node] = fans.get(node, 0) + 1
        self._start()

    def unlead(self, leader: int, followers: tuple[int, ...]) -> None:
        """A group that `leader` had quiesced woke (or it lost the leadership)."""
        fans = self.fans.get(leader)
        if fans is None:
            return  # the leader node crashed since: all of it went
        for node in followers:
            left = fans.get(node, 0) - 1
            if left > 0:
                fans[node] = left
            else:
                fans.pop(node, None)
        if not fans:
            del self.fans[leader]

    def follow(self, node: int, leader: int, boot: int, group: RaftGroup) -> bool:
        """`node` quiesces `group` under `leader` (in `boot`); False if that boot is stale.

        A newer boot than the one `node` knew means the leader node restarted:
        the groups quiesced under its previous boot have no leader any more and
        wake at once.
        """
        watches = self.watch.get(node)
        w = watches.get(leader) if watches is not None else None
        if w is not None and boot != w.boot:
            if boot < w.boot:
                return False
            self._wake(node, leader, w)
            w = None
        watches = self.watch.get(node)
        if watches is None:
            watches = self.watch[node] = {}
        if w is None:
            w = watches[leader] = _Watch(boot, self.env.now)
            self._start()
        w.heard = self.env.now
        w.groups[group] = None
        return True

    def unfollow(self, node: int, leader: int, group: RaftGroup) -> None:
        """`node`'s replica of `group` woke: it no longer watches `leader` for it."""
        watches = self.watch.get(node)
        if watches is None:
            return
        w = watches.get(leader)
        if w is None:
            return
        w.groups.pop(group, None)
        if not w.groups:
            del watches[leader]
            if not watches:
                del self.watch[node]

    def alive(self, node: int, leader: int) -> bool:
        """Whether `node` has heard from `leader`'s node (same boot) within the expiry."""
        watches = self.watch.get(node)
        w = watches.get(leader) if watches is not None else None
        return w is not None and self.env.now - w.heard <= self.expiry_ms

    def crash(self, node: int) -> None:
        """The node's volatile state goes: what it led and watched; its next boot is new."""
        self.boot[node] = self.boot.get(node, 0) + 1
        self.fans.pop(node, None)
        self.watch.pop(node, None)

    def on_heartbeat(self, src: int, dst: int, msg: NodeHeartbeat) -> None:
        """`src` is up: refresh `dst`'s view of it, or wake the groups of its previous boot."""
        watches = self.watch.get(dst)
        w = watches.get(src) if watches is not None else None
        if w is None or msg.boot < w.boot:
            return
        if msg.boot == w.boot:
            w.heard = self.env.now
            return
        self._wake(dst, src, w)

    def _wake(self, node: int, leader: int, w: _Watch) -> None:
        self.watch[node].pop(leader, None)
        if not self.watch[node]:
            del self.watch[node]
        for group in list(w.groups):
            group.suspect(node)

    def _start(self) -> None:
        if not self._ticking:
            self._ticking = True
            self.env.call_later(self.period_ms, self._tick)

    def _tick(self) -> None:
        """Every node's liveness timer: heartbeat the watchers, suspect the silent."""
        send = self.net.send
        for leader, fans in self.fans.items():
            msg = NodeHeartbeat(self.boot.get(leader, 0))
            for node in fans:
                send(leader, node, msg)
        now = self.env.now
        expiry = self.expiry_ms
        silent = [
            (node, leader, w)
            for node, watches in self.watch.items()
            for leader, w in watches.items()
            if now - w.heard > expiry
        ]
        for node, leader, w in silent:
            self._wake(node, leader, w)
        if self.fans or self.watch:
            self.env.call_later(self.period_ms, self._tick)
        else:
            self._ticking = False
