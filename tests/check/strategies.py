"""Hypothesis strategies for checker tests: histories made by running a model, or at random."""

from __future__ import annotations

from hypothesis import strategies as st

from sim.history import Op

NEVER_WRITTEN = 999
"""A register value the strategies never write."""

register_values = st.integers(min_value=0, max_value=3)
keys = st.sampled_from(["x", "y", None])


def _pair(
    process: int, f: str, key: object, value: object, out_type: str, out_value: object, t: int
) -> list[Op]:
    """An invoke and its completion, one tick apart."""
    return [
        Op(process, "invoke", f, key, value, float(t)),
        Op(process, out_type, f, key, out_value, float(t + 1)),
    ]


@st.composite
def sequential_register_histories(draw: st.DrawFn, max_ops: int = 20) -> list[Op]:
    """A history with no concurrency, made by running the register model.

    Ops run one after another on random keys and processes. A cas that does
    not match is recorded as `fail`; some writes and cas end in `info`, and
    whether they took effect is drawn (either way the history is linearizable).
    The history ends with an ok read of every key it touched, so it has reads.
    """
    state: dict[object, object] = {}
    ops: list[Op] = []
    t = 0
    for _ in range(draw(st.integers(min_value=0, max_value=max_ops))):
        key = draw(keys)
        process = draw(st.integers(min_value=0, max_value=3))
        f = draw(st.sampled_from(["read", "write", "cas"]))
        current = state.get(key)
        if f == "read":
            ops += _pair(process, "read", key, None, "ok", current, t)
        elif f == "write":
            v = draw(register_values)
            if draw(st.booleans()):
                ops += _pair(process, "write", key, v, "ok", v, t)
                state[key] = v
            else:
                took_effect = draw(st.booleans())
                ops += _pair(process, "write", key, v, "info", v, t)
                if took_effect:
                    state[key] = v
        else:
            expected = draw(st.one_of(st.just(current), register_values))
            new = draw(register_values)
            if draw(st.integers(0, 4)) == 0:
                ops += _pair(process, "cas", key, [expected, new], "info", [expected, new], t)
                if expected == current and draw(st.booleans()):
                    state[key] = new
            elif expected == current:
                ops += _pair(process, "cas", key, [expected, new], "ok", [expected, new], t)
                state[key] = new
            else:
                ops += _pair(process, "cas", key, [expected, new], "fail", [expected, new], t)
        t += 2
    for key in {op.key for op in ops} or {"x"}:
        ops += _pair(0, "read", key, None, "ok", state.get(key), t)
        t += 2
    return ops


@st.composite
def sequential_kv_histories(draw: st.DrawFn, max_ops: int = 20) -> list[Op]:
    """A sequential kv history (get, put, append) made by running the kv model."""
    state: dict[object, str] = {}
    ops: list[Op] = []
    t = 0
    for _ in range(draw(st.integers(min_value=0, max_value=max_ops))):
        key = draw(keys)
        process = draw(st.integers(min_value=0, max_value=3))
        f = draw(st.sampled_from(["get", "put", "append"]))
        if f == "get":
            ops += _pair(process, "get", key, None, "ok", state.get(key, ""), t)
        else:
            v = draw(st.text(alphabet="ab", max_size=2))
            ops += _pair(process, f, key, v, "ok", v, t)
            state[key] = v if f == "put" else state.get(key, "") + v
        t += 2
    return ops


@st.composite
def concurrent_register_histories(draw: st.DrawFn, max_ops: int = 6) -> list[Op]:
    """A random single-key register history with overlapping ops (mostly not linearizable).

    Processes invoke and complete in a random interleaving with random
    outcomes (ok, fail, info, or never completed) and random read results, so
    that both verdicts occur. A process may invoke again after an info.
    """
    processes = draw(st.integers(min_value=1, max_value=3))
    busy: dict[int, tuple[str, object]] = {}
    ops: list[Op] = []
    invoked = 0
    t = 0
    while invoked < max_ops or busy:
        p = draw(st.integers(min_value=0, max_value=processes - 1))
        if p in busy:
            f, value = busy.pop(p)
            outcome = draw(st.sampled_from(["ok", "ok", "ok", "fail", "info"]))
            out = draw(st.one_of(st.none(), register_values)) if f == "read" else value
            ops.append(Op(p, outcome, f, "x", out, float(t)))
        elif invoked < max_ops:
            f = draw(st.sampled_from(["read", "write", "cas"]))
            if f == "read":
                value: object = None
            elif f == "write":
                value = draw(register_values)
            else:
                value = [draw(st.one_of(st.none(), register_values)), draw(register_values)]
            busy[p] = (f, value)
            ops.append(Op(p, "invoke", f, "x", value, float(t)))
            invoked += 1
        elif draw(st.booleans()):
            # Leave the rest open: their outcome is unknown.
            break
        t += 1
    return ops


def hard_register_history(writers: int) -> list[Op]:
    """`writers` concurrent writes and a concurrent read of a value none wrote.

    Not linearizable, but the search only learns that after trying every
    subset of the writes (about writers * 2**writers steps with memoisation).
    """
    ops = [Op(p, "invoke", "write", "x", p, 0.0) for p in range(writers)]
    ops.append(Op(writers, "invoke", "read", "x", None, 0.0))
    ops += [Op(p, "ok", "write", "x", p, 1.0) for p in range(writers)]
    ops.append(Op(writers, "ok", "read", "x", NEVER_WRITTEN, 1.0))
    return ops


op_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


@st.composite
def exportable_histories(draw: st.DrawFn, max_ops: int = 12) -> list[Op]:
    """Histories of any values, keys, errors and whole-ms times, with no op after an info.

    Such histories survive to_edn and back unchanged (to_edn renumbers a
    process only when it invokes again after an info).
    """
    ops = []
    t = 0
    for _ in range(draw(st.integers(min_value=0, max_value=max_ops))):
        t += draw(st.integers(min_value=0, max_value=5))
        ops.append(
            Op(
                draw(st.integers(min_value=0, max_value=4) | st.just("nemesis")),
                draw(st.sampled_from(["invoke", "ok", "fail"])),
                draw(st.sampled_from(["read", "write", "cas", "order", "start"])),
                draw(st.none() | st.text(max_size=4)),
                draw(op_values),
                float(t),
                draw(st.none() | st.sampled_from(["timed-out", "no leader", "x:y"])),
                draw(st.none() | st.integers(min_value=0, max_value=9)),
            )
        )
    return ops
