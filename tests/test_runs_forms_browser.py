"""Issue 22, in Chromium on a copy of the shipped workspace: only a form's button starts work, once
(Enter in any field starts nothing; a double click starts one job), the fine-tune form defaults to a
training set, and Inspect opens on the sidebar's checkpoint with imported models named as models."""
from __future__ import annotations

import json
import re
import shutil
import sqlite3

import pytest
from helpers.browser import ARTIFACTS, MARKS, REPO, browser, server, wait_idle  # noqa: F401 (fixtures)

pytestmark = MARKS
try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover
    pass

SHIPPED = REPO / "sample_data" / "workspace"
TRAINING_SET = "tutor-train"  # sorts after the evaluation sets: a default by name would miss it
FORMS = {"Fine-tune": "Start fine-tune", "Distill": "Start distillation", "Generate": "Start generation",
         "Detect": "Start detection"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The shipped workspace plus a small training set (prompt → reference, never generated from)."""
    from hallu_core.data import io
    from hallu_core.store.database import Store

    root = tmp_path_factory.mktemp("forms") / "ws"
    shutil.copytree(SHIPPED, root)
    rows = [{"id": f"t{i}", "prompt": f"Write a short bio of person {i}.", "reference": f"Person {i} is a chemist."}
            for i in range(8)]
    store = Store(root)
    io.import_file(store, data="\n".join(json.dumps(r) for r in rows).encode(), name=f"{TRAINING_SET}.jsonl")
    store.close()
    return root


def job_ids(workspace) -> set[str]:
    with sqlite3.connect(workspace / "hallu.db") as conn:
        return {r[0] for r in conn.execute("SELECT id FROM jobs")}


def cancel_all(workspace, ids) -> None:
    from hallu_core.jobs import runner as jobs
    from hallu_core.store.database import Store

    store = Store(workspace)
    for job_id in ids:
        jobs.cancel_job(store, job_id)
    store.close()


def runs_page(browser, server):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    page.goto(server + "/runs")
    expect(page.locator("h1", has_text="Runs")).to_be_visible(timeout=60_000)
    wait_idle(page)
    return page


def form_of(page, tab: str):
    page.get_by_role("tab", name=tab).click()
    form = page.locator('[data-testid="stForm"]').filter(has=page.get_by_role("button", name=FORMS[tab]))
    expect(form).to_be_visible(timeout=30_000)
    if tab != "Detect":  # its fields render before its button, yet Chromium may not have laid them out
        expect(form.locator("input[type=number]").first).to_be_visible(timeout=30_000)
    return form


def test_enter_in_any_field_of_the_runs_forms_starts_nothing(browser, server, workspace):  # noqa: F811
    before = job_ids(workspace)
    page = runs_page(browser, server)
    pressed = 0
    for tab in FORMS:
        form = form_of(page, tab)
        fields = form.locator("input[type=text]:not([role=combobox]), input[type=number], textarea")
        for i in range(fields.count()):
            field = fields.nth(i)
            if not field.is_visible() or not field.is_editable():
                continue
            if field.get_attribute("type") == "number":
                field.fill(field.input_value() or "1")  # its own value: a submit would be a valid config
            elif not field.input_value():
                field.fill("")  # an empty override field: the picked model, a startable job
            else:
                field.fill(f"enter-{tab.lower()}")  # the run name, as in the issue
            field.press("Enter")
            pressed += 1
            page.wait_for_timeout(300)
    wait_idle(page)
    page.wait_for_timeout(3000)  # a job that Enter started would be in the store by now
    assert pressed == 29  # every text and number field of the four forms
    assert job_ids(workspace) == before
    assert page.get_by_text("Started ").count() == 0
    page.screenshot(path=str(ARTIFACTS / "issue22-runs-enter.png"), full_page=True)
    page.close()


def test_the_finetune_form_defaults_to_a_training_set_not_the_evaluation_set(browser, server):  # noqa: F811
    page = runs_page(browser, server)
    form = form_of(page, "Fine-tune")
    dataset = form.get_by_role("combobox", name="Training dataset (prompt → reference)")
    expect(dataset).to_have_value(TRAINING_SET)
    page.close()


@pytest.mark.parametrize("tab", ["Fine-tune", "Detect"])
def test_a_double_click_on_start_starts_one_job(browser, server, workspace, tab):  # noqa: F811
    before = job_ids(workspace)
    page = runs_page(browser, server)
    form = form_of(page, tab)
    if tab == "Fine-tune":
        form.get_by_role("spinbutton", name="Max steps (-1: use epochs)").fill("2")
    button = form.get_by_role("button", name=FORMS[tab])
    button.dblclick()
    page.wait_for_timeout(400)
    button.click()  # and a third submit while the first job is starting
    try:
        kind = tab.lower().replace("-", "")
        # the last submit's run shows either the job it started or the one it refused to start twice
        expect(page.get_by_text(f"Started {kind} job").or_(page.get_by_text(f"Already started: {kind} job")))\
            .to_be_visible(timeout=90_000)
        wait_idle(page, 60)
        page.wait_for_timeout(3000)
        page.screenshot(path=str(ARTIFACTS / f"issue22-runs-double-click-{tab.lower()}.png"), full_page=True)
        with sqlite3.connect(workspace / "hallu.db") as conn:  # a quick job may be done before the second click
            new = conn.execute("SELECT id, status, created_at FROM jobs WHERE id NOT IN (SELECT value FROM "
                               "json_each(?))", (json.dumps(sorted(before)),)).fetchall()
        assert len(new) == 1, f"{len(new)} jobs started by one double click: {new}"
    finally:
        cancel_all(workspace, job_ids(workspace) - before)
        page.close()


def test_inspect_opens_on_the_sidebars_checkpoint(browser, server, workspace):  # noqa: F811
    with sqlite3.connect(workspace / "hallu.db") as conn:
        n = conn.execute("SELECT COUNT(*) FROM generations g JOIN checkpoints c ON c.id = g.checkpoint_id JOIN runs r "
                         "ON r.id = c.run_id WHERE r.name = 'demo-s0-new-knowledge' AND c.name = 'step-72' AND "
                         "g.decoding_name = 'greedy'").fetchone()[0]
        total = conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(server + "/inspect")
    expect(page.locator("h1", has_text="Inspect")).to_be_visible(timeout=60_000)
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_role("combobox").first).to_have_value("demo-s0-new-knowledge / step-72", timeout=30_000)
    expect(page.get_by_text(f"{n:,} generations match")).to_be_visible(timeout=30_000)  # not all {total:,}
    assert n < total
    filters = page.locator(".st-key-f-ckpt")
    expect(filters.get_by_text("demo-s0-new-knowledge / step-72 (step 72)")).to_be_visible()
    wait_idle(page)
    page.screenshot(path=str(ARTIFACTS / "issue22-inspect-context.png"))
    # every checkpoint: the imported models are named, with no step
    filters.get_by_role("button", name=re.compile("Clear all|clear", re.I)).first.click()
    wait_idle(page)
    page.locator(".st-key-f-ckpt input").fill("gpt-4")  # the list is long: narrow it as a user would
    expect(page.get_by_role("option", name="ragtruth_dev (imported) / gpt-4-0613", exact=True)).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "issue22-inspect-imported-named.png"))
    page.keyboard.press("Escape")
    page.close()
