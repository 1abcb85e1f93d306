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

How the history is searched:

- Per key (P-compositionality; Herlihy & Wing's locality): each partition of
  the model (a key) is checked alone. The keys' searches take turns, a slice
  of steps each (Porcupine runs them in parallel), and the check stops at the
  first key found not linearizable.
- Each key's search (`_search`) is Porcupine's `checkSingle` (checker.go):
  the call and return entries in a doubly linked list; walk it, linearize
  each call the model accepts from the current state, lift it out of the list
  and start again from the head; on a return entry (an operation that must
  have taken effect by now but cannot), backtrack. Lowe's memoisation
  ("Testing for linearizability", 2017) explores each (set of linearized ops,
  state) pair once: the rest of the search depends only on that pair.
- Three reductions, which `_search` explains and the tests check against the
  plain search and brute force: reads are taken as soon as the state explains
  them; a configuration in which some read can never be explained is
  abandoned at once; and states that no read can tell apart share one memo
  entry. The last two need the model's `Reach` (how its states can change).
- Budgets: a timeout and a memory budget (the memo tables' estimated size);
  past either, the keys not decided are UNKNOWN, never a killed process.
- The explanation of a bad key is the longest linearizable prefix the search
  met and the operations that could not follow it: data the search already
  has, at no extra cost.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sim.check.models import REGISTER, UNKNOWN, Model, freeze, show_value
from sim.errors import HistoryError
from sim.history import FAIL, INFO, INVOKE, NEMESIS, OK, TYPES, Op

__all__ = ["DEFAULT_MAX_MEMORY_MB", "CheckResult", "Explanation", "Operation", "Verdict", "check"]

# A search hands over to the scheduler in `check` once per this many steps (a
# power of two minus one, used as a mask), which then reads the wall clock:
# often enough to honour a timeout and share time between keys, rarely enough
# to be free.
_SLICE = 4095
_UNOBSERVABLE = object()  # the memo's name for every state no read can tell apart
_NOTHING = object()  # no read was found out of reach


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
        stuck: the operations that could not follow: the completed ones that real
            time allows next, none of which the model accepts from `state`, and
            (when that is why the search stopped there) the reads whose value
            can never come back after the prefix.
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
        verdict: NOT_LINEARIZABLE if any key is, else UNKNOWN if any key ran
            out of time or memory, else LINEARIZABLE.
        model: the model's name.
        per_key: each checked key's verdict, in order of first appearance.
        explanations: for each not-linearizable key, why.
        operations: how many operations were checked (after pairing and dropping).
        unchecked: keys not checked because the search stopped at the first bad
            key (see `check`'s `all_keys`), in order of first appearance.
        unknown_reason: why a key is UNKNOWN: "time" (the timeout) or "memory"
            (the memory budget); None when no key is.
        states: (linearized set, state) configurations the search memoised, all keys.
        memo_peak_mb: the largest memo table of one key, estimated, in MB.
    """

    verdict: Verdict
    model: str
    per_key: dict[Any, Verdict] = field(default_factory=dict)
    explanations: dict[Any, Explanation] = field(default_factory=dict)
    operations: int = 0
    unchecked: tuple[Any, ...] = ()
    unknown_reason: str | None = None
    states: int = 0
    memo_peak_mb: float = 0.0

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
            "unchecked": list(self.unchecked),
            "unknown_reason": self.unknown_reason,
            "states": self.states,
            "memo_peak_mb": round(self.memo_peak_mb, 3),
            "explanations": [e.to_dict() for e in self.explanations.values()],
        }

    def describe(self) -> str:
        """A short human summary: the verdict and, for the first bad key, where it broke."""
        counts = {v: 0 for v in Verdict}
        for v in self.per_key.values():
            counts[v] += 1
        n_keys = len(self.per_key) + len(self.unchecked)
        head = (
            f"{self.verdict.value}: {self.operations} ops on {n_keys} "
            f"key{'' if n_keys == 1 else 's'} ({self.model} model)"
        )
        if n_keys > 1:
            parts = [f"{n} {v.value}" for v, n in counts.items() if n]
            if self.unchecked:
                parts.append(f"{len(self.unchecked)} not checked")
            head += "; " + ", ".join(parts)
        lines = [head]
        if self.unknown_reason == "memory":
            lines.append("the search reached its memory budget; try a larger one")
        elif self.unknown_reason == "time":
            lines.append("the search ran out of time; try a longer timeout")
        if not self.explanations:
            return "\n".join(lines)
        if self.unchecked:
            lines.append("(the check stops at the first bad key; ask for all keys to see the rest)")
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


DEFAULT_MAX_MEMORY_MB = 1024.0
"""The search's memory budget per key unless told otherwise (see `check`)."""


def check(
    ops: Iterable[Op],
    model: Model = REGISTER,
    timeout_s: float | None = None,
    *,
    max_memory_mb: float | None = DEFAULT_MAX_MEMORY_MB,
    all_keys: bool = False,
) -> CheckResult:
    """Check whether a history is linearizable with respect to `model`.

    Each key (the model's partition) is checked alone: linearizability is
    compositional. The keys' searches take turns, a slice of steps each, and
    the check stops as soon as one key is found not linearizable (the history
    then is not; the keys not decided are listed in `unchecked`), unless
    `all_keys`.

    Args:
        ops: the history, in the order events happened (Jepsen's convention).
        model: REGISTER (read, write, cas) or KV (get, put, append).
        timeout_s: give up after about this many seconds of wall time and
            return UNKNOWN for the keys not decided; None waits as long as it takes.
        max_memory_mb: the search's memory budget in MB (10^6 bytes): the
            memo tables of the keys being searched, together, estimated with
            sys.getsizeof as they grow (the search's one structure that grows
            without bound). Past it, the key with the largest table is given
            up as UNKNOWN (reason "memory"), its memory freed, and the other
            keys go on. None: no budget. The process's peak is higher by the
            history itself (a few hundred bytes per op).
        all_keys: check every key even after one is found not linearizable
            (to get every bad key's explanation).

    Returns:
        The verdict, one verdict per checked key and an explanation per bad key.

    Raises:
        HistoryError: an op has an unknown type or a value the model cannot read.
    """
    if timeout_s is not None and timeout_s < 0:
        raise ValueError(f"timeout_s must be >= 0 (got {timeout_s})")
    if max_memory_mb is not None and max_memory_mb <= 0:
        raise ValueError(f"max_memory_mb must be > 0 (got {max_memory_mb})")
    # The only wall-clock read in the checker: Porcupine's timeout.
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    max_bytes = math.inf if max_memory_mb is None else max_memory_mb * 1e6
    operations = _pair(ops, model)
    parts = model.partition(operations)
    decided: dict[Any, Verdict] = {}
    explanations: dict[Any, Explanation] = {}
    reason = None
    states = 0
    peak_bytes = 0.0
    # Every key's search runs a slice at a time, in turn (smallest key first),
    # like Porcupine's partitions in parallel: a bad key is found as soon as
    # its own search fails, however long the good keys take.
    searches = {
        key: _search(model, parts[key], max_bytes)
        for key in sorted(parts, key=lambda k: len(parts[k]))
    }
    sizes: dict[Any, tuple[int, int]] = {}  # key -> (memo bytes, memo entries) so far
    stop = False
    while searches and not stop:
        for key, search in list(searches.items()):
            if key not in searches:
                continue  # given up for memory in this round
            try:
                sizes[key] = next(search)
            except StopIteration as finished:
                outcome: _Outcome = finished.value
                del searches[key]
                sizes.pop(key, None)
                decided[key] = outcome.verdict
                states += outcome.states
                peak_bytes = max(peak_bytes, outcome.memory_bytes)
                if outcome.reason is not None:
                    reason = reason or outcome.reason
                if outcome.verdict is Verdict.NOT_LINEARIZABLE:
                    explanations[key] = _explain(
                        model, key, parts[key], outcome.prefix, outcome.state, outcome.blocked
                    )
                    stop = not all_keys
                if stop:
                    break
                continue
            in_use = sum(size for size, _ in sizes.values())
            peak_bytes = max(peak_bytes, in_use)
            if in_use > max_bytes:
                # Over the budget together: give up the key with the largest memo.
                largest = max(sizes, key=lambda k: sizes[k][0])
                searches.pop(largest).close()
                states += sizes.pop(largest)[1]
                decided[largest] = Verdict.UNKNOWN
                reason = reason or "memory"
            if deadline is not None and time.monotonic() >= deadline:
                for late in searches:
                    decided[late] = Verdict.UNKNOWN
                    states += sizes.get(late, (0, 0))[1]
                reason = reason or "time"
                stop = True
                break
    for search in searches.values():
        search.close()  # the keys left unchecked after a bad one
    per_key = {key: decided[key] for key in parts if key in decided}
    unchecked = tuple(key for key in parts if key not in decided)
    values = set(per_key.values())
    if Verdict.NOT_LINEARIZABLE in values:
        verdict = Verdict.NOT_LINEARIZABLE
    elif Verdict.UNKNOWN in values:
        verdict = Verdict.UNKNOWN
    else:
        verdict = Verdict.LINEARIZABLE
    return CheckResult(
        verdict,
        model.name,
        per_key,
        explanations,
        len(operations),
        unchecked,
        reason,
        states,
        peak_bytes / 1e6,
    )


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

    __slots__ = (
        "bit",
        "id",
        "info",
        "input",
        "is_call",
        "match",
        "missing",
        "next",
        "output",
        "prev",
        "read",
        "seeded",
        "watchers",
    )

    def __init__(self, op_id: int, is_call: bool, inp: Any = None, output: Any = None) -> None:
        self.id = op_id
        self.bit = 1 << op_id if op_id >= 0 else 0
        self.is_call = is_call
        self.input = inp
        self.output = output
        self.info = False
        self.read = False  # a read-only op with a known output (see _search)
        # Pruning (see _search): a read's count of its seeding ops not yet
        # linearized; an op's reads that it is a seeding op of.
        self.missing = 0
        self.watchers: list[_Entry] = []
        self.seeded = False  # an op with a seed (it may set any state)
        self.match: _Entry | None = None  # a call's return entry; None for info calls
        self.next: _Entry | None = None
        self.prev: _Entry | None = None


def _link(part: list[Operation], model: Model) -> _Entry:
    """Build the time-ordered linked list of call/return entries behind a head sentinel.

    Each read with a known output is marked (`read`). When the model can prune
    (`reach`), each such read learns how many seeding ops it has
    (`missing`): ops invoked before the read returned whose seed is one of the
    read's sources, the only ops that may take the state from where the read
    cannot be reached to where it can. Each seeding op lists its reads (`watchers`).
    """
    read_fs = model.read_fs
    reach = model.reach
    entries = [_Entry(op_id, True, op.input, op.output) for op_id, op in enumerate(part)]
    by_seed: dict[Any, list[int]] = {}  # seed -> the ops that may set it
    if reach is not None:
        for op_id, op in enumerate(part):
            for seed in reach.seeds(op.input):
                by_seed.setdefault(seed, []).append(op_id)
                entries[op_id].seeded = True
    events: list[tuple[int, _Entry]] = []
    for op_id, op in enumerate(part):
        call = entries[op_id]
        events.append((op.call, call))
        if op.ret is None:
            # Return at +infinity: no return entry, nothing ever waits for it.
            call.info = True
            continue
        call.read = op.f in read_fs
        if call.read and reach is not None:
            seeding = {
                x
                for source in reach.sources(op.output)
                for x in by_seed.get(source, ())
                if part[x].call < op.ret  # invoked before the read returned
            }
            call.missing = len(seeding)
            for x in seeding:
                entries[x].watchers.append(call)
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


def _lift(entry: _Entry) -> None:
    """Unlink a call entry and its return entry (Porcupine's lift)."""
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


def _unlift(entry: _Entry) -> None:
    """Relink what _lift unlinked: the return entry, then the call (in reverse order)."""
    match = entry.match
    if match is not None:
        match.prev.next = match  # type: ignore[union-attr]
        if match.next is not None:
            match.next.prev = match
    entry.prev.next = entry  # type: ignore[union-attr]
    if entry.next is not None:
        entry.next.prev = entry


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What the search of one partition found."""

    verdict: Verdict
    prefix: list[int]  # the longest linearizable prefix found (op ids, in order)
    state: Any  # the model state after it
    states: int  # (linearized set, state) configurations memoised
    memory_bytes: int  # the memo table's estimated size at the end
    reason: str | None = None  # why UNKNOWN: "memory" (the timeout is the scheduler's)
    # The output of the read that could never be explained after the prefix,
    # when that is why the prefix ended (reduction 2), else _NOTHING.
    blocked: Any = _NOTHING


# The memo table's size is estimated as it grows, so that a budget ends the
# search before the process runs out of memory: an entry is a 2-tuple (56
# bytes) in a set (16-byte slots, kept at most 60% full and grown fourfold:
# about 36 bytes an entry), plus sys.getsizeof of the bitset and of the state
# it holds. CPython 3.11, 64 bits; tests/check/test_adversarial.py checks the
# estimate against tracemalloc.
_MEMO_ENTRY_BYTES = 92


def _search(
    model: Model, part: list[Operation], max_bytes: float
) -> Generator[tuple[int, int], None, _Outcome]:
    """Porcupine's checkSingle on one partition, with three reductions and a memory budget.

    The search walks the list of call and return entries from the head; it
    tries to linearize each call the model accepts from the current state,
    lifts the call and its return out of the list and starts again from the
    head; on reaching a return entry (an op that must have taken effect by
    now but cannot), it backtracks (Wing & Gong; Porcupine's checker.go).
    Memoisation (Lowe 2017): the rest of the search depends only on the set
    of linearized ops and the model state, so a (set, state) pair is
    explored once; the memo is a set of (bitset, state) pairs.

    1. Reads first (a partial-order reduction): a read with a known output
    that the current state explains is linearized at once, with no
    alternative tried. That loses no linearization: if one places the read
    later, moving it here is also one, because a read changes no state and
    real time cannot forbid it (it is in the list before the first pending
    return, so every op not yet linearized returns after it was invoked).

    The other two need the model's `Reach` (how its states can change):

    2. Reads that can never be explained: a read not yet linearized must see
    its output some time before it returns. Only its seeding ops (ops with a
    seed among the read's sources, invoked before it returned) can take the
    state from where its output is out of reach to where it is in reach.
    Once all of them are linearized, the state must keep the output in reach,
    or the read, whenever it comes, cannot be explained: the configuration is
    dead and the search backtracks at once, instead of exploring everything
    up to that read's return. With unique values (Jepsen's histories), a
    stale read fails as soon as the state leaves the value it saw.

    3. States no read can tell apart: a state from which no value that any
    op of the partition observes (a read's output, a cas's expected value)
    is in reach behaves like any other such state: ops that observe nothing
    do the same from all of them (set their seed, or keep them out of reach),
    and ops that observe something fail from all of them. So they share one
    memo entry (`_UNOBSERVABLE`). This is what keeps the orders of writes
    that no read saw (appends a later put overwrote) from multiplying the
    search: each order leaves a different string, but none that anybody read.

    The memo table's size is estimated as it grows; past `max_bytes` the
    verdict is UNKNOWN (reason "memory").

    A generator: every `_SLICE + 1` steps it yields (estimated bytes, memo
    entries), so that `check` can share the time between keys, keep to its
    timeout and to the memory budget; it returns what it found.

    Returns:
        What the search found; `prefix` and `state` describe the longest
        linearizable prefix seen before the search gave up or failed.
    """
    head = _link(part, model)
    step = model.step
    reach = model.reach
    may_reach = reach.may_reach if reach is not None else None
    # States no read (or cas) can tell apart share one memo entry (see above).
    observable = None
    if reach is not None:
        observable = reach.index([v for op in part for v in reach.observes(op.input, op.output)])
    state = model.init()
    remaining = sum(1 for op in part if op.ret is not None)
    linearized = 0  # bitset of the linearized ops, as a Python int
    memo: set[tuple[int, Any]] = set()
    used = 0  # estimated bytes of the memo table
    # The backtracking stack: (entry, state before it, forced, whether that
    # state was observable). A forced entry is a read taken by the reduction:
    # backtracking passes over it.
    calls: list[tuple[_Entry, Any, bool, bool]] = []
    # Whether some value observed in the partition is in reach of the state.
    # Ops without a seed never bring one back in reach (Reach.seeds), so an
    # unobservable state stays so until a seeded op: no need to ask the index.
    observed = True
    best: list[int] = []
    best_state = state
    blocked: Any = _NOTHING  # the output take_reads found out of reach
    best_blocked: Any = _NOTHING
    steps = 0
    # The outputs of the reads all of whose seeding ops are linearized (with
    # how many such reads): the state must be able to reach each of them.
    watched: dict[Any, int] = {}

    def watch(read: _Entry, by: int) -> None:
        count = watched.get(read.output, 0) + by
        if count:
            watched[read.output] = count
        else:
            del watched[read.output]

    def taken(entry: _Entry) -> None:
        """Bookkeeping after `entry` is linearized (its bit already set)."""
        for read in entry.watchers:
            read.missing -= 1
            if not read.missing and not linearized & read.bit:
                watch(read, 1)
        if entry.read and not entry.missing:
            watch(entry, -1)

    def untaken(entry: _Entry) -> None:
        """Bookkeeping after `entry` is unlinearized (its bit already cleared)."""
        for read in entry.watchers:
            if not read.missing and not linearized & read.bit:
                watch(read, -1)
            read.missing += 1
        if entry.read and not entry.missing:
            watch(entry, 1)

    def take_reads() -> bool:
        """Linearize every read in the window that the state explains.

        Returns False when some read can never be explained (see above).
        """
        nonlocal linearized, remaining
        entry = head.next
        while entry is not None and entry.is_call:
            if entry.read and step(state, entry.input, entry.output)[0]:
                _lift(entry)
                calls.append((entry, state, True, observed))
                linearized |= entry.bit
                remaining -= 1
                if may_reach is not None:
                    taken(entry)
                entry = entry.prev.next  # type: ignore[union-attr]  # the next live entry
            else:
                entry = entry.next
        nonlocal blocked
        if may_reach is not None:
            for output in watched:
                if output == state:
                    continue
                if not may_reach(state, output):
                    blocked = output
                    return False
        return True

    def undo(depth: int) -> _Entry:
        """Pop the stack down to `depth` entries, relinking each; the last one popped."""
        nonlocal linearized, remaining, state, observed
        while True:
            entry, state, _, observed = calls.pop()
            _unlift(entry)
            linearized ^= entry.bit
            if entry.match is not None:
                remaining += 1
            if may_reach is not None:
                untaken(entry)
            if len(calls) <= depth:
                return entry

    if may_reach is not None:
        e = head.next
        while e is not None:
            if e.is_call and e.read and not e.missing:
                watch(e, 1)
            e = e.next
    if not take_reads():
        prefix = [c[0].id for c in calls]
        return _Outcome(Verdict.NOT_LINEARIZABLE, prefix, state, 0, 0, None, blocked)
    if remaining == 0:
        return _Outcome(Verdict.LINEARIZABLE, [c[0].id for c in calls], state, 0, 0)
    entry = head.next
    while True:
        steps += 1
        if not steps & _SLICE:
            yield used, len(memo)  # the scheduler's turn (check's timeout, other keys)
        if entry is not None and entry.is_call:
            if entry.read:
                entry = entry.next  # the state does not explain it (else it was taken)
                continue
            ok, new_state = step(state, entry.input, entry.output)
            # An info op that leaves the state as it is can be left out instead:
            # it never blocks anything (it returns at +infinity).
            if not ok or (entry.info and new_state == state):
                entry = entry.next
                continue
            new_linearized = linearized | entry.bit
            new_observed = observed
            if observable is not None and new_state is not state and (observed or entry.seeded):
                new_observed = observable(new_state)
            memo_state = new_state if new_observed else _UNOBSERVABLE
            memo_key = (new_linearized, memo_state)
            if memo_key in memo:  # Lowe's memoisation
                entry = entry.next
                continue
            memo.add(memo_key)
            used += _MEMO_ENTRY_BYTES + sys.getsizeof(new_linearized) + sys.getsizeof(memo_state)
            if used > max_bytes:
                return _Outcome(Verdict.UNKNOWN, best, best_state, len(memo), used, "memory")
            # Take it, then every read the new state explains.
            depth = len(calls)
            calls.append((entry, state, False, observed))
            _lift(entry)
            state = new_state
            observed = new_observed
            linearized = new_linearized
            if entry.match is not None:
                remaining -= 1
            if may_reach is not None:
                taken(entry)
            if not take_reads():
                # Some read can never be explained from here: undo, try the next op.
                if len(calls) > len(best):
                    best = [c[0].id for c in calls]
                    best_state = state
                    best_blocked = blocked
                entry = undo(depth).next
                continue
            if remaining == 0:
                # Every completed op is placed; unplaced info ops never happened.
                prefix = [c[0].id for c in calls]
                return _Outcome(Verdict.LINEARIZABLE, prefix, state, len(memo), used)
            entry = head.next
        else:
            # A return entry (that op must be linearized by now but cannot be) or
            # the end of the list: backtrack to the last choice, undoing the
            # reads it let in (they were no choice).
            if len(calls) > len(best):
                best = [c[0].id for c in calls]
                best_state = state
                best_blocked = _NOTHING
            depth = len(calls) - 1
            while depth >= 0 and calls[depth][2]:
                depth -= 1
            if depth < 0:  # no choice left to undo
                return _Outcome(
                    Verdict.NOT_LINEARIZABLE, best, best_state, len(memo), used, None, best_blocked
                )
            entry = undo(depth).next


def _explain(
    model: Model, key: Any, part: list[Operation], prefix: list[int], state: Any, blocked: Any
) -> Explanation:
    """Turn the longest prefix into an explanation: what was placed and what could not follow.

    The ops that could not follow: those real time allows next that the model
    rejects from the state, and, when the prefix ended because a read could
    never be explained (`blocked`, its output), the reads of that output.
    """
    placed = set(prefix)
    rest = [op for i, op in enumerate(part) if i not in placed]
    first_return = min((op.ret for op in rest if op.ret is not None), default=None)
    # Real time allows next exactly the ops invoked before the earliest pending
    # return; of those, the completed ones are the ones that had to fit.
    stuck = [
        op
        for op in rest
        if op.ret is not None
        and (first_return is None or op.call < first_return)
        and not model.step(state, op.input, op.output)[0]
    ]
    if blocked is not _NOTHING:
        stuck += [
            op
            for op in rest
            if op.ret is not None
            and op.f in model.read_fs
            and op.output == blocked
            and op not in stuck
        ]
    return Explanation(
        key, tuple(part[i] for i in prefix), model.describe_state(state), tuple(stuck)
    )
