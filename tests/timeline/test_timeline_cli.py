"""`python -m sim timeline` and `run --timeline`: pages written, bad input in one line, exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sim.cli import main
from tests.timeline.histories import BAD_ETCD, SCENARIO, SMALL_RUN, stale_read_history

_DATA = re.compile(r'<script type="application/json" id="capsim-data">(.*?)</script>', re.S)


def page_data(path: Path) -> dict:
    return json.loads(_DATA.search(path.read_text(encoding="utf-8"))[1])


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "stale.jsonl"
    stale_read_history().write_jsonl(path)
    return path


def one_error_line(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("capsim"), err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


def test_writes_the_page_next_to_the_history_with_the_verdict(history: Path, capsys) -> None:
    assert main(["timeline", str(history)]) == 0
    page = history.with_suffix(".html")
    assert capsys.readouterr().out == (f"timeline: {page} (8 ops, 2 faults; not-linearizable)\n")
    data = page_data(page)
    assert data["check"]["verdict"] == "not-linearizable" and len(data["violations"]) == 1


def test_no_check_draws_without_a_verdict(history: Path, tmp_path: Path, capsys) -> None:
    page = tmp_path / "plain.html"
    assert main(["timeline", str(history), "-o", str(page), "--no-check"]) == 0
    assert "not checked" in capsys.readouterr().out
    data = page_data(page)
    assert data["check"] is None and data["violations"] == []


def test_reads_a_jepsen_log_with_the_checkers_options(tmp_path: Path, capsys) -> None:
    page = tmp_path / "etcd.html"
    argv = ["timeline", str(BAD_ETCD), "-o", str(page), "--format", "jepsen-log", "--all-keys"]
    assert main([*argv, "--timeout", "60", "--max-memory", "256"]) == 0
    assert "not-linearizable" in capsys.readouterr().out
    assert page_data(page)["violations"][0]["stuck"]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["timeline", "{tmp}/missing.jsonl"], ["missing.jsonl", "cannot read"]),
        (["timeline", "{tmp}"], ["cannot read"]),
        (["timeline", "{bad}"], ["bad.jsonl", "line 1"]),
        (["timeline", "{good}", "-o", "{tmp}/no/such/dir/page.html"], ["no such directory"]),
        (["timeline", "{good}", "-o", "{tmp}"], ["is a directory"]),
        (["timeline", "{good}", "-o", "{good}"], ["is the history itself"]),
        (["timeline", "{good}", "--timeout", "-1"], ["--timeout: must be >= 0"]),
        (["timeline", "{good}", "--max-memory", "0"], ["--max-memory: must be > 0"]),
        (["timeline", "{good}", "--model", "nope"], ["invalid choice"]),
        (["timeline", "{nan}"], ["time must be a finite number"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, history: Path, capsys, argv: list[str], words: list[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"process": 0, "type": "invoke"\n')
    nan = tmp_path / "nan.jsonl"
    nan.write_text('{"process":0,"type":"invoke","f":"read","key":"x","value":null,"time":NaN}\n')
    names = {"tmp": tmp_path, "bad": bad, "good": history, "nan": nan}
    argv = [a.format(**names) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors exit from the parser
        code = exc.code
    assert code == 2
    one_error_line(capsys, *words)
    assert not (tmp_path / "no").exists()


def test_run_writes_the_timeline_of_its_history(tmp_path: Path, capsys) -> None:
    page = tmp_path / "run.html"
    history = tmp_path / "run.jsonl"
    argv = ["run", str(SCENARIO), *SMALL_RUN, "--history", str(history), "--timeline", str(page)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(rf"timeline: {re.escape(str(page))} \(\d+ ops, 1 faults; \S+\)", out)
    data = page_data(page)
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    assert data["counts"]["ops"] == sum(
        e["type"] == "invoke" and e["process"] != "nemesis" for e in lines
    )
    assert data["check"] is not None


def test_run_with_json_prints_only_the_json(tmp_path: Path, capsys) -> None:
    page = tmp_path / "run.html"
    assert main(["run", str(SCENARIO), *SMALL_RUN, "--json", "--timeline", str(page)]) == 0
    json.loads(capsys.readouterr().out)
    assert page.is_file()


def test_run_refuses_a_page_it_cannot_write_before_running(tmp_path: Path, capsys) -> None:
    argv = ["run", str(SCENARIO), "--timeline", str(tmp_path / "nowhere" / "run.html")]
    assert main(argv) == 2
    one_error_line(capsys, "no such directory")
