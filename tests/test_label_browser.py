"""The Label and Detectors pages in a real browser (Playwright driving the system Chromium).

A user drag-selects text in the output, picks a type and adds the span: the exact
code-point offsets land in the database (the output holds accents and an emoji, so
UTF-16 vs code-point mistakes would show). Then: accept a detector span; two
annotators label the same item and the agreement appears; the adjudicated set
exports. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.browser import ARTIFACTS, MARKS, browser, choose, click_until, download, server, wait_idle  # noqa: F401 (browser, server: fixtures)
from helpers.labeling import build

pytestmark = MARKS
try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover
    pass

UNICODE_TEXT = "Le café 🍵 est très chaud ☕ à Paris, dit-on."  # emoji: 2 UTF-16 units, 1 code point
TARGET = "très chaud ☕ à"

# Code-point offsets -> a DOM Range inside the selector's text nodes, and its screen box.
RANGE_JS = """([start, end]) => {
  const root = document.querySelector('[data-testid=hallu-span-selector]');
  function at(i) {  // the i-th code point boundary
    let seen = 0; const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT); let n;
    while ((n = w.nextNode())) { const cs = Array.from(n.data);
      if (i - seen <= cs.length) { return [n, cs.slice(0, i - seen).join('').length]; } seen += cs.length; }
    return null;
  }
  const first = document.createRange(); const a = at(start); first.setStart(a[0], a[1]);
  const a1 = at(start + 1); first.setEnd(a1[0], a1[1]);
  const last = document.createRange(); const b0 = at(end - 1); last.setStart(b0[0], b0[1]);
  const b = at(end); last.setEnd(b[0], b[1]);
  const r1 = first.getBoundingClientRect(), r2 = last.getBoundingClientRect();
  return {x1: r1.left + 1, y1: r1.top + r1.height / 2, x2: r2.right - 1, y2: r2.top + r2.height / 2};
}"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from hallu_core.store.database import Store

    root = tmp_path_factory.mktemp("label-browser") / "ws"
    store = Store(root)
    build(store, texts={"g2": UNICODE_TEXT})
    store.close()
    return root


def open_label(browser, url: str, annotator: str):
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    page.goto(url)  # through the app's frame (st.navigation), as a user would
    page.get_by_role("link", name="Label").click()
    page.get_by_label("Your name (annotator)").fill(annotator)
    page.get_by_label("Your name (annotator)").press("Enter")
    expect(page.get_by_text("Item 1 of 4")).to_be_visible(timeout=60_000)
    return page


def drag_select(page, start: int, end: int) -> None:
    """Drag the mouse over [start, end) until the page reports the selection; a drag that lands while the
    component is still re-rendering (a loaded machine) is lost, as it would be for a user, who drags again."""
    shown = page.locator(".st-key-label_selection_box").get_by_text(f"Selected [{start}, {end})")
    for _ in range(3):
        box = page.evaluate(RANGE_JS, [start, end])
        page.mouse.move(box["x1"], box["y1"])
        page.mouse.down()
        page.mouse.move((box["x1"] + box["x2"]) / 2, box["y1"], steps=4)
        page.mouse.move(box["x2"], box["y2"], steps=4)
        page.mouse.up()
        try:
            expect(shown).to_be_visible(timeout=10_000)
            return
        except AssertionError:
            page.wait_for_timeout(500)
    expect(shown).to_be_visible(timeout=10_000)


def label_of(workspace, gid: str, annotator: str):
    from hallu_core.store.database import Store

    store = Store(workspace)
    try:
        return store.get_label(gid, annotator)
    finally:
        store.close()


def test_drag_select_a_span_saves_exact_offsets(browser, server, workspace):
    page = open_label(browser, server, "dana")
    expect(page.get_by_text("generation g2")).to_be_visible()  # unlabeled-first: g2 has one label
    selector = page.get_by_test_id("hallu-span-selector")
    expect(selector).to_have_text(UNICODE_TEXT, timeout=20_000)
    start = UNICODE_TEXT.index(TARGET)
    end = start + len(TARGET)
    drag_select(page, start, end)
    expect(page.get_by_text(f"Selected [{start}, {end})")).to_be_visible(timeout=20_000)
    box = page.locator(".st-key-label_selection_box")
    box.get_by_text("baseless", exact=True).click()
    page.get_by_role("button", name="Add span").click()
    expect(page.get_by_text("Your label: started, not marked done yet · 1 span(s)")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "label-span-selected.png"), full_page=True)
    label = label_of(workspace, "g2", "dana")
    assert [(s.start, s.end, s.type) for s in label.spans] == [(start, end, "baseless")]
    assert UNICODE_TEXT[label.spans[0].start:label.spans[0].end] == TARGET
    page.close()


