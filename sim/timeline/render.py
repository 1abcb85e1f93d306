"""The timeline page: one self-contained HTML file, the data embedded as JSON, CSS and JS inline.

Nothing is fetched: the page's stylesheet and script are package data files
(sim/timeline/timeline.css, timeline.js, page.html) read with
importlib.resources and written into the page, so it opens from disk, offline,
years later.
"""

from __future__ import annotations

import html
import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sim.timeline.model import Timeline
from sim.timeline.payload import to_payload

__all__ = ["DATA_ID", "embed_json", "render_html", "write_timeline"]

DATA_ID = "capsim-data"
"""The id of the <script type="application/json"> element holding the data."""

_SLOT = re.compile(r"\{\{(title|css|js|data)\}\}")


@cache
def _asset(name: str) -> str:
    return resources.files("sim.timeline").joinpath(name).read_text(encoding="utf-8")


def embed_json(payload: Any) -> str:
    """JSON that is safe inside a <script> element: no `<`, so no `</script>` or `<!--`.

    `<` can only occur inside JSON strings, where `\\u003c` reads back as the same text.
    """
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c")


def render_html(timeline: Timeline) -> str:
    """The page for `timeline`, as text (see the module docstring)."""
    parts = {
        "title": html.escape(timeline.title),
        "css": _asset("timeline.css"),
        "js": _asset("timeline.js"),
        "data": embed_json(to_payload(timeline)),
    }
    # One pass, so that nothing inserted is read again as a slot.
    return _SLOT.sub(lambda m: parts[m.group(1)], _asset("page.html"))


def write_timeline(timeline: Timeline, path: str | Path) -> Path:
    """Write the page for `timeline` to `path` (UTF-8) and return the path."""
    out = Path(path)
    out.write_text(render_html(timeline), encoding="utf-8")
    return out
