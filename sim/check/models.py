"""Porcupine-style sequential specifications: a register and a key-value map, as data.

A `Model` is a frozen bundle of pure functions, like Porcupine's `Model` struct
(model.go): `init()` gives the initial state, `step(state, input, output)` says
whether an operation with that input could have returned that output from that
state and what the state becomes, `partition(ops)` splits a history into
independently checkable parts (here: one per key), and `describe_operation` /
`describe_state` render them for people. The search in linearizable.py never
names a register; it only calls these functions.

States must be hashable (the search memoises `(linearized ops, state)` pairs),
so values are frozen on the way in: lists become tuples, dicts become sorted
tuples of pairs.

An operation's input is a pair `(f, argument)`; its output is the value the
client saw (a read's result) or `UNKNOWN` when the outcome is unknown (Jepsen's
`info`), in which case any output is acceptable.

A model may also name compound operations (`compound_fs`) and `split` them
into its own operations, each on its key: the register splits a transaction
(`txn`, a list of micro-ops `["write", key, new]` and `["cas", key, [expected,
new]]`) into one write or cas per key. The checker gives every part the
transaction's invoke and completion (linearizable.py says what that checks).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["KV", "REGISTER", "UNKNOWN", "Model", "Reach", "freeze", "show_value"]

T = TypeVar("T")


class _Unknown:
    """The output of an operation whose outcome is unknown (Jepsen `info`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""Sentinel output: the client never learned the result, so any output is acceptable."""


def freeze(value: Any) -> Hashable:
    """A hashable copy of a JSON/EDN value: lists to tuples, dicts to sorted pairs, sets frozen."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted(((freeze(k), freeze(v)) for k, v in value.items()), key=repr))
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    return value


def show_value(value: Any) -> str:
    """A short rendering of a value, Jepsen style: None is nil, strings are quoted."""
    if value is None:
        return "nil"
    if value is UNKNOWN:
        return "?"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple | list):
        return "[" + " ".join(show_value(v) for v in value) + "]"
    return repr(value)


def partition_by_key(ops: Iterable[T]) -> dict[Any, list[T]]:
    """Group operations by their `key` attribute, in order of first appearance.

    Linearizability is compositional (Herlihy & Wing 1990, locality): a history is
    linearizable iff each object's sub-history is, so each key is checked alone.
    Ops whose key is None form one partition of their own.
    """
    parts: dict[Any, list[T]] = {}
    for op in ops:
        parts.setdefault(op.key, []).append(op)  # type: ignore[attr-defined]
    return parts


@dataclass(frozen=True, slots=True)
class Reach:
    """How a model's states can change: what lets the search prune (linearizable.py).

    Reads see values; writes set them. The search uses these functions to
    tell, without trying every order, that a read can never be explained
    (a dead configuration), and that two states no read can tell apart lead
    to the same futures (one memo entry for both). Every function is pure.

    Attributes:
        may_reach: `may_reach(state, value) -> bool`: False only when no
            sequence of operations without a seed can take `state` to `value`
            (the state a read of `value` accepts). True when `state == value`.
        seeds: `seeds(input) -> tuple`: what an operation may set the state to,
            whatever it was: `(value,)` for a write or a put (a cas sets its new
            value or leaves the state), `()` for an operation without a seed
            (a read, an append). An operation without a seed keeps
            `may_reach(state, v)` False once it is False, for every `v`.
        sources: `sources(value) -> iterable`: every seed `s` with
            `may_reach(s, value)`.
        observes: `observes(input, output) -> tuple`: the values whose presence
            the operation tests (a read's output, a cas's expected value), `()`
            for one that tests nothing. An operation that tests nothing does
            the same from every state: sets its seed if it has one, else
            succeeds and keeps any state out of every value's reach that was.
            One that tests something fails (or, with an unknown outcome,
            changes nothing) from a state with none of its values in reach.
        index: `index(values) -> predicate`: a fast `lambda state: any(
            may_reach(state, v) for v in values)` (e.g. a set of prefixes).
    """

    may_reach: Callable[[Hashable, Any], bool]
    seeds: Callable[[tuple[str, Any]], tuple[Hashable, ...]]
    sources: Callable[[Any], Iterable[Hashable]]
    observes: Callable[[tuple[str, Any], Any], tuple[Hashable, ...]]
    index: Callable[[Iterable[Hashable]], Callable[[Hashable], bool]]