def test_accept_a_detector_span(browser, server, workspace):
    page = open_label(browser, server, "erin")
    choose(page, "label_order", "highest detector score first")
    expect(page.get_by_text("Item 1 of 4 · generation g1")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Reveal detector suggestions").click()
    expect(page.get_by_text("Detector spans to review (1 of 1)")).to_be_visible(timeout=20_000)
    page.locator(".st-key-label_offer_0").get_by_role("button", name="Accept").click()
    expect(page.get_by_text("Detector spans to review (0 of 1)")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Your label: started, not marked done yet · 1 span(s)")).to_be_visible()
    expect(page.locator(".st-key-label_span_0").get_by_text("accepted from det")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "label-detector-span-accepted.png"), full_page=True)
    label = label_of(workspace, "g1", "erin")
    assert [(s.start, s.end, s.type, s.detector) for s in label.spans] == [(2, 6, "baseless", "det")]
    page.close()


def add_span_by_mouse(page, start: int, end: int, span_type: str, text: str = "abcdefghij") -> None:
    selectors = page.get_by_test_id("hallu-span-selector")
    expect(selectors).to_have_count(1, timeout=20_000)  # the previous item's selector is gone
    expect(selectors).to_have_text(text, timeout=20_000)
    drag_select(page, start, end)
    box = page.locator(".st-key-label_selection_box")
    expect(box.get_by_text(f"Selected [{start}, {end})")).to_be_visible(timeout=20_000)
    box.get_by_text(span_type, exact=True).click()
    box.get_by_role("button", name="Add span").click()
    expect(page.get_by_text("Your label: started, not marked done yet · 1 span(s)")).to_be_visible(timeout=20_000)


def test_two_annotators_agreement_adjudication_and_export(browser, server, workspace):
    # fay's queue starts at g4 (fewest labels by others); she marks "abcde" as a conflict
    fay = open_label(browser, server, "fay")
    expect(fay.get_by_text("Item 1 of 4 · generation g4")).to_be_visible()
    add_span_by_mouse(fay, 0, 5, "conflict")
    fay.get_by_role("button", name="Done, next").click()
    expect(fay.get_by_text("Item 2 of 4")).to_be_visible(timeout=20_000)
    # gus reaches g4 second in his queue and marks the whole output
    gus = open_label(browser, server, "gus")
    gus.locator(".st-key-label_next button").click()
    expect(gus.get_by_text("generation g4")).to_be_visible(timeout=20_000)
    add_span_by_mouse(gus, 0, 10, "conflict")
    # blind labeling: until gus marks the item done he sees neither fay's spans nor the agreement
    expect(gus.get_by_text("show once you mark it done")).to_be_visible(timeout=20_000)
    assert gus.get_by_text("Annotators on this item").count() == 0
    assert gus.get_by_text("fay vs gus").count() == 0
    gus.get_by_role("button", name="Done, next").click()
    expect(gus.get_by_text("Item 3 of 4")).to_be_visible(timeout=20_000)
    gus.locator(".st-key-label_prev button").click()
    expect(gus.get_by_text("generation g4")).to_be_visible(timeout=20_000)
    # done: the agreement of the two appears on the item: character F1 = 2*5 / (5 + 10)
    expect(gus.get_by_text("fay vs gus: character F1 0.67")).to_be_visible(timeout=20_000)
    gus.screenshot(path=str(ARTIFACTS / "label-two-annotators.png"), full_page=True)
    # gus adjudicates: keep the whole-output conflict span
    choose(gus, "adjudicate_pick", "[0, 10) conflict: “abcdefghij” — gold, gus")
    gus.keyboard.press("Escape")
    click_until(gus, gus.get_by_role("button", name="Save adjudicated set"), gus.get_by_text("adjudicated (1 spans)"))
    final = label_of(workspace, "g4", "adjudicated")
    assert [(s.start, s.end, s.type) for s in final.spans] == [(0, 10, "conflict")]
    # the agreement table and the export of the adjudicated set
    gus.get_by_role("tab", name="Agreement, adjudication and export").click()
    expect(gus.get_by_text("hidden while labeling blind")).to_be_visible()
    gus.get_by_text("Adjudicator view", exact=True).click()
    expect(gus.get_by_text("Agreement between annotators")).to_be_visible(timeout=20_000)
    wait_idle(gus)  # the export button is built by this run: a click during the run can be lost
    gus.screenshot(path=str(ARTIFACTS / "label-agreement-export.png"), full_page=True)
    saved = download(gus, gus.get_by_role("button", name="Download labels"))
    records = [json.loads(line) for line in Path(saved.path()).read_text(encoding="utf-8").splitlines()]
    adjudicated = [(r["id"], lab["start"], lab["end"], lab["text"], lab["type"]) for r in records
                   for lab in r["labels"]]
    assert adjudicated == [("g4", 0, 10, "abcdefghij", "conflict")]
    assert all(lab["annotator"] == "adjudicated" for r in records for lab in r["labels"])
    fay.close()
    gus.close()


def test_an_add_span_error_shows_beside_the_button(browser, server, workspace):
    """Issue 13 item 10: the error used to appear at the page top, far from the Add span button."""
    page = open_label(browser, server, "hal")
    selector = page.get_by_test_id("hallu-span-selector")
    expect(selector).to_have_count(1, timeout=20_000)
    text = selector.inner_text()
    drag_select(page, 0, min(5, len(text)))
    box = page.locator(".st-key-label_selection_box")
    expect(box.get_by_text("Selected [0,")).to_be_visible(timeout=20_000)
    box.get_by_role("button", name="Add span").click()  # no type chosen
    expect(box.get_by_text("Choose a type for the selected span first.")).to_be_visible(timeout=20_000)
    error = page.get_by_text("Choose a type for the selected span first.")
    assert error.count() == 1  # only beside the button, not (also) at the top of the page
    top = page.locator("h1", has_text="Label").bounding_box()
    button = box.get_by_role("button", name="Add span").bounding_box()
    shown = error.bounding_box()
    assert abs(shown["y"] - button["y"]) < abs(shown["y"] - top["y"])
    page.screenshot(path=str(ARTIFACTS / "label-add-span-error.png"), full_page=True)
    page.close()


def test_blind_by_default_then_reveal(browser, server, workspace):
    """Issue 22 item 3: detector spans (a list and dashed underlines) showed before the annotator labeled."""
    page = open_label(browser, server, "ivy")
    choose(page, "label_order", "highest detector score first")
    expect(page.get_by_text("Item 1 of 4 · generation g1")).to_be_visible(timeout=20_000)
    selector = page.get_by_test_id("hallu-span-selector")
    expect(selector).to_have_text("abcdefghij", timeout=20_000)
    reveal = page.get_by_role("button", name="Reveal detector suggestions")
    expect(reveal).to_be_visible()
    assert page.get_by_text("Detector spans to review").count() == 0
    assert selector.locator(".hallu-spansel-detector").count() == 0  # no dashed underline
    page.screenshot(path=str(ARTIFACTS / "label-blind.png"), full_page=True)
    reveal.click()
    expect(page.get_by_text("Detector spans to review (1 of 1)")).to_be_visible(timeout=20_000)
    expect(selector.locator(".hallu-spansel-detector")).to_have_text("cdef")  # det's [2, 6)
    page.screenshot(path=str(ARTIFACTS / "label-revealed.png"), full_page=True)
    label = label_of(workspace, "g1", "ivy")
    assert (label.status, label.assisted, label.selection) == ("draft", True, "score")
    page.reload()  # the reveal is kept with the label, not in the browser session
    expect(page.get_by_text("Detector spans to review (1 of 1)")).to_be_visible(timeout=60_000)
    page.close()


def test_a_link_opens_its_generation(browser, server, workspace):
    """Issue 22 item 4: /label?generation=ID&annotator=NAME opened the queue's first item."""
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    page.goto(f"{server}/label?generation=g3&annotator=jon")
    expect(page.get_by_text("Item 1 of 4 · generation g3 · opened by link")).to_be_visible(timeout=60_000)
    expect(page.get_by_label("Your name (annotator)")).to_have_value("jon", timeout=30_000)
    expect(page.get_by_test_id("hallu-span-selector")).to_have_text("abcdefghij", timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "label-deep-link.png"), full_page=True)
    page.get_by_role("button", name="No hallucination").click()
    expect(page.get_by_text("Item 2 of 4 · generation g2")).to_be_visible(timeout=20_000)
    assert label_of(workspace, "g3", "jon").selection == "link"
    page.close()


def test_a_reload_keeps_the_item(browser, server, workspace):
    """Issue 22 item 4: after a reload the page opened the queue's first item again."""
    page = open_label(browser, server, "kim")
    choose(page, "label_order", "random (for unbiased rates)")
    expect(page.get_by_text("Item 1 of 4 · generation")).to_be_visible(timeout=20_000)
    page.locator(".st-key-label_next button").click()
    expect(page.get_by_text("Item 2 of 4 · generation")).to_be_visible(timeout=20_000)
    shown = page.get_by_text("Item 2 of 4 · generation").inner_text()
    wait_idle(page)
    assert "order=random" in page.url and "generation=" in page.url
    page.reload()
    expect(page.get_by_text(shown, exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_label("Your name (annotator)")).to_have_value("kim", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "label-after-reload.png"), full_page=True)
    page.get_by_role("button", name="No hallucination").click()
    expect(page.get_by_text("Item 3 of 4")).to_be_visible(timeout=20_000)
    assert label_of(workspace, shown.rsplit(" ", 1)[-1], "kim").selection == "random"
    page.close()
