"""A deliberately failing machine: it shrinks, saves its case, and the case replays identically.

The planted bug is a false claim: weak mode held to strong mode's promise of
no oversell (weak oversells by design). The failure must shrink to a short
schedule, name `python -m sim replay <path>`, and the replay (in fresh
interpreters with different hash seeds) must give the failing example's
history byte for byte.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.machine.machine import ShopMachine

ROOT = Path(__file__).resolve().parents[2]


class WeakClaimsNoOversell(ShopMachine):
    """The planted bug: a weak store checked against a promise it does not make."""

    mode = "weak"
    counted = False  # its schedules test the failure path, not the store

    def final_claims(self, m: dict[str, Any]) -> None:
        super().final_claims(m)
        self.expect(m["oversell_units"] == 0, f"oversell {m['oversell_units']} (planted claim)")


def test_a_failing_example_shrinks_saves_its_case_and_replays_it_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    WeakClaimsNoOversell.saved = None
    with pytest.raises(AssertionError) as failure:
        run_state_machine_as_test(
            WeakClaimsNoOversell,
            settings=settings(
                max_examples=400,
                stateful_step_count=10,
                deadline=None,
                database=None,
                derandomize=True,
                phases=(Phase.generate, Phase.shrink),
            ),
        )
    message = str(failure.value)
    found = re.search(r"replay it: python -m sim replay (\S+)", message)
    assert found, message
    path = tmp_path / found.group(1)
    assert WeakClaimsNoOversell.saved is not None
    saved_path, history = WeakClaimsNoOversell.saved
    assert saved_path == Path(found.group(1)) and path.parent.name == ".capsim-failures"
    case = json.loads(path.read_text())
    assert case["kind"] == "machine" and "planted claim" in case["failure"]
    assert "test_planted.py" in case["property"]
    steps = case["steps"]
    # Shrunk: the smallest is a race of two orders for one unit and the settle; the shrinker
    # may stop above it (the steps' timing feeds the run's random streams), never far.
    assert 3 <= len(steps) <= 12, steps
    assert steps[-1]["do"] == "settle"
    for hash_seed in ("0", "99"):
        out = tmp_path / f"replayed-{hash_seed}.jsonl"
        subprocess.run(
            [sys.executable, "-m", "sim", "replay", str(path), "--history", str(out)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"},
        )
        assert out.read_text() == history
