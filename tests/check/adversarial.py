"""Adversarial histories for the checker: many clients, overlapping ops, one injected violation.

`adversarial_history(seed, ...)` simulates `clients` clients against one
linearizable store of `keys` keys: each operation gets an invocation time, a
random latency (mostly short, sometimes twenty times longer, so that many
operations overlap), and a linearization point drawn inside its interval; the
store applies operations in linearization-point order, which gives every
read its result. An operation times out (`info`) with probability
`info_rate`: then it took effect at its point or not at all (a coin). A
compare-and-set that does not match is recorded as `fail`.

Every value written is unique, so a key's state never comes back once it is
left. The injected violation uses that: one read late in one key's history
(`violation_at`, a fraction of that key's operations) is made to return the
state from before a write that completed before the read was invoked: a stale
read. No linearization allows it, but the checker learns that only after
exploring every way of ordering what came before, which is what makes the
history hard. Without the violation the history is linearizable by
construction.

Also here: `exhausting_history` (a small history that no pruning makes
easy, for timeouts and budgets) and Hypothesis strategies over both kinds.
Used by tests/check/ and benchmarks/checker.py; the generators are pure and
deterministic in their seed (each has its own `random.Random`).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from typing import Any

from hypothesis import note
from hypothesis import strategies as st

from sim.check import KV, REGISTER, Model
from sim.history import FAIL, INFO, INVOKE, OK, Op

__all__ = [
    "AdversarialHistory",
    "adversarial_history",
    "exhausting_history",
    "small_adversarial_histories",
    "small_random_histories",
]


@dataclass(frozen=True)
class AdversarialHistory:
    """A generated history and what is known about it.

    Attributes:
        ops: the history, in time order.
        model: the model it is checked against (KV or REGISTER).
        bad_key: the key made non-linearizable, or None (linearizable).
        operations: how many operations (invoke plus completion) it holds.
        stale_read: the index in `ops` of the completion that was changed, or None.
    """

    ops: list[Op]
    model: Model
    bad_key: Any
    operations: int
    stale_read: int | None


@dataclass(slots=True)
class _Operation:
    process: int
    f: str
    key: str
    value: Any
    call: float
    ret: float
    point: float | None  # linearization point; None for an info op that never took effect
    outcome: str  # ok, fail or info
    output: Any = None
    before: Any = None  # a write's view: the key's state just before it took effect
    anchor: _Operation | None = None  # and the op that set that state's base (see _inject)


def _latency(rng: random.Random, mean_ms: float) -> float:
    # Mostly short, one in ten twenty times longer: slow operations overlap many others.
    slow = 20.0 if rng.random() < 0.1 else 1.0
    return rng.expovariate(1.0 / (mean_ms * slow)) + 0.01


def _invocations(
    rng: random.Random, model: str, clients: int, keys: int, operations: int, info_rate: float
) -> list[_Operation]:
    """Who invokes what and when: each client one operation at a time, back to back."""
    key_names = [f"k{i}" for i in range(keys)]
    ready = [(rng.uniform(0.0, 5.0), c) for c in range(clients)]
    heapq.heapify(ready)
    out: list[_Operation] = []
    unique = 0
    while len(out) < operations:
        call, process = heapq.heappop(ready)
        unique += 1
        key = rng.choice(key_names)
        if model == "kv":
            f = rng.choice(("get", "put", "append", "append"))
            value: Any = None if f == "get" else f"{f[0]}{unique}."
        else:
            f = rng.choice(("read", "read", "write", "cas"))
            value = None if f == "read" else unique
            if f == "cas":
                value = [None, unique]  # the expected value is chosen when it is applied
        ret = call + _latency(rng, 5.0)
        info = rng.random() < info_rate
        took_effect = not info or rng.random() < 0.5
        point = rng.uniform(call, ret) if took_effect else None
        out.append(_Operation(process, f, key, value, call, ret, point, INFO if info else OK))
        heapq.heappush(ready, (ret + rng.expovariate(1.0 / 2.0), process))
    return out


def _apply(rng: random.Random, model: str, ops: list[_Operation]) -> None:
    """Run the store: apply operations in linearization-point order, fill outputs and outcomes."""
    state: dict[str, Any] = {}
    anchor: dict[str, _Operation] = {}  # the last put (kv) or write/cas (register) per key
    recent: dict[str, list[Any]] = {}  # values each key held, for plausible cas guesses
    for op in sorted((op for op in ops if op.point is not None), key=lambda op: op.point):
        current = state.get(op.key, "" if model == "kv" else None)
        if op.f in ("get", "read"):
            op.output = current
            continue
        if op.f == "cas":  # expect the current value half the time, else an older one
            seen = recent.setdefault(op.key, [None])
            expected = current if rng.random() < 0.5 else rng.choice(seen)
            op.value = [expected, op.value[1]]
            if expected != current:
                if op.outcome == OK:
                    op.outcome = FAIL
                else:
                    op.point = None  # an info cas that did not match changed nothing
                continue
        op.before, op.anchor = current, anchor.get(op.key)
        if op.f == "append":
            state[op.key] = current + op.value
        else:
            state[op.key] = op.value[1] if op.f == "cas" else op.value
            anchor[op.key] = op
            recent.setdefault(op.key, [None]).append(state[op.key])
    for op in ops:
        if op.f == "cas" and op.value[0] is None and op.point is None and op.outcome == INFO:
            op.value = [rng.choice(recent.get(op.key, [None])), op.value[1]]


def _inject(ops: list[_Operation], key: str, at: float) -> tuple[_Operation, Any] | None:
    """A stale read on `key` near fraction `at` of its operations: (the read, the stale value).

    The stale value is the state S just before an ok write W that returned
    before the read was invoked. Every value written is unique, so after W the
    key can hold S again only if the op that set S's base (S's last put for kv,
    its write or cas for a register; the "anchor") is linearized after W. So W
    qualifies only when its anchor is absent (S is the initial state) or
    returned ok before W was invoked: then no linearization lets the read see S.
    """
    mine = [op for op in ops if op.key == key]
    writes = [
        op
        for op in mine
        if op.outcome == OK
        and op.point is not None
        and op.f not in ("get", "read")
        and (op.anchor is None or (op.anchor.outcome == OK and op.anchor.ret < op.call))
    ]
    start = int(at * len(mine))
    for read in mine[start:] + mine[:start]:
        if read.f not in ("get", "read") or read.outcome != OK:
            continue
        before = [w for w in writes if w.ret < read.call]
        if before:
            last = max(before, key=lambda w: w.ret)
            return read, last.before
    return None


def adversarial_history(
    seed: int,
    *,
    model: str = "kv",
    clients: int = 50,
    keys: int = 10,
    operations: int = 1700,
    info_rate: float = 0.03,
    violation: bool = True,
    violation_at: float = 0.8,
) -> AdversarialHistory:
    """A history of `operations` operations by `clients` clients on `keys` keys.

    Args:
        seed: the random seed; the same arguments give the same history.
        model: "kv" (get, put, append) or "register" (read, write, cas).
        clients: concurrent clients (processes).
        keys: keys the operations spread over, uniformly.
        operations: operations to generate.
        info_rate: probability that an operation's outcome is unknown (`info`).
        violation: whether to inject one stale read (the history is then not linearizable).
        violation_at: where in the bad key's history the stale read goes (0 to 1).

    Raises:
        ValueError: a bad argument, or no read could be made stale (too few operations).
    """
    if model not in ("kv", "register"):
        raise ValueError(f"model must be 'kv' or 'register' (got {model!r})")
    if clients < 1 or keys < 1 or operations < 0:
        raise ValueError("clients and keys must be >= 1, operations >= 0")
    rng = random.Random(seed)
    ops = _invocations(rng, model, clients, keys, operations, info_rate)
    _apply(rng, model, ops)
    bad_key = None
    stale: _Operation | None = None
    if violation:
        candidates = sorted({op.key for op in ops})
        rng.shuffle(candidates)
        for key in candidates:
            found = _inject(ops, key, violation_at)
            if found is not None:
                stale, stale_value = found
                stale.output = stale_value
                bad_key = key
                break
        else:
            raise ValueError("no read can be made stale: too few operations")
    events: list[tuple[float, int, Op, bool]] = []
    for op in ops:
        events.append((op.call, 0, Op(op.process, INVOKE, op.f, op.key, op.value, op.call), False))
        value = op.output if op.f in ("get", "read") else op.value
        if op.outcome == INFO and op.f in ("get", "read"):
            value = None
        done = Op(op.process, op.outcome, op.f, op.key, value, op.ret)
        events.append((op.ret, 1, done, op is stale))
    events.sort(key=lambda e: (e[0], e[1]))
    stale_index = next((i for i, e in enumerate(events) if e[3]), None)
    return AdversarialHistory(
        [e[2] for e in events],
        KV if model == "kv" else REGISTER,
        bad_key,
        len(ops),
        stale_index,
    )


def exhausting_history(writers: int, key: str = "x") -> list[Op]:
    """`writers` concurrent writes, then two reads in a row that saw two of the values.

    Not linearizable (nothing was written between the two reads), but the
    search learns that only after trying about every subset of the writes
    (about 2**writers configurations, even with every pruning): a history
    for timeouts and memory budgets.
    """
    ops = [Op(p, INVOKE, "write", key, p, 0.0) for p in range(writers)]
    ops += [Op(p, OK, "write", key, p, 1.0) for p in range(writers)]
    reader = writers
    ops += [
        Op(reader, INVOKE, "read", key, None, 2.0),
        Op(reader, OK, "read", key, 0, 3.0),
        Op(reader, INVOKE, "read", key, None, 4.0),
        Op(reader, OK, "read", key, 1, 5.0),
    ]
    return ops


# Hypothesis strategies over these generators. (tests/strategies.py holds the
# shared ones; these stay beside the generator they draw from.)


@st.composite
def small_adversarial_histories(draw: st.DrawFn) -> AdversarialHistory:
    """A small generated history (unique values), with or without a stale read."""
    args = {
        "model": draw(st.sampled_from(["kv", "register"])),
        "clients": draw(st.integers(1, 4)),
        "keys": draw(st.integers(1, 2)),
        "operations": draw(st.integers(1, 8)),
        "info_rate": draw(st.sampled_from([0.0, 0.2, 0.5])),
        "violation_at": draw(st.floats(0.0, 1.0)),
    }
    seed = draw(st.integers(0, 2**32 - 1))
    note(f"adversarial_history({seed}, **{args})")
    if draw(st.booleans()):
        try:
            return adversarial_history(seed, violation=True, **args)
        except ValueError:
            pass  # too few operations for a stale read
    return adversarial_history(seed, violation=False, **args)


@st.composite
def small_random_histories(draw: st.DrawFn, model: str) -> list[Op]:
    """A small history of random ops and outcomes over a few values (values repeat).

    Up to three processes on keys x and y; completions are ok, fail or info,
    reads return any of a few values, and some ops never complete. Mostly not
    linearizable; values that repeat are what the generator above never makes.
    """
    processes = draw(st.integers(1, 3))
    reads = ["", "a", "b", "ab", "ba", "aa", None] if model == "kv" else [None, 0, 1, 2]
    busy: dict[int, tuple[str, str, Any]] = {}
    ops: list[Op] = []
    invoked = 0
    limit = draw(st.integers(1, 7))
    t = 0
    while invoked < limit or busy:
        p = draw(st.integers(0, processes - 1))
        if p in busy:
            f, key, value = busy.pop(p)
            outcome = draw(st.sampled_from([OK, OK, OK, FAIL, INFO]))
            out = draw(st.sampled_from(reads)) if f in ("read", "get") else value
            ops.append(Op(p, outcome, f, key, out, float(t)))
        elif invoked < limit:
            key = draw(st.sampled_from(["x", "x", "y"]))
            if model == "kv":
                f = draw(st.sampled_from(["get", "put", "append"]))
                value: Any = None if f == "get" else draw(st.sampled_from(["a", "b", "ab", ""]))
            else:
                f = draw(st.sampled_from(["read", "write", "cas"]))
                if f == "read":
                    value = None
                elif f == "write":
                    value = draw(st.sampled_from([0, 1, 2]))
                else:
                    expected = draw(st.sampled_from([None, 0, 1, 2]))
                    value = [expected, draw(st.sampled_from([0, 1, 2]))]
            busy[p] = (f, key, value)
            ops.append(Op(p, INVOKE, f, key, value, float(t)))
            invoked += 1
        elif draw(st.booleans()):
            break  # leave the rest open: their outcome is unknown
        t += 1
    return ops
