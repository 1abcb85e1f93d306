"""The timeline page in a real browser: headless Chromium driven by selenium.

Checks what a person would see: no JavaScript error in the console, every
operation and fault of the history laid out (counted by the page's drawing
code, compared with counts taken here from the history file), the violation
painted red on a non-linearizable history, pan and zoom working; and saves a
screenshot of each page under the test's tmp dir. Skips only when no Chromium
or chromedriver is installed (Debian: apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sim.check import check, load_history
from sim.cli import main
from tests.timeline.histories import (
    BAD_ETCD,
    SCENARIO,
    SMALL_RUN,
    count_faults,
    count_ops,
    load_events,
    stale_read_history,
)

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no headless browser: install Chromium and its driver "
    "(Debian: apt-get install chromium chromium-driver; .ci/run does)",
)
WIDTH, HEIGHT = 1400, 1000


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WIDTH},{HEIGHT}",
    ):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """name -> (history, page): a capsim run with a partition, Jepsen's etcd, a small one."""
    root = tmp_path_factory.mktemp("pages")
    run_history, run_page = root / "run.jsonl", root / "run.html"
    argv = ["run", str(SCENARIO), *SMALL_RUN, "--history", str(run_history)]
    assert main([*argv, "--timeline", str(run_page)]) == 0
    etcd_page = root / "etcd.html"
    assert main(["timeline", str(BAD_ETCD), "-o", str(etcd_page)]) == 0
    stale_history, stale_page = root / "stale.jsonl", root / "stale.html"
    stale_read_history().write_jsonl(stale_history)
    assert main(["timeline", str(stale_history)]) == 0
    return {
        "run": (run_history, run_page),
        "etcd": (BAD_ETCD, etcd_page),
        "stale": (stale_history, stale_page),
    }


def open_page(driver: Any, page: Path) -> dict[str, Any]:
    """Load `page`, wait for its first paint, return what it says it drew."""
    driver.get(page.as_uri())
    deadline = time.monotonic() + 30
    while not driver.execute_script("return !!(window.capsimTimeline && capsimTimeline.ready)"):
        assert time.monotonic() < deadline, f"{page} never finished its first paint"
        time.sleep(0.05)
    return state(driver)


def state(driver: Any) -> dict[str, Any]:
    return driver.execute_script(
        "const t = capsimTimeline;"
        "return {drawn: t.drawn, painted: t.painted, view: t.view, rows: t.rows, paints: t.paints};"
    )


