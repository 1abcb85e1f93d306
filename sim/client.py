"""The store client: one shopper's connection to the cluster, with deadlines and a history.

Every store operation is recorded Jepsen style: an `invoke` when it starts and
exactly one completion: `ok`, `fail` (certainly not applied: the mode said so,
or the node is down) or `info` (no answer before the deadline: the outcome is
unknown). Which node serves a request is the router's choice (sim/routing.py);
the hop between client and node takes a latency of its own, longer to a node
in another zone (data centre) than the client's. Values are
recorded by their `tag` (the id of the write that made them) so that
histories stay small and the register checker can compare them.
Methods are generators, used as `result = yield from client.read(key, deadline)`
inside a SimPy process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Sequence
from typing import Any, ClassVar

from sim.engine.kernel import Bare, Engine, Pending
from sim.engine.network import LinkState
from sim.history import FAIL, INFO, INVOKE, OK, History, Op
from sim.modes.base import Mode, ReadResult, Status, TxnWrite, Value, Version, WriteResult
from sim.routing import Router

Proc = Generator[Any, Any, Any]
"""A SimPy process body: yields events, returns a result (`yield from` composes them)."""

_OUTCOME = {
    Status.OK: OK,
    Status.FAIL: FAIL,
    Status.CONFLICT: FAIL,
    Status.BUSY: FAIL,
    Status.TIMEOUT: INFO,
}


def token(value: Value) -> Any:
    """How a stored value appears in the history: its tag if it has one, else itself."""
    return getattr(value, "tag", value)


def siblings_token(siblings: tuple[Value, ...]) -> Any:
    """A read's value in the history: nil, one tag, or the list of sibling tags."""
    if len(siblings) == 1:  # the usual case; token() inlined (a read of every request)
        return getattr(siblings[0], "tag", siblings[0])
    if not siblings:
        return None
    return sorted(token(v) for v in siblings)


_OK = Status.OK
NODE_DOWN = "node-down"
_NODE_FAILED = frozenset({Status.FAIL, Status.TIMEOUT})
"""Outcomes that may be the node's fault (a conflict or a busy lock is not)."""
_RETRY = frozenset({NODE_DOWN, "unavailable"})
"""Certain failures another node may not have: the request is tried again elsewhere."""
new_op = functools.partial(tuple.__new__, Op)
"""`new_op((process, type, f, key, value, time, error, version))`: an Op without
NamedTuple's Python-level __new__ (a third of its cost; 2 ops per request, the hot path)."""

_READ_TIMEOUT = ReadResult(Status.TIMEOUT, error="timeout")
_WRITE_TIMEOUT = WriteResult(Status.TIMEOUT, error="timeout")


class _Pending(Pending):
    """One outstanding request, as the event its client waits on.

    The first of the mode's reply and the client's deadline triggers it; the
    other is ignored. One object per request (the hot path).
    """

    hop: Callable[[], float]
    """The client-node latency draw, set when the request crosses a hop (see `back`)."""

    deadline: float
    timeout_result: Any
    open: bool
    """Neither answered nor timed out (cheaper than `.triggered`)."""

    def reply(self, result: Any) -> None:
        """The mode's answer (ignored if the deadline already passed)."""
        if self.open:
            self.open = False
            self.succeed(result)

    def expire(self) -> None:
        """The deadline passed first: answer with the time-out result."""
        if self.open:
            self.open = False
            self.succeed(self.timeout_result)

    def back(self, result: Any) -> None:
        """The mode's answer at the node: it reaches the client one hop (`self.hop`) later.

        If it would land before the deadline, the client resumes when it lands, from
        that one heap entry; if not, it is ignored, as it would be on landing: the
        deadline passes first and times the request out.
        """
        delay = self.hop()  # drawn even if the deadline passed: the stream stays the same
        env = self.env
        if self.open and env.now + delay < self.deadline:
            self.open = False
            env.succeed_later(self, delay, result)


def _arrived(arrival: _Arrival) -> None:
    """The request reached its node over the client hop; its answer takes the hop back."""
    node, start, args, pending, links = arrival.payload
    if node in links.down:
        pending.back(pending.timeout_result.__class__(Status.FAIL, error=NODE_DOWN))
    else:
        start(node, *args, pending.back)