@dataclass(frozen=True, slots=True)
class Model:
    """A sequential specification the checker tests histories against (Porcupine's Model).

    Attributes:
        name: what the CLI calls it (`register`, `kv`).
        fs: the operation names (`f`) the model understands; the checker ignores others.
        read_fs: the operations that never change the state; with an unknown output
            they constrain nothing and the checker drops them.
        init: the initial state.
        step: `step(state, input, output) -> (ok, new_state)`; pure.
        make_io: `make_io(f, invoke_value, ok_value) -> (input, output)`; turns a
            history's values into the model's; raises ValueError on a malformed value.
        partition: splits operations (anything with a `key`) into independent parts.
        describe_operation: `describe_operation(input, output) -> str`.
        describe_state: `describe_state(state) -> str`.
        compound_fs: operations made of several of the model's own, on several keys.
        split: `split(f, value) -> [(f, key, value), ...]`: a compound operation's
            parts; raises ValueError on a malformed value.
        reach: how states can change, for the search's pruning (optional; see
            `Reach`). Without it the search is Porcupine's, with no pruning.
    """

    name: str
    fs: frozenset[str]
    read_fs: frozenset[str]
    init: Callable[[], Hashable]
    step: Callable[[Hashable, tuple[str, Any], Any], tuple[bool, Hashable]]
    make_io: Callable[[str, Any, Any], tuple[tuple[str, Any], Any]]
    partition: Callable[[Iterable[Any]], dict[Any, list[Any]]]
    describe_operation: Callable[[tuple[str, Any], Any], str]
    describe_state: Callable[[Hashable], str]
    compound_fs: frozenset[str] = frozenset()
    split: Callable[[str, Any], list[tuple[str, Any, Any]]] | None = None
    reach: Reach | None = None

    def __repr__(self) -> str:
        return f"Model({self.name!r})"


# ---------------------------------------------------------------------------
# Register: read, write, compare-and-set on one value (Jepsen's cas-register).
# ---------------------------------------------------------------------------


def _register_init() -> Hashable:
    # A register never written holds nil (Jepsen's cas-register starts at nil).
    return None


def _register_step(state: Hashable, inp: tuple[str, Any], out: Any) -> tuple[bool, Hashable]:
    f, arg = inp
    if f == "read":
        # A read returns the current value; an unknown output fits any state.
        return (out is UNKNOWN or out == state), state
    if f == "write":
        return True, arg
    # cas [expected new]: succeeds exactly when the register holds `expected`.
    # An ok cas therefore proves it held `expected`; an unknown one either
    # applied (if it matched) or changed nothing. Failed cas never reach here:
    # the checker drops `fail` ops (they certainly did not happen).
    if state == arg[0]:
        return True, arg[1]
    return out is UNKNOWN, state


def _register_make_io(f: str, invoke_value: Any, ok_value: Any) -> tuple[tuple[str, Any], Any]:
    if f == "read":
        return ("read", None), freeze(ok_value)
    if f == "write":
        return ("write", freeze(invoke_value)), None
    if f == "cas":
        if not isinstance(invoke_value, list | tuple) or len(invoke_value) != 2:
            raise ValueError(f"cas value must be [expected, new] (got {invoke_value!r})")
        return ("cas", (freeze(invoke_value[0]), freeze(invoke_value[1]))), None
    raise ValueError(f"register has no operation {f!r} (allowed: read, write, cas)")


_MICRO_OPS = ("write", "cas")


def _register_split(f: str, value: Any) -> list[tuple[str, Any, Any]]:
    """A transaction's micro-ops as (f, key, value) register operations, in order."""
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"{f} value must be a non-empty list of micro-ops (got {value!r})")
    parts = []
    for micro in value:
        if not isinstance(micro, list | tuple) or len(micro) != 3 or micro[0] not in _MICRO_OPS:
            raise ValueError(
                f"{f} micro-op must be [write key new] or [cas key [expected new]] (got {micro!r})"
            )
        parts.append((str(micro[0]), micro[1], micro[2]))
    return parts


def _register_describe(inp: tuple[str, Any], out: Any) -> str:
    f, arg = inp
    if f == "read":
        return f"read() -> {show_value(out)}"
    if f == "write":
        return f"write({show_value(arg)})" + (" -> ?" if out is UNKNOWN else "")
    return f"cas({show_value(arg[0])}, {show_value(arg[1])})" + (
        " -> ?" if out is UNKNOWN else " -> ok"
    )


def _register_may_reach(state: Hashable, output: Any) -> bool:
    # Every register operation with an effect sets a value (a seed), so without
    # one the value stays as it is.
    return state == output


def _register_seeds(inp: tuple[str, Any]) -> tuple[Hashable, ...]:
    f, arg = inp
    if f == "write":
        return (arg,)
    if f == "cas":
        return (arg[1],)
    return ()


