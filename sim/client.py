"""The store client: one shopper's connection to its home node, with deadlines and a history.

Every store operation is recorded Jepsen style: an `invoke` when it starts and
exactly one completion: `ok`, `fail` (certainly not applied: the mode said so,
or the home node is down) or `info` (no answer before the deadline: the outcome
is unknown). Values are recorded by their `tag` (the id of the write that made
them) so that histories stay small and the register checker can compare them.
Methods are generators, used as `result = yield from client.read(key, deadline)`
inside a SimPy process.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from sim.engine.kernel import Engine, Pending
from sim.engine.network import LinkState
from sim.history import FAIL, INFO, INVOKE, OK, History, Op
from sim.modes.base import Mode, ReadResult, Status, TxnWrite, Value, Version, WriteResult

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
_op = tuple.__new__
"""Builds an Op without NamedTuple's Python-level __new__ (2 ops per request, the hot path)."""

_READ_TIMEOUT = ReadResult(Status.TIMEOUT, error="timeout")
_WRITE_TIMEOUT = WriteResult(Status.TIMEOUT, error="timeout")


class _Pending(Pending):
    """One outstanding request, as the event its client waits on.

    The first of the mode's reply and the client's deadline triggers it; the
    other is ignored. One object per request (the hot path).
    """

    def __init__(self, env: Engine, deadline: float, timeout_result: Any) -> None:
        Pending.__init__(self, env)
        self.deadline = deadline
        self.timeout_result = timeout_result
        self.open = True  # neither answered nor timed out (cheaper than .triggered)

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


class StoreClient:
    """Issues store operations through a home node and records them in the history.

    Deadlines use one lazy timer per client rather than one per request (a
    request usually ends long before its deadline): the timer fires at the
    earliest deadline it was armed for, expires the current request if its
    deadline has passed, and otherwise re-arms for that request's deadline.
    This keeps the event heap small; see benchmarks/engine.py.

    Args:
        env: the engine.
        mode: the consistency mode serving requests.
        links: fault state (a client cannot reach a crashed home node).
        history: where operations are recorded.
        process: this client's process id in the history.
        home: the home node (coordinator / load balancer).
    """

    __slots__ = ("_current", "_timer_at", "env", "history", "home", "links", "mode", "process")

    def __init__(
        self,
        env: Engine,
        mode: Mode,
        links: LinkState,
        history: History,
        process: int,
        home: int,
    ) -> None:
        self.env = env
        self.mode = mode
        self.links = links
        self.history = history
        self.process = process
        self.home = home
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
        """Record the invoke, run `start(*args, reply)`, wait for reply or deadline, record."""
        env = self.env
        record = self.history.ops.append
        record(_op(Op, (self.process, INVOKE, f, key, shown, env.now, None, None)))
        if self.home in self.links.down:
            result = timeout_result.__class__(Status.FAIL, error="node-down")
        else:
            pending = _Pending(env, deadline, timeout_result)
            start(*args, pending.reply)
            if pending.open:
                self._current = pending
                if self._timer_at is None or self._timer_at > deadline:
                    self._arm(deadline)
            result = yield pending
            self._current = None
        status = result.status
        if status is _OK:
            error = None
            if f == "read":
                shown = siblings_token(result.siblings)
        else:
            error = result.error or status.value
            if f == "read":
                shown = None
        version = result.version
        if version is not None:
            version = self.mode.export_version(version)
        record(_op(Op, (self.process, _OUTCOME[status], f, key, shown, env.now, error, version)))
        return result

    def read(self, key: str, deadline: float) -> Proc:
        """Read `key`; yields to a ReadResult (status TIMEOUT if the deadline passed)."""
        return self._call(
            "read", key, None, self.mode.read, (self.home, key), deadline, _READ_TIMEOUT
        )

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
        return self._call(
            f,
            key,
            shown,
            self.mode.write,
            (self.home, key, value, context, conditional),
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
            (self.home, key, owner, lease_ms),
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
            (self.home, key, owner),
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
            (self.home, txn, writes),
            deadline,
            _WRITE_TIMEOUT,
        )