def console_errors(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.parametrize("name", ["run", "etcd", "stale"])
def test_the_page_draws_every_operation_and_fault_without_errors(
    driver: Any, pages: dict[str, tuple[Path, Path]], name: str, tmp_path: Path
) -> None:
    history, page = pages[name]
    seen = open_page(driver, page)
    assert console_errors(driver) == []
    assert seen["drawn"] == {"ops": count_ops(history), "faults": count_faults(history)}
    assert seen["painted"]["ops"] > 0
    assert seen["painted"]["faults"] == seen["drawn"]["faults"]  # every fault spans the view
    body = driver.find_element("tag name", "body")
    assert body.get_attribute("data-drawn-ops") == str(count_ops(history))
    shot = tmp_path / f"timeline-{name}.png"
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_the_run_page_has_its_partition(pages: dict[str, tuple[Path, Path]]) -> None:
    history, _ = pages["run"]
    assert count_faults(history) == 1  # so that the test above compares a fault, not zeros


def test_a_small_history_is_painted_whole_at_first(
    driver: Any, pages: dict[str, tuple[Path, Path]]
) -> None:
    history, page = pages["etcd"]
    seen = open_page(driver, page)
    assert seen["painted"]["ops"] == seen["drawn"]["ops"] == count_ops(history)


@pytest.mark.parametrize("name", ["etcd", "stale"])
def test_the_violation_is_highlighted(
    driver: Any, pages: dict[str, tuple[Path, Path]], name: str, tmp_path: Path
) -> None:
    history, page = pages[name]
    explanation = next(iter(check(load_history(history)).explanations.values()))
    open_page(driver, page)
    panel = driver.find_element("id", "violation")
    assert panel.is_displayed()
    assert f"{len(explanation.linearized)} operations" in panel.text
    assert "could be placed next" in panel.text
    data = driver.execute_script(
        "return JSON.parse(document.getElementById('capsim-data').textContent).violations[0];"
    )
    assert len(data["stuck"]) == len(explanation.stuck)
    assert len(data["linearized"]) == len(explanation.linearized)
    assert driver.execute_script("return capsimTimeline.showViolation(0);")
    seen = state(driver)
    assert seen["painted"]["stuck"] == len(explanation.stuck)
    assert seen["painted"]["linearized"] >= min(1, len(explanation.linearized))
    # The pixel in the middle of an op that could not be placed is red.
    red = driver.execute_script(
        """
        const row = arguments[0], t = capsimTimeline, r = t.rectOf(row);
        const canvas = document.getElementById('timeline'), d = window.devicePixelRatio || 1;
        const x = Math.round((r.x + Math.max(r.w, 4) / 2) * d), y = Math.round((r.y + r.h / 2) * d);
        return Array.from(canvas.getContext('2d').getImageData(x, y, 1, 1).data);
        """,
        data["stuck"][0],
    )
    assert red[0] > 170 and red[1] < 90 and red[2] < 90, red
    assert console_errors(driver) == []
    assert driver.save_screenshot(str(tmp_path / f"violation-{name}.png"))


def test_pan_zoom_filter_and_rows_per_client(
    driver: Any, pages: dict[str, tuple[Path, Path]]
) -> None:
    history, page = pages["run"]
    events = load_events(history)
    starts = sorted(e["time"] for e in events if e["type"] == "invoke")
    middle = starts[len(starts) // 2]
    whole = open_page(driver, page)
    span = whole["view"]["t1"] - whole["view"]["t0"]

    driver.execute_script("capsimTimeline.zoom(16, arguments[0]);", middle)
    zoomed = state(driver)
    assert 0 < zoomed["painted"]["ops"] < whole["painted"]["ops"]
    assert zoomed["drawn"] == whole["drawn"]  # zooming lays nothing out again
    assert zoomed["view"]["t1"] - zoomed["view"]["t0"] == pytest.approx(span / 16)

    body = driver.find_element("tag name", "body")
    body.send_keys("-")  # keyboard: zoom out by 2
    out = state(driver)
    assert out["view"]["t1"] - out["view"]["t0"] == pytest.approx(span / 8)
    body.send_keys("\ue014")  # arrow right: pan a fifth of the window
    panned = state(driver)
    assert panned["view"]["t0"] == pytest.approx(out["view"]["t0"] + span / 8 / 5)

    paints = panned["paints"]
    driver.execute_script(
        "const c = document.getElementById('timeline'), r = c.getBoundingClientRect();"
        "c.dispatchEvent(new WheelEvent('wheel', {deltaY: -300, ctrlKey: true, bubbles: true,"
        " cancelable: true, clientX: r.left + r.width / 2, clientY: r.top + 100}));"
    )
    deadline = time.monotonic() + 5
    while state(driver)["paints"] == paints:  # the wheel paints on the next frame
        assert time.monotonic() < deadline
        time.sleep(0.02)
    wheeled = state(driver)
    assert wheeled["view"]["t1"] - wheeled["view"]["t0"] < span / 8

    body.send_keys("0")  # back to the whole history
    assert state(driver)["painted"]["ops"] == whole["painted"]["ops"]

    driver.execute_script("capsimTimeline.setPacked(false);")
    per_client = state(driver)
    assert per_client["rows"] > whole["rows"] and per_client["drawn"] == whole["drawn"]
    driver.execute_script("capsimTimeline.setPacked(true);")

    driver.execute_script("capsimTimeline.setFilter('order:');")
    orders = sum(
        e["type"] == "invoke" and str(e.get("key") or "").startswith("order:") for e in events
    )
    assert orders > 0 and state(driver)["drawn"]["ops"] == orders
    driver.execute_script("capsimTimeline.setFilter('');")
    assert state(driver)["drawn"] == whole["drawn"]
    assert console_errors(driver) == []


def test_the_console_check_sees_an_error(driver: Any, pages: dict[str, tuple[Path, Path]]) -> None:
    """The console check above can fail: an error thrown in the page shows up in the log."""
    open_page(driver, pages["stale"][1])
    driver.execute_script("setTimeout(() => { throw new Error('capsim-probe'); }, 0);")
    time.sleep(0.2)
    assert any("capsim-probe" in e["message"] for e in console_errors(driver))


def test_the_tooltip_names_the_operation(driver: Any, pages: dict[str, tuple[Path, Path]]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    open_page(driver, pages["stale"][1])
    data = json.loads(driver.find_element("id", "capsim-data").get_attribute("textContent"))
    row = data["violations"][0]["stuck"][0]
    rect = driver.execute_script("return capsimTimeline.rectOf(arguments[0]);", row)
    canvas = driver.find_element("id", "timeline")
    size = canvas.size
    ActionChains(driver).move_to_element_with_offset(
        canvas,
        round(rect["x"] + rect["w"] / 2 - size["width"] / 2),
        round(rect["y"] + rect["h"] / 2 - size["height"] / 2),
    ).perform()
    tip = driver.find_element("id", "tip")
    assert tip.is_displayed()
    assert "p1 read" in tip.text and "COULD NOT BE PLACED" in tip.text