def _register_sources(output: Any) -> tuple[Hashable, ...]:
    return (output,)


def _register_observes(inp: tuple[str, Any], output: Any) -> tuple[Hashable, ...]:
    f, arg = inp
    if f == "read":
        return (output,)
    if f == "cas":
        return (arg[0],)  # a cas tests for its expected value
    return ()


def _register_index(values: Iterable[Hashable]) -> Callable[[Hashable], bool]:
    return set(values).__contains__


REGISTER_REACH = Reach(
    may_reach=_register_may_reach,
    seeds=_register_seeds,
    sources=_register_sources,
    observes=_register_observes,
    index=_register_index,
)


REGISTER = Model(
    name="register",
    fs=frozenset({"read", "write", "cas", "txn"}),
    read_fs=frozenset({"read"}),
    init=_register_init,
    step=_register_step,
    make_io=_register_make_io,
    partition=partition_by_key,
    describe_operation=_register_describe,
    describe_state=show_value,
    compound_fs=frozenset({"txn"}),
    split=_register_split,
    reach=REGISTER_REACH,
)
"""A register per key: read, write, and cas with value [expected, new]; initially nil.
A `txn` writes several keys: each micro-op is checked as that key's write or cas."""


# ---------------------------------------------------------------------------
# Key-value map: get, put, append on strings (Porcupine's kv model), per key.
# ---------------------------------------------------------------------------


def _kv_init() -> Hashable:
    # Every key starts as the empty string (Porcupine's kvModel).
    return ""


def _kv_step(state: Hashable, inp: tuple[str, Any], out: Any) -> tuple[bool, Hashable]:
    f, arg = inp
    if f == "get":
        return (out is UNKNOWN or out == state), state
    if f == "put":
        return True, arg
    return True, state + arg  # type: ignore[operator]  # append


def _kv_make_io(f: str, invoke_value: Any, ok_value: Any) -> tuple[tuple[str, Any], Any]:
    if f == "get":
        # A get of a key never written may come back as nil: the same as "".
        if ok_value is None:
            return ("get", None), ""
        if not isinstance(ok_value, str):
            raise ValueError(f"kv get must return a string (got {ok_value!r})")
        return ("get", None), ok_value
    if f in ("put", "append"):
        if not isinstance(invoke_value, str):
            raise ValueError(f"kv {f} value must be a string (got {invoke_value!r})")
        return (f, invoke_value), None
    raise ValueError(f"kv has no operation {f!r} (allowed: get, put, append)")


def _kv_describe(inp: tuple[str, Any], out: Any) -> str:
    f, arg = inp
    if f == "get":
        return f"get() -> {show_value(out)}"
    return f"{f}({show_value(arg)})" + (" -> ?" if out is UNKNOWN else "")


def _kv_may_reach(state: Hashable, output: Any) -> bool:
    # Without a put, a key's string only grows at its end.
    return output.startswith(state)  # type: ignore[no-any-return]


def _kv_seeds(inp: tuple[str, Any]) -> tuple[Hashable, ...]:
    return (inp[1],) if inp[0] == "put" else ()


def _kv_sources(output: Any) -> Iterator[Hashable]:
    return (output[:i] for i in range(len(output) + 1))  # every prefix


def _kv_observes(inp: tuple[str, Any], output: Any) -> tuple[Hashable, ...]:
    return (output,) if inp[0] == "get" else ()


def _kv_index(values: Iterable[Hashable]) -> Callable[[Hashable], bool]:
    # A state is in reach of a value when it is a prefix of it. The values
    # that start with `state` sort together, from the first one >= `state`.
    ordered = sorted(set(values))  # type: ignore[type-var]

    def in_reach(state: Hashable) -> bool:
        i = bisect.bisect_left(ordered, state)
        return i < len(ordered) and ordered[i].startswith(state)  # type: ignore[no-any-return]

    return in_reach


KV_REACH = Reach(
    may_reach=_kv_may_reach,
    seeds=_kv_seeds,
    sources=_kv_sources,
    observes=_kv_observes,
    index=_kv_index,
)


KV = Model(
    name="kv",
    fs=frozenset({"get", "put", "append"}),
    read_fs=frozenset({"get"}),
    init=_kv_init,
    step=_kv_step,
    make_io=_kv_make_io,
    partition=partition_by_key,
    describe_operation=_kv_describe,
    describe_state=show_value,
    reach=KV_REACH,
)
"""A string per key: get, put and append; every key starts as ""."""
