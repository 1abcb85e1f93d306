"""Time to first paint of timeline pages in headless Chromium (a measurement, not a test).

    python -m tests.timeline.first_paint PAGE.html [--repeat 5]

Prints the medians over the repeats, in milliseconds of wall time: from the
navigation's start to the end of the timeline's first paint (the page's
`performance.now()` then), the browser's first contentful paint, and the
script's own parts (JSON.parse of the data, the layout, one paint).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from tests.timeline.test_browser import CHROMEDRIVER, CHROMIUM, HEIGHT, WIDTH


def measure(page: Path, repeat: int) -> dict[str, float]:
    """Load `page` `repeat` times in a fresh headless Chromium; the median of each timing."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument(f"--window-size={WIDTH},{HEIGHT}")
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    runs: list[dict[str, float]] = []
    try:
        for _ in range(repeat):
            driver.get(page.resolve().as_uri())
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not driver.execute_script(
                "return !!(window.capsimTimeline || {}).ready"
                " && performance.getEntriesByName('first-contentful-paint').length > 0"
            ):
                time.sleep(0.05)
            runs.append(
                driver.execute_script(
                    "const t = capsimTimeline.timing;"
                    "const fcp = performance.getEntriesByName('first-contentful-paint')[0];"
                    "return {first_paint_since_navigation: t.since_navigation_ms,"
                    " first_contentful_paint: fcp ? fcp.startTime : null,"
                    " script_to_first_paint: t.first_paint_ms, json_parse: t.parse_ms,"
                    " layout: t.layout_ms, one_paint: t.paint_ms,"
                    " ops: capsimTimeline.drawn.ops, faults: capsimTimeline.drawn.faults};"
                )
            )
    finally:
        driver.quit()
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.page}: {args.page.stat().st_size / 1e6:.1f} MB, median of {args.repeat} loads")
    for name, value in measure(args.page, args.repeat).items():
        print(f"  {name:32} {value:10.1f}")


if __name__ == "__main__":
    main()
