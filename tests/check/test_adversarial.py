"""The checker on adversarial histories: verdicts, agreement with brute force, budgets.

The histories come from tests/check/adversarial.py. Brute force here is a
reference written apart from sim/check/models.py: it tries every order of
every subset of the operations, so it only runs on small histories.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import event, given

from sim.check import KV, REGISTER, Verdict, check
from sim.history import Op
from tests.check.adversarial import (
    AdversarialHistory,
    adversarial_history,
    exhausting_history,
    small_adversarial_histories,
    small_random_histories,
)

LIN = Verdict.LINEARIZABLE
NOT = Verdict.NOT_LINEARIZABLE

# --- brute force ------------------------------------------------------------------

_INF = float("inf")


def _apply(model: str, state: Any, f: str, value: Any, out: Any, known: bool) -> tuple[bool, Any]:
    """One operation by the reference semantics: (allowed, new state)."""
    if f in ("read", "get"):
        return out == state, state
    if f in ("write", "put"):
        return True, value
    if f == "append":
        return True, state + value
    expected, new = value  # cas: a known one must match; an unknown one may not apply
    if state == expected:
        return True, new
    return not known, state


def _brute_force_key(model: str, ops: list[Op]) -> bool | None:
    """Whether one key's history is linearizable: every order of every subset of info ops.

    None when nothing is left to check (the checker then reports no verdict for the key).
    """
    open_ops: dict[Any, tuple[int, Op]] = {}
    known: list[tuple[int, float, str, Any, Any]] = []
    unknown: list[tuple[int, float, str, Any, Any]] = []
    for i, op in enumerate(ops):
        if op.type == "invoke":
            if op.process in open_ops:  # a second invoke: the first never completed
                call, inv = open_ops.pop(op.process)
                unknown.append((call, _INF, inv.f, inv.value, None))
            open_ops[op.process] = (i, op)
        elif op.process in open_ops:
            call, inv = open_ops.pop(op.process)
            if op.type == "ok":
                out = op.value
                if model == "kv" and inv.f == "get" and out is None:
                    out = ""  # a key never written reads as nil or ""
                known.append((call, i, inv.f, inv.value, out))
            elif op.type == "info":
                unknown.append((call, _INF, inv.f, inv.value, None))
    unknown += [(c, _INF, inv.f, inv.value, None) for c, inv in open_ops.values()]
    unknown = [u for u in unknown if u[2] not in ("read", "get")]  # they change nothing
    if not known and not unknown:
        return None
    init = "" if model == "kv" else None
    for k in range(len(unknown) + 1):
        for chosen in itertools.combinations(unknown, k):
            for order in itertools.permutations(known + list(chosen)):
                # Real time: nothing comes before an op that returned before it was invoked.
                if any(order[j][0] > order[m][1] for m in range(len(order)) for j in range(m)):
                    continue
                state, ok = init, True
                for _, ret, f, value, out in order:
                    ok, state = _apply(model, state, f, value, out, ret != _INF)
                    if not ok:
                        break
                if ok:
                    return True
    return False


def brute_force(model: str, ops: list[Op]) -> dict[Any, Verdict]:
    """Each key's verdict by brute force (keys are independent)."""
    fs = {"kv": {"get", "put", "append"}, "register": {"read", "write", "cas"}}[model]
    keys: dict[Any, list[Op]] = {}
    for op in ops:
        if op.f in fs:
            keys.setdefault(op.key, []).append(op)
    verdicts = {key: _brute_force_key(model, part) for key, part in keys.items()}
    return {key: LIN if ok else NOT for key, ok in verdicts.items() if ok is not None}


# --- generated histories: the verdict is the one built in --------------------------


@pytest.mark.parametrize("model", ["kv", "register"])
@pytest.mark.parametrize("seed", range(4))
def test_generated_history_verdicts(model: str, seed: int) -> None:
    args = {"model": model, "clients": 20, "keys": 4, "operations": 400, "info_rate": 0.05}
    good = adversarial_history(seed, violation=False, **args)
    assert check(good.ops, good.model, timeout_s=60).verdict is LIN
    bad = adversarial_history(seed, violation=True, **args)
    result = check(bad.ops, bad.model, timeout_s=60, all_keys=True)
    assert result.verdict is NOT, result.describe()
    assert [k for k, v in result.per_key.items() if v is NOT] == [bad.bad_key]
    assert list(result.explanations) == [bad.bad_key]


@pytest.mark.parametrize("model", ["kv", "register"])
def test_the_50_client_history_is_decided(model: str) -> None:
    """The issue's case: 50 clients, 10 keys, 1,700 ops, one stale read (the benchmark times it)."""
    h = adversarial_history(1, model=model)
    assert h.operations == 1700 and len({op.key for op in h.ops}) == 10
    result = check(h.ops, h.model, timeout_s=120)
    assert result.verdict is NOT, result.describe()
    assert result.per_key[h.bad_key] is NOT
    # The explanation comes from the search's own dead ends: here it names the stale read.
    stuck = result.explanations[h.bad_key].stuck
    assert any(op.completion is h.ops[h.stale_read] for op in stuck), result.describe()
    assert all(op.key == h.bad_key for op in stuck)


def test_the_stale_read_is_late_in_its_key() -> None:
    h = adversarial_history(3, violation_at=0.9)
    mine = [i for i, op in enumerate(h.ops) if op.key == h.bad_key]
    assert h.stale_read is not None and h.stale_read in mine
    assert mine.index(h.stale_read) > 0.8 * len(mine)


