"""The dashboard in a real browser: `hallu serve`, then Overview -> Runs -> Inspect -> Compare.

Playwright drives the system Chromium (never a downloaded one); screenshots go to
test-artifacts/. Skipped, saying why, where Chromium or Playwright is missing.
"""
from __future__ import annotations

import json

import pytest

from fixtures_dashboard import build_synthetic
from helpers.browser import ARTIFACTS, MARKS, browser, choose, serve, stop, wait_idle  # noqa: F401 (browser: a fixture)

pytestmark = MARKS
try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(scope="module")
def synthetic_server(tmp_path_factory):
    ws = build_synthetic(tmp_path_factory.mktemp("browser") / "ws")
    proc, url = serve(ws, tmp_path_factory.mktemp("logs") / "serve.log")
    yield url, ws
    stop(proc)


def new_page(browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return page, dialogs


def nav(page, title: str):
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    expect(page.locator("h1", has_text=title)).to_be_visible(timeout=30000)
    wait_idle(page)


def shot(page, name: str):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def walk(page, url: str, prefix: str, pick_row: bool = True):
    page.goto(url)
    expect(page.locator("h1", has_text="Overview")).to_be_visible(timeout=60000)
    wait_idle(page)
    expect(page.locator('[data-testid="stPlotlyChart"] .main-svg').first).to_be_visible(timeout=30000)
    shot(page, f"{prefix}-1-overview")

    nav(page, "Runs")
    expect(page.locator('[data-testid="stPlotlyChart"] .main-svg').first).to_be_visible(timeout=30000)
    assert page.locator('[data-testid="stPlotlyChart"] .scatterlayer .trace').count() >= 2
    shot(page, f"{prefix}-2-runs")

    nav(page, "Inspect")
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible(timeout=30000)
    if pick_row:  # click the first row's selection cell in the data grid canvas
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)
        wait_idle(page)
    marks = page.locator(".hallu-text mark.hl")
    expect(page.get_by_text("Token confidence", exact=True)).to_be_visible(timeout=30000)
    for i in range(15):  # walk with Next until an output with spans shows (not every output has some)
        if marks.count():
            break
        page.get_by_role("button", name="Next →").click()
        expect(page.get_by_text(f"Result {i + 2} of")).to_be_visible(timeout=30000)
        wait_idle(page)
        page.wait_for_timeout(500)
    expect(marks.first).to_be_visible(timeout=30000)
    assert "generation=" in page.url  # the selection is shareable
    title = marks.first.get_attribute("title")
    assert title and ("·" in title)
    shot(page, f"{prefix}-3-inspect")

    nav(page, "Compare")
    cols = page.locator(".hallu-side-by-side").filter(has=page.locator("mark.hl, .hallu-text")).last.locator(".hallu-col")
    expect(cols.nth(1)).to_be_visible(timeout=30000)
    assert cols.count() >= 2
    a, b = cols.nth(0).bounding_box(), cols.nth(1).bounding_box()
    assert abs(a["y"] - b["y"]) < 5 and b["x"] > a["x"] + a["width"] - 5  # really side by side
    expect(page.locator('[data-testid="stPlotlyChart"] .main-svg').first).to_be_visible(timeout=30000)
    shot(page, f"{prefix}-4-compare")


def test_click_through_on_a_synthetic_workspace(browser, synthetic_server):
    url, _ = synthetic_server
    page, dialogs = new_page(browser)
    walk(page, url, "synthetic")
    # hostile strings in the workspace were shown as text, never run
    assert page.evaluate("window.__pwned === undefined")
    assert dialogs == []
    page.close()


def test_upload_shows_validation_errors_and_stores_nothing(browser, synthetic_server, tmp_path):
    url, ws = synthetic_server
    from hallu_core.store.database import Store

    before = Store(ws).counts()
    bad = tmp_path / "broken.jsonl"
    bad.write_text(json.dumps({"id": "x", "response": "abc", "labels": [{"start": 1, "end": 99}]}) + "\n{oops\n")
    page, _ = new_page(browser)
    page.goto(url)
    expect(page.locator("h1", has_text="Overview")).to_be_visible(timeout=60000)
    page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(bad))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text("broken.jsonl was refused; nothing was stored.")).to_be_visible(timeout=30000)
    expect(page.get_by_text("broken.jsonl:2").first).to_be_visible()
    shot(page, "synthetic-5-import-refused")
    assert Store(ws).counts() == before
    page.close()


def test_click_through_on_the_default_workspace(browser, tmp_path):
    """`hallu serve` with no workspace named builds the default one from sample_data and serves it."""
    proc, url = serve(None, tmp_path / "serve.log", {"XDG_DATA_HOME": str(tmp_path / "xdg")})
    try:
        page, dialogs = new_page(browser)
        walk(page, url, "default")
        assert dialogs == []
        page.close()
    finally:
        stop(proc)


def test_a_deep_link_on_a_fresh_server_takes_the_first_change(browser, tmp_path):
    """The first visitor of a just-started server opens /inspect, not /: the first filter they pick
    applies (it was dropped: Streamlit served that first run from pages/, with other widget ids)."""
    ws = build_synthetic(tmp_path / "ws")
    proc, url = serve(ws, tmp_path / "serve.log")
    try:
        page, _ = new_page(browser)
        page.goto(url + "/inspect?task=qa")
        expect(page.locator("h1", has_text="Inspect")).to_be_visible(timeout=60000)
        wait_idle(page)
        choose(page, "f-det", "lexical")
        expect(page.locator(".st-key-f-det input").first).to_have_value("lexical", timeout=30000)
        assert "task=qa" in page.url  # the link's own parameters survive the hop through app.py
        shot(page, "synthetic-6-deep-link-first-change")
        page.close()
    finally:
        stop(proc)
