"""The timeline of a run: every operation as a bar per key and client, faults, the violation.

    build_timeline(ops, check_result, title) -> Timeline   (model.py, faults.py)
    to_payload(timeline) -> the page's JSON                 (payload.py)
    render_html(timeline) / write_timeline(timeline, path)  (render.py)

The page is one self-contained HTML file (inline CSS and JavaScript, the data
embedded as JSON, nothing fetched). It stays usable for 100,000 operations by
pan and zoom over a canvas, not by aggregation: rows (a header per key, a
lane per client of that key) are laid out once, and each paint draws only
the rows in view and, in each lane, only the operations in the time window,
found by binary search (timeline.js). When the checker found a key not
linearizable, the longest linearizable prefix is outlined in green and
numbered in order, and the operations that could not be placed are red, as in
Porcupine's visualisation.
"""

from sim.timeline.faults import FaultBand, fault_bands
from sim.timeline.model import Bar, Timeline, Violation, build_timeline
from sim.timeline.payload import to_payload
from sim.timeline.render import render_html, write_timeline

__all__ = [
    "Bar",
    "FaultBand",
    "Timeline",
    "Violation",
    "build_timeline",
    "fault_bands",
    "render_html",
    "to_payload",
    "write_timeline",
]