class _Arrival(Bare):
    """A request crossing the client hop: a bare heap entry (sim/engine/kernel.py) whose
    callback is `_arrived` itself, one frame where a scheduled call takes two."""

    callbacks: ClassVar[list[Callable[[Any], None]] | None] = [_arrived]
    payload: tuple[int, Callable[..., None], tuple, _Pending, LinkState]


class StoreClient:
    """Issues store operations through a node and records them in the history.

    Deadlines use one lazy timer per client rather than one per request (a
    request usually ends long before its deadline): the timer fires at the
    earliest deadline it was armed for, expires the current request if its
    deadline has passed, and otherwise re-arms for that request's deadline.
    This keeps the event heap small; see benchmarks/engine.py.

    Args:
        env: the engine.
        mode: the consistency mode serving requests.
        links: fault state (a crashed node answers nothing).
        history: where operations are recorded.
        process: this client's process id in the history.
        home: the home node: where the client sits (sim/routing.py).
        router: which node serves each request (None: always the home node).
        hop: the client-node latency, one draw per direction (None: no hop).
        hops: when zones make the hop depend on the node: the hop to each node by id
            (`hop` plus a cross_zone draw to a node in another zone); None: `hop` to all.
    """

    __slots__ = (
        "_current",
        "_timer_at",
        "env",
        "history",
        "home",
        "hop",
        "hops",
        "links",
        "mode",
        "node",
        "process",
        "router",
    )

    def __init__(
        self,
        env: Engine,
        mode: Mode,
        links: LinkState,
        history: History,
        process: int | str,
        home: int,
        router: Router | None = None,
        hop: Callable[[], float] | None = None,
        hops: Sequence[Callable[[], float] | None] | None = None,
    ) -> None:
        self.env = env
        self.mode = mode
        self.links = links
        self.history = history
        self.process = process
        self.home = home
        self.node = home
        self.router = router
        self.hop = hop
        self.hops = hops
        self._current: _Pending | None = None
        self._timer_at: float | None = None

    def _arm(self, deadline: float) -> None:
        if self._timer_at is None or self._timer_at > deadline:
            self._timer_at = deadline
            self.env.call_later(max(0.0, deadline - self.env.now), self._on_timer, deadline)

    def _on_timer(self, at: float) -> None:
        if at != self._timer_at:
            return  # superseded by an earlier deadline
        self._timer_at = None
        pending = self._current
        if pending is None or not pending.open:
            return
        if pending.deadline <= self.env.now:
            pending.expire()
        else:
            self._arm(pending.deadline)

    def _send(
        self,
        node: int,
        start: Callable[..., None],
        args: tuple,
        deadline: float,
        timeout_result: Any,
    ) -> Pending | None:
        """Send one attempt to `node`: the event its reply (or the deadline) triggers.

        None when the node is down (the caller fails at once, without yielding).
        """
        if node in self.links.down:
            return None
        env = self.env
        pending = _Pending(env)  # its fields set here: no __init__ frame of its own
        pending.deadline = deadline
        pending.timeout_result = timeout_result
        pending.open = True
        hop = self.hop if self.hops is None else self.hops[node]
        if hop is None:
            start(node, *args, pending.reply)
        else:
            pending.hop = hop
            arrival = _Arrival()
            arrival.payload = (node, start, args, pending, self.links)
            env.push(hop(), arrival)
        if pending.open:
            self._current = pending
            if self._timer_at is None or self._timer_at > deadline:
                self._arm(deadline)
        return pending

    def _retried(
        self,
        router: Router,
        node: int,
        result: Any,
        start: Callable[..., None],
        args: tuple,
        deadline: float,
        timeout_result: Any,
    ) -> Proc:
        """After `node` failed a request: other nodes, while the failure was certain (a node
        that failed for certain is left for another) and the deadline allows."""
        tried = [node]
        while True:
            router.failed(node)
            if result.status is Status.TIMEOUT or result.error not in _RETRY:
                return result
            node = router.pick(node, self.home)
            if node in tried or self.env.now >= deadline:
                return result  # no other node to try, or no time left
            self.node = node
            tried.append(node)
            pending = self._send(node, start, args, deadline, timeout_result)
            if pending is None:
                result = timeout_result.__class__(Status.FAIL, error=NODE_DOWN)
            else:
                result = yield pending
                self._current = None
            if result.status not in _NODE_FAILED:
                router.served(node)
                return result

    def _call(
        self,
        f: str,
        key: str | None,
        shown: Any,
        start: Callable[..., None],
        args: tuple,
        deadline: float,
        timeout_result: Any,
    ) -> Proc:
        """Record the invoke, run `start(node, *args, reply)`, wait for reply or deadline, record.

        With a router, a request that failed for certain on one node is tried on
        another while the deadline allows (sim/routing.py).
        """
        env = self.env
        record = self.history.ops.append
        record(new_op((self.process, INVOKE, f, key, shown, env.now, None, None)))
        router = self.router
        if router is None:  # always the client's node
            node = self.node
        else:  # the router's pick: the node last used while it serves, else another
            node = self.node = router.pick(self.node, self.home)
        pending = self._send(node, start, args, deadline, timeout_result)
        if pending is None:
            result = timeout_result.__class__(Status.FAIL, error=NODE_DOWN)
        else:
            result = yield pending
            self._current = None
        if router is not None:
            if result.status not in _NODE_FAILED:
                router.served(node)
            else:
                result = yield from self._retried(
                    router, node, result, start, args, deadline, timeout_result
                )
        status = result.status
        if status is _OK:
            error = None
            if f == "read":  # siblings_token, inlined for the usual single version
                siblings = result.siblings
                shown = (
                    getattr(siblings[0], "tag", siblings[0])
                    if len(siblings) == 1
                    else siblings_token(siblings)
                )
        else:
            error = result.error or status.value
            if f == "read":
                shown = None
        version = result.version
        if version is not None:
            version = self.mode.export_version(version)
        record(new_op((self.process, _OUTCOME[status], f, key, shown, env.now, error, version)))
        return result

    def _lineage(self, value: Value) -> None:
        """Note what a value to be written was made from (values that say so: shop rows)."""
        parents = getattr(value, "parents", None)
        if parents is not None:
            self.history.lineage.setdefault(value.tag, (self.env.now, parents))

    def read(self, key: str, deadline: float) -> Proc:
        """Read `key`; yields to a ReadResult (status TIMEOUT if the deadline passed)."""
        return self._call("read", key, None, self.mode.read, (key,), deadline, _READ_TIMEOUT)

    def write(
        self,
        key: str,
        value: Value,
        deadline: float,
        context: Version = None,
        conditional: bool = False,
        expected: Value = None,
    ) -> Proc:
        """Write `value` (a `cas` from `expected` when conditional); yields to a WriteResult."""
        if conditional:
            f, shown = "cas", [token(expected), token(value)]
        else:
            f, shown = "write", token(value)
        self._lineage(value)
        return self._call(
            f,
            key,
            shown,
            self.mode.write,
            (key, value, context, conditional),
            deadline,
            _WRITE_TIMEOUT,
        )

    def lock(self, key: str, owner: str, lease_ms: float, deadline: float) -> Proc:
        """Try once to take the lease lock on `key`; OK or BUSY (or FAIL / TIMEOUT)."""
        return self._call(
            "lock",
            key,
            owner,
            self.mode.lock,
            (key, owner, lease_ms),
            deadline,
            _WRITE_TIMEOUT,
        )

    def unlock(self, key: str, owner: str, deadline: float) -> Proc:
        """Release the lease lock; FAIL with "lease-expired" when it had run out."""
        return self._call(
            "unlock",
            key,
            owner,
            self.mode.unlock,
            (key, owner),
            deadline,
            _WRITE_TIMEOUT,
        )

    def commit(
        self, txn: str, writes: tuple[TxnWrite, ...], deadline: float, expected: tuple = ()
    ) -> Proc:
        """Write several keys atomically (a `txn` op); yields to a WriteResult.

        Only for modes whose spec has `atomic_commit`. `expected[i]` is the value
        the client read for `writes[i]` (shown in the history for conditional
        writes, like a `cas`).
        """
        for write in writes:
            self._lineage(write.value)
        shown = [
            ["cas", w.key, [token(e), token(w.value)]] if w.conditional else
            ["write", w.key, token(w.value)]
            for w, e in zip(writes, expected or (None,) * len(writes), strict=True)
        ]  # fmt: skip
        return self._call(
            "txn",
            None,
            shown,
            self.mode.commit,  # type: ignore[attr-defined]
            (txn, writes),
            deadline,
            _WRITE_TIMEOUT,
        )
