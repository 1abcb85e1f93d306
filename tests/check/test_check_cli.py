"""`python -m sim check` with the budget and key options (the rest is in tests/test_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.check import to_edn
from sim.cli import main
from sim.history import History, Op
from tests.check.adversarial import adversarial_history, exhausting_history


def test_memory_budget_exits_3_with_unknown(tmp_path: Path, capsys) -> None:
    path = tmp_path / "hard.edn"
    path.write_text(to_edn(exhausting_history(30)))
    assert main(["check", str(path), "--max-memory", "2", "--json"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "unknown" and out["unknown_reason"] == "memory"
    assert out["memo_peak_mb"] <= 2.5


def test_all_keys_reports_every_bad_key(tmp_path: Path, capsys) -> None:
    ops = []
    for key in ("a", "b"):
        ops += [
            Op(0, "invoke", "get", key, None, 0.0),
            Op(0, "ok", "get", key, "never", 1.0),
        ]
    path = tmp_path / "two.jsonl"
    History(ops).write_jsonl(path)
    assert main(["check", str(path), "--model", "kv", "--json"]) == 1
    first = json.loads(capsys.readouterr().out)
    assert len(first["explanations"]) == 1 and len(first["unchecked"]) == 1
    assert main(["check", str(path), "--model", "kv", "--json", "--all-keys"]) == 1
    every = json.loads(capsys.readouterr().out)
    assert [e["key"] for e in every["explanations"]] == ["a", "b"] and every["unchecked"] == []


def test_adversarial_kv_history_from_the_command_line(tmp_path: Path, capsys) -> None:
    h = adversarial_history(2, operations=600, clients=20, keys=5)
    path = tmp_path / "kv.edn"
    path.write_text(to_edn(h.ops))
    assert main(["check", str(path), "--model", "kv", "--timeout", "60"]) == 1
    assert f"key {json.dumps(h.bad_key)}" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0", "-5"])
def test_bad_memory_budget_is_bad_input(tmp_path: Path, value: str, capsys) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text("")
    assert main(["check", str(path), "--max-memory", value]) == 2
    assert "--max-memory: must be > 0" in capsys.readouterr().err