# --- small histories: the checker agrees with brute force --------------------------


@given(small_adversarial_histories())
def test_small_generated_histories_agree_with_brute_force(h: AdversarialHistory) -> None:
    result = check(h.ops, h.model, all_keys=True)
    expected = brute_force(h.model.name, h.ops)
    event(f"{h.model.name}: {'stale read' if h.bad_key is not None else 'clean'}")
    assert result.per_key == expected
    if h.bad_key is not None:
        assert result.per_key[h.bad_key] is NOT


@given(small_random_histories("kv"))
def test_small_random_kv_histories_agree_with_brute_force(ops: list[Op]) -> None:
    result = check(ops, KV, all_keys=True)
    event(f"verdict={result.verdict.value}")
    assert result.per_key == brute_force("kv", ops)


@given(small_random_histories("register"))
def test_small_random_register_histories_agree_with_brute_force(ops: list[Op]) -> None:
    result = check(ops, REGISTER, all_keys=True)
    event(f"verdict={result.verdict.value}")
    assert result.per_key == brute_force("register", ops)


@given(small_random_histories("kv"))
def test_pruning_agrees_with_the_plain_search_kv(ops: list[Op]) -> None:
    plain = dataclasses.replace(KV, reach=None)  # Porcupine's search, no reductions 2 and 3
    assert check(ops, KV, all_keys=True).per_key == check(ops, plain, all_keys=True).per_key


@given(small_random_histories("register"))
def test_pruning_agrees_with_the_plain_search_register(ops: list[Op]) -> None:
    plain = dataclasses.replace(REGISTER, reach=None)
    assert check(ops, REGISTER, all_keys=True).per_key == check(ops, plain, all_keys=True).per_key


# --- stopping at the first bad key ----------------------------------------------------


def _two_bad_keys() -> list[Op]:
    ops = []
    for i, key in enumerate(["a", "b", "c"]):
        ops += [
            Op(i, "invoke", "write", key, 1, 0.0),
            Op(i, "ok", "write", key, 1, 1.0),
            Op(i, "invoke", "read", key, None, 2.0),
            Op(i, "ok", "read", key, 2 if key != "b" else 1, 3.0),  # a and c read 2: never written
        ]
    return ops


def test_the_check_stops_at_the_first_bad_key() -> None:
    result = check(_two_bad_keys())
    assert result.verdict is NOT
    assert len(result.explanations) == 1
    bad = next(iter(result.explanations))
    assert result.per_key[bad] is NOT
    assert set(result.per_key) | set(result.unchecked) == {"a", "b", "c"}
    assert result.unchecked  # at least one key was left
    assert "not checked" in result.describe()
    assert result.to_dict()["unchecked"] == list(result.unchecked)


def test_all_keys_checks_every_key() -> None:
    result = check(_two_bad_keys(), all_keys=True)
    assert result.per_key == {"a": NOT, "b": LIN, "c": NOT}
    assert list(result.explanations) == ["a", "c"] and result.unchecked == ()


def test_a_cheap_bad_key_is_found_while_a_hard_one_runs() -> None:
    """Keys take turns: a history with one hopeless key and one plainly bad key is decided."""
    ops = exhausting_history(40, key="hard")  # 2**40 configurations: never finishes
    ops += [
        Op(99, "invoke", "read", "easy", None, 6.0),
        Op(99, "ok", "read", "easy", 7, 7.0),  # never written
    ]
    start = time.perf_counter()
    result = check(ops, timeout_s=60)
    assert result.verdict is NOT
    assert result.per_key["easy"] is NOT and result.unchecked == ("hard",)
    assert time.perf_counter() - start < 30


# --- budgets -------------------------------------------------------------------


def test_memory_budget_gives_unknown_not_a_dead_process() -> None:
    result = check(exhausting_history(30), max_memory_mb=2)
    assert result.verdict is Verdict.UNKNOWN
    assert result.unknown_reason == "memory"
    assert result.memo_peak_mb <= 2.5
    assert "memory budget" in result.describe()
    assert result.to_dict()["unknown_reason"] == "memory"


def test_memory_budget_is_shared_and_other_keys_go_on() -> None:
    ops = exhausting_history(30, key="hard")
    ops += [Op(99, "invoke", "read", "easy", None, 6.0), Op(99, "ok", "read", "easy", None, 7.0)]
    result = check(ops, max_memory_mb=2)
    assert result.per_key == {"hard": Verdict.UNKNOWN, "easy": LIN}
    assert result.verdict is Verdict.UNKNOWN


def test_the_memory_estimate_is_close_to_what_is_allocated() -> None:
    """The budget counts the memo table; tracemalloc sees every allocation of the check."""
    ops = exhausting_history(16)
    tracemalloc.start()
    try:
        result = check(ops, max_memory_mb=None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.verdict is NOT and result.states > 10_000
    estimate = result.memo_peak_mb * 1e6
    assert 0.5 * peak < estimate < 2.0 * peak


def test_timeout_and_budget_reasons_are_reported() -> None:
    result = check(exhausting_history(40), timeout_s=0.2)
    assert result.verdict is Verdict.UNKNOWN and result.unknown_reason == "time"
    assert "time" in result.describe()


@pytest.mark.parametrize("bad", [0, -1.0])
def test_bad_memory_budget_is_a_programming_error(bad: float) -> None:
    with pytest.raises(ValueError, match="max_memory_mb"):
        check([], max_memory_mb=bad)
