"""Conformance: the checker's verdict on Jepsen's etcd histories matches the recorded one."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sim.check import check, load_history

DATA = Path(__file__).parent / "conformance" / "jepsen-etcd"


def _verdicts() -> list[tuple[str, str]]:
    with (DATA / "verdicts.tsv").open(newline="") as f:
        return [(row["file"], row["verdict"]) for row in csv.DictReader(f, delimiter="\t")]


VERDICTS = _verdicts()


def test_every_history_has_a_verdict() -> None:
    assert len(VERDICTS) == 102
    assert {name for name, _ in VERDICTS} == {p.name for p in DATA.glob("*.log")}


@pytest.mark.parametrize(("name", "expected"), VERDICTS, ids=[name for name, _ in VERDICTS])
def test_verdict_matches(name: str, expected: str) -> None:
    result = check(load_history(DATA / name, "jepsen-log"), timeout_s=60)
    assert result.verdict.value == expected, result.describe()
