"""The page: self-contained (nothing fetched), its embedded data the payload, read back intact."""

from __future__ import annotations

import json
import re
from importlib import resources

from sim.check import check
from sim.history import Op
from sim.timeline import build_timeline, render_html, to_payload
from sim.timeline.payload import LEVELS, OUTCOMES
from sim.timeline.render import DATA_ID
from tests.timeline.histories import stale_read_history

_DATA = re.compile(rf'<script type="application/json" id="{DATA_ID}">(.*?)</script>', re.S)


def embedded(page: str) -> dict:
    (text,) = _DATA.findall(page)
    return json.loads(text)


def checked_timeline():
    ops = stale_read_history().ops
    return build_timeline(ops, check(ops), title="stale <read> & co")


def test_the_page_fetches_nothing() -> None:
    page = render_html(checked_timeline())
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"<(link|iframe|img|object|embed)\b", page, re.I)
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"@import|url\(", page, re.I)
    assert "http://" not in page and "https://" not in page


def test_the_script_and_style_are_inlined_from_the_package_data() -> None:
    page = render_html(checked_timeline())
    for name in ("timeline.js", "timeline.css"):
        asset = resources.files("sim.timeline").joinpath(name).read_text(encoding="utf-8")
        assert asset.strip() and asset in page
    assert "<title>stale &lt;read&gt; &amp; co · capsim timeline</title>" in page


def test_the_embedded_data_round_trips() -> None:
    timeline = checked_timeline()
    payload = embedded(render_html(timeline))
    assert payload == to_payload(timeline)
    ops, s = payload["ops"], payload["strings"]
    lanes = payload["lanes"]
    decoded = sorted(
        (
            ops["index"][i],
            s[lanes["process"][ops["lane"][i]]],
            payload["keys"][lanes["key"][ops["lane"][i]]]["name"],
            s[ops["f"][i]],
            ops["start"][i],
            ops["end"][i],
            OUTCOMES[ops["outcome"][i]],
            LEVELS[ops["level"][i]],
            ops["siblings"][i],
        )
        for i in range(len(ops["lane"]))
    )
    expected = sorted(
        (b.index, str(b.process), b.key, b.f, b.start, b.end, b.outcome, b.level, b.siblings)
        for b in timeline.bars
    )
    assert decoded == expected
    assert payload["counts"] == {"ops": 8, "faults": 2, "orphans": 1}
    faults = payload["faults"]
    assert [s[n] for n in faults["name"]] == ["partition", "crash"]
    assert (faults["start"], faults["end"], faults["open"]) == ([2, 13], [12, 14], [0, 1])


def test_the_violation_names_rows_of_the_ops_table() -> None:
    payload = to_payload(checked_timeline())
    (violation,) = payload["violations"]
    ops = payload["ops"]
    assert violation["key_name"] == "x" and violation["state"] == "1"
    assert [ops["index"][row] for row in violation["stuck"]] == [7]
    assert [ops["index"][row] for row in violation["linearized"]] == [0, 5]
    assert payload["check"] == {
        "verdict": "not-linearizable",
        "model": "register",
        "unknown_reason": None,
    }
    keys = {k["name"]: k["verdict"] for k in payload["keys"]}
    assert keys == {"x": "not-linearizable", "y": "linearizable"}


def test_ops_are_sorted_by_lane_then_start() -> None:
    ops = to_payload(checked_timeline())["ops"]
    pairs = list(zip(ops["lane"], ops["start"], strict=True))
    assert pairs == sorted(pairs)


def test_values_cannot_close_the_script_element() -> None:
    hostile = "</script><script>alert(1)</script><!--"
    ops = [Op(0, "invoke", "write", hostile, hostile, 0.0), Op(0, "ok", "write", hostile, 1, 1.0)]
    timeline = build_timeline(ops, title=hostile)
    page = render_html(timeline)
    assert page.count("</script>") == 2  # the data's and the code's own
    assert embedded(page) == to_payload(timeline)
    assert embedded(page)["keys"][0]["name"] == hostile


def test_long_values_are_cut_for_the_page() -> None:
    ops = [Op(0, "invoke", "write", "k", "v" * 10_000, 0.0), Op(0, "ok", "write", "k", 1, 1.0)]
    payload = to_payload(build_timeline(ops))
    assert max(len(text) for text in payload["strings"]) <= 160


def test_an_empty_history_renders() -> None:
    payload = embedded(render_html(build_timeline([])))
    assert payload["counts"] == {"ops": 0, "faults": 0, "orphans": 0}
    assert payload["lanes"] == {"key": [], "process": []}
