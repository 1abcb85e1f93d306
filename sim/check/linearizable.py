"""Linearizability checking: Wing & Gong's search with Lowe's memoisation, as in Porcupine.

How a history becomes a search problem (Jepsen's and Knossos's reading of it):

- Only the ops whose `f` the model knows are read; the nemesis and every other
  `f` are ignored. Each `invoke` is paired with its process's next completion
  (`ok`, `fail` or `info`) of the model's ops.
- `fail` means the operation certainly did not happen: it is dropped.
- `info` (and an invoke never completed) means the outcome is unknown: the
  operation may take effect at any point after its invocation, or never. It is
  given a return time of +infinity and an unknown output (any output is
  acceptable), as Porcupine and Knossos do. "Or never" is implemented by
  declaring success as soon as every operation with a known outcome is
  linearized: the info operations not yet placed simply did not happen. An
  unknown-outcome operation that cannot change the state (a read) constrains
  nothing and is dropped.
- A process may invoke again after an info (capsim keeps the client's id):
  pairing only ever looks at the process's currently open invoke.
- Real-time order is the order of the ops in the history (Jepsen's and
  Knossos's convention); the `time` field is reported but not compared.
- A transaction (`txn`, whose value is a list of micro-ops `["write", key,
  new]` or `["cas", key, [expected, new]]`) becomes, for a model that splits
  it (the register), one op per micro-op on its key, each with the
  transaction's invoke and completion. Each key's history is then checked as
  usual, but not that the micro-ops took effect together: per-key checking
  does not check cross-key atomicity. A read that sees one key of a
  completed transaction and then, later in real time, the other key's old
  value is still caught (on that other key); one that sees half of it while
  the transaction is still open is not.

The search (`_check_single`) is Porcupine's `checkSingle` (checker.go): the
call and return entries of one partition in a doubly linked list; walk it,
try to linearize each call whose operation the model accepts from the
current state, lift the call and its return out of the list and start again
from the head; on reaching a return entry (an operation that must have taken
effect by now but cannot), backtrack. Lowe's memoisation ("Testing for
linearizability", 2017) skips any (set of linearized ops, state) pair already
explored: the rest of the search depends only on that pair.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sim.check.models import REGISTER, UNKNOWN, Model, freeze, show_value
from sim.errors import HistoryError
from sim.history import FAIL, INFO, INVOKE, NEMESIS, OK, TYPES, Op

__all__ = ["CheckResult", "Explanation", "Operation", "Verdict", "check"]

# Read the wall clock once per this many search steps (a power of two minus one
# is used as a mask): often enough to honour a timeout, rarely enough to be free.
_CLOCK_EVERY = 4095


class Verdict(StrEnum):
    """The outcome of a check; a timeout is a verdict (UNKNOWN), not an error (Porcupine)."""

    LINEARIZABLE = "linearizable"
    NOT_LINEARIZABLE = "not-linearizable"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Operation:
    """An invoke paired with its completion: the unit the search linearizes (Porcupine's Operation).

    `input` and `output` are the model's view (output UNKNOWN for an info op);
    `invoke` and `completion` are the history events (completion is the `info`
    event, or None when the op never completed). `call` and `ret` are positions
    in the checked history; `ret` is None for an unknown outcome (it returns at
    +infinity).
    """

    process: int | str
    f: str
    key: Any
    input: tuple[str, Any]
    output: Any
    call: int
    ret: int | None
    invoke: Op
    completion: Op | None
    description: str

    @property
    def outcome(self) -> str:
        """`ok` when the client saw the result, `info` when the outcome is unknown."""
        return INFO if self.ret is None else OK

    def to_dict(self) -> dict[str, Any]:
        """The operation as a JSON-ready dict."""
        return {
            "process": self.process,
            "f": self.f,
            "key": self.key,
            "value": self.invoke.value,
            "output": None if self.ret is None else self.completion.value,  # type: ignore[union-attr]
            "outcome": self.outcome,
            "call_time": self.invoke.time,
            "return_time": None if self.ret is None else self.completion.time,  # type: ignore[union-attr]
            "description": self.description,
        }

    def __str__(self) -> str:
        ret = "?" if self.ret is None else f"{self.completion.time:g}"  # type: ignore[union-attr]
        return f"p{self.process} {self.description}  [{self.invoke.time:g} .. {ret}]"


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why one key is not linearizable, as data (Porcupine's partial linearizations).

    Attributes:
        key: the key (partition) concerned.
        linearized: the longest linearizable prefix the search found, in order.
        state: the model state after that prefix, described.
        stuck: the operations that real time allows next and that were completed;
            the model accepts none of them from `state`.
    """

    key: Any
    linearized: tuple[Operation, ...]
    state: str
    stuck: tuple[Operation, ...]

    def to_dict(self) -> dict[str, Any]:
        """The explanation as a JSON-ready dict."""
        return {
            "key": self.key,
            "linearized": [op.to_dict() for op in self.linearized],
            "state": self.state,
            "stuck": [op.to_dict() for op in self.stuck],
        }


@dataclass(frozen=True)
class CheckResult:
    """A checker verdict with one verdict per key and, per bad key, an explanation.

    Attributes:
        verdict: NOT_LINEARIZABLE if any key is, else UNKNOWN if any key timed
            out, else LINEARIZABLE.
        model: the model's name.
        per_key: each key's verdict, in order of first appearance.
        explanations: for each not-linearizable key, why.
        operations: how many operations were checked (after pairing and dropping).
    """

    verdict: Verdict
    model: str
    per_key: dict[Any, Verdict] = field(default_factory=dict)
    explanations: dict[Any, Explanation] = field(default_factory=dict)
    operations: int = 0

    @property
    def ok(self) -> bool:
        """True when the history is linearizable."""
        return self.verdict is Verdict.LINEARIZABLE

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (keys as a list: JSON object keys must be strings)."""
        return {
            "verdict": self.verdict.value,
            "model": self.model,
            "operations": self.operations,
            "keys": [{"key": k, "verdict": v.value} for k, v in self.per_key.items()],
            "explanations": [e.to_dict() for e in self.explanations.values()],
        }

    def describe(self) -> str:
        """A short human summary: the verdict and, for the first bad key, where it broke."""
        counts = {v: 0 for v in Verdict}
        for v in self.per_key.values():
            counts[v] += 1
        n_keys = len(self.per_key)
        head = (
            f"{self.verdict.value}: {self.operations} ops on {n_keys} "
            f"key{'' if n_keys == 1 else 's'} ({self.model} model)"
        )
        if n_keys > 1:
            head += "; " + ", ".join(f"{n} {v.value}" for v, n in counts.items() if n)
        lines = [head]
        if not self.explanations:
            if self.verdict is Verdict.UNKNOWN:
                lines.append("the search ran out of time; try a longer timeout")
            return "\n".join(lines)
        e = next(iter(self.explanations.values()))
        more = len(self.explanations) - 1
        lines.append(
            f"key {show_value(e.key)}: the longest linearizable prefix has "
            f"{len(e.linearized)} ops and leaves state {e.state}"
            + (f" ({more} more bad keys)" if more else "")
        )
        for op in e.linearized[-3:]:
            lines.append(f"  ... {op}")
        lines.append("then none of these can take effect next:")
        for op in e.stuck[:5]:
            lines.append(f"  {op}")
        if len(e.stuck) > 5:
            lines.append(f"  and {len(e.stuck) - 5} more")
        return "\n".join(lines)


def check(
    ops: Iterable[Op], model: Model = REGISTER, timeout_s: float | None = None
) -> CheckResult:
    """Check whether a history is linearizable with respect to `model`.

    Args:
        ops: the history, in the order events happened (Jepsen's convention).
        model: REGISTER (read, write, cas) or KV (get, put, append).
        timeout_s: give up after about this many seconds of wall time and
            return UNKNOWN for the keys not decided; None waits as long as it takes.

    Returns:
        The verdict, one verdict per key and an explanation per bad key.

    Raises:
        HistoryError: an op has an unknown type or a value the model cannot read.
    """
    if timeout_s is not None and timeout_s < 0:
        raise ValueError(f"timeout_s must be >= 0 (got {timeout_s})")
    # The only wall-clock read in the checker: Porcupine's timeout.
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    operations = _pair(ops, model)
    per_key: dict[Any, Verdict] = {}
    explanations: dict[Any, Explanation] = {}
    for key, part in model.partition(operations).items():
        if deadline is not None and time.monotonic() >= deadline:
            per_key[key] = Verdict.UNKNOWN
            continue
        verdict, prefix, state = _check_single(model, part, deadline)
        per_key[key] = verdict
        if verdict is Verdict.NOT_LINEARIZABLE:
            explanations[key] = _explain(model, key, part, prefix, state)
    values = set(per_key.values())
    if Verdict.NOT_LINEARIZABLE in values:
        verdict = Verdict.NOT_LINEARIZABLE
    elif Verdict.UNKNOWN in values:
        verdict = Verdict.UNKNOWN
    else:
        verdict = Verdict.LINEARIZABLE
    return CheckResult(verdict, model.name, per_key, explanations, len(operations))


def _pair(ops: Iterable[Op], model: Model) -> list[Operation]:
    """Pair invokes with completions and drop what cannot matter (see the module docstring)."""
    fs = model.fs
    open_ops: dict[Any, tuple[int, Op]] = {}
    pairs: list[tuple[int, Op, int | None, Op | None]] = []
    for i, op in enumerate(ops):
        if op.f not in fs or op.process == NEMESIS:
            continue
        if op.type not in TYPES:
            raise HistoryError(
                f"op {i + 1}: type must be one of {', '.join(TYPES)} (got {op.type!r})"
            )
        if op.type == INVOKE:
            previous = open_ops.get(op.process)
            if previous is not None:
                # A second invoke while one is open: the first never completed (unknown).
                pairs.append((previous[0], previous[1], None, None))
            open_ops[op.process] = (i, op)
            continue
        opened = open_ops.pop(op.process, None)
        if opened is None:
            continue  # a completion with no invoke: nothing to check
        if op.type == FAIL:
            continue  # Jepsen: a failed op certainly did not happen
        if op.type == INFO:
            pairs.append((opened[0], opened[1], None, op))
        else:
            pairs.append((opened[0], opened[1], i, op))
    # Ops still open at the end have an unknown outcome, like info.
    pairs.extend((i, op, None, None) for i, op in open_ops.values())
    pairs.sort(key=lambda p: p[0])

    out: list[Operation] = []
    for call, inv, ret, comp in pairs:
        if ret is None and inv.f in model.read_fs:
            continue  # an unknown read changes nothing and may have returned anything
        try:
            if inv.f in model.compound_fs:
                # A transaction's micro-ops: the register's own ops, each on its key.
                parts = model.split(inv.f, inv.value)  # type: ignore[misc]
                ios = [
                    (f, key, model.make_io(f, value, None), f"{inv.f}: ") for f, key, value in parts
                ]
            else:
                io = model.make_io(inv.f, inv.value, None if ret is None else comp.value)  # type: ignore[union-attr]
                ios = [(inv.f, inv.key, io, "")]
        except ValueError as exc:
            raise HistoryError(f"op {call + 1} (process {inv.process}): {exc}") from None
        for f, key, (inp, output), prefix in ios:
            if ret is None:
                output = UNKNOWN
            out.append(
                Operation(
                    inv.process,
                    f,
                    freeze(key),  # a JSON list key must hash to partition on it
                    inp,
                    output,
                    call,
                    ret,
                    inv,
                    comp,
                    prefix + model.describe_operation(inp, output),
                )
            )
    return out


class _Entry:
    """A call or return entry in the search's doubly linked list (Porcupine's node)."""

    __slots__ = ("bit", "id", "info", "input", "is_call", "match", "next", "output", "prev")

    def __init__(self, op_id: int, is_call: bool, inp: Any = None, output: Any = None) -> None:
        self.id = op_id
        self.bit = 1 << op_id if op_id >= 0 else 0
        self.is_call = is_call
        self.input = inp
        self.output = output
        self.info = False
        self.match: _Entry | None = None  # a call's return entry; None for info calls
        self.next: _Entry | None = None
        self.prev: _Entry | None = None


def _link(part: list[Operation]) -> _Entry:
    """Build the time-ordered linked list of call/return entries behind a head sentinel."""
    events: list[tuple[int, _Entry]] = []
    for op_id, op in enumerate(part):
        call = _Entry(op_id, True, op.input, op.output)
        events.append((op.call, call))
        if op.ret is None:
            # Return at +infinity: no return entry, nothing ever waits for it.
            call.info = True
        else:
            ret = _Entry(op_id, False)
            call.match = ret
            events.append((op.ret, ret))
    events.sort(key=lambda e: e[0])
    head = _Entry(-1, False)
    prev = head
    for _, entry in events:
        prev.next = entry
        entry.prev = prev
        prev = entry
    return head


def _check_single(
    model: Model, part: list[Operation], deadline: float | None
) -> tuple[Verdict, list[int], Any]:
    """Porcupine's checkSingle on one partition.

    Returns:
        The verdict, the longest linearizable prefix found (op ids, in order)
        and the model state after it.
    """
    head = _link(part)
    step = model.step
    state = model.init()
    remaining = sum(1 for op in part if op.ret is not None)
    if remaining == 0:
        return Verdict.LINEARIZABLE, [], state
    linearized = 0  # bitset of linearized op ids, as a Python int
    cache: set[tuple[int, Any]] = set()
    calls: list[tuple[_Entry, Any]] = []  # the backtracking stack: (entry, state before it)
    best: list[int] = []
    best_state = state
    steps = 0
    entry = head.next
    while True:
        steps += 1
        if deadline is not None and not steps & _CLOCK_EVERY and time.monotonic() >= deadline:
            return Verdict.UNKNOWN, best, best_state
        if entry is not None and entry.is_call:
            ok, new_state = step(state, entry.input, entry.output)
            # An unknown-outcome op that leaves the state as it is can be left out
            # instead: it never blocks anything (returns at +inf), so skipping it
            # loses no linearization and keeps the memo table small.
            if ok and not (entry.info and new_state == state):
                new_linearized = linearized | entry.bit
                memo = (new_linearized, new_state)
                if memo not in cache:  # Lowe's memoisation
                    cache.add(memo)
                    calls.append((entry, state))
                    state = new_state
                    linearized = new_linearized
                    # lift: unlink the call and its return.
                    nxt = entry.next
                    entry.prev.next = nxt  # type: ignore[union-attr]
                    if nxt is not None:
                        nxt.prev = entry.prev
                    match = entry.match
                    if match is not None:
                        nxt = match.next
                        match.prev.next = nxt  # type: ignore[union-attr]
                        if nxt is not None:
                            nxt.prev = match.prev
                        remaining -= 1
                        if remaining == 0:
                            # Every completed op is placed; unplaced info ops never happened.
                            return Verdict.LINEARIZABLE, [e.id for e, _ in calls], state
                    entry = head.next
                    continue
            entry = entry.next
        else:
            # A return entry (that op must be linearized by now but cannot be) or
            # the end of the list: backtrack.
            if not calls:
                return Verdict.NOT_LINEARIZABLE, best, best_state
            if len(calls) > len(best):
                best = [e.id for e, _ in calls]
                best_state = state
            entry, state = calls.pop()
            linearized ^= entry.bit
            # unlift: relink the return, then the call.
            match = entry.match
            if match is not None:
                match.prev.next = match  # type: ignore[union-attr]
                if match.next is not None:
                    match.next.prev = match
                remaining += 1
            entry.prev.next = entry  # type: ignore[union-attr]
            if entry.next is not None:
                entry.next.prev = entry
            entry = entry.next


def _explain(
    model: Model, key: Any, part: list[Operation], prefix: list[int], state: Any
) -> Explanation:
    """Turn the longest prefix into an explanation: what was placed and what could not follow."""
    placed = set(prefix)
    rest = [op for i, op in enumerate(part) if i not in placed]
    first_return = min((op.ret for op in rest if op.ret is not None), default=None)
    # Real time allows next exactly the ops invoked before the earliest pending
    # return; of those, the completed ones are the ones that had to fit.
    stuck = tuple(
        op
        for op in rest
        if op.ret is not None
        and (first_return is None or op.call < first_return)
        and not model.step(state, op.input, op.output)[0]
    )
    return Explanation(key, tuple(part[i] for i in prefix), model.describe_state(state), stuck)
