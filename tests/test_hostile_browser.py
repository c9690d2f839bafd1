"""Hostile content in a real browser: >= 50 attack strings are shown as text, never run.

The strings go in the way users bring them: an imported RAGTruth file (outputs, sources,
questions, references, label notes, annotator and model names, the dataset name) and a
fine-tune run written through the Store API (run, base model and checkpoint names,
config values, detector names and evidence, a failed job's error). Every page is walked
(Overview, Runs, Inspect, Compare, Label, Detectors); after each one `window.__pwned`,
which every payload tries to set, must be undefined, no dialog may have opened, no
image or frame from a payload may exist, and the hostile text must be visible as text.
Screenshots go to test-artifacts/hostile-*.png.
"""
from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from hallu_core.data.io import import_file
from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Detection, Generation, Job, Label, Run, Span, Token, generation_id

from helpers.browser import ARTIFACTS, MARKS, launch, serve, stop, wait_idle

pytestmark = MARKS

P = "window.__pwned"
PAYLOADS = [
    # script and event handlers
    f"<script>{P}=1</script>", f"<SCRIPT SRC=data:text/javascript,{P}=2></SCRIPT>",
    f'<img src=x onerror="{P}=3">', f"<img src=x onerror={P}=4 //", f"<svg onload={P}=5>",
    f"<svg><script>{P}=6</script></svg>", f"<body onload={P}=7>", f"<input autofocus onfocus={P}=8>",
    f"<details open ontoggle={P}=9>", f"<video><source onerror={P}=10></video>", f"<audio src=x onerror={P}=11>",
    f"<marquee onstart={P}=12>", f'<div style="width:9999px;height:9999px" onmouseover="{P}=13">hover</div>',
    f"<style onload={P}=14></style>", f'"><script>{P}=15</script>', f"'><img src=x onerror={P}=16>",
    f"</textarea><script>{P}=17</script>", f"</title><script>{P}=18</script>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={P}=19>",
    f"<noscript><p title=\"</noscript><img src=x onerror={P}=20>\">", f"<img src=x onerror=alert(21)>",
    f"<svg><animate onbegin={P}=22 attributeName=x dur=1s>", f"<x contenteditable onfocus={P}=23 autofocus>",
    # links and frames
    f"<a href=\"javascript:{P}=24\">click</a>", f"[click](javascript:{P}=25)", f"<iframe src=\"javascript:{P}=26\">",
    f"<iframe srcdoc=\"<script>parent.{P}=27</script>\"></iframe>", f"<object data=\"javascript:{P}=28\">",
    f"<embed src=\"javascript:{P}=29\">", f"<form action=\"javascript:{P}=30\"><button>go</button></form>",
    f"<meta http-equiv=refresh content=\"0;url=javascript:{P}=31\">", "<base href=\"http://127.0.0.1:9/pwned/\">",
    f"<link rel=import href=\"data:text/html,<script>{P}=33</script>\">",
    # markdown tricks
    "![pwned](http://127.0.0.1:9/pwned-md.png)", f"![x](javascript:{P}=35)",
    f'![x](x" onerror="{P}=36)', "[![img](http://127.0.0.1:9/pwned-link.png)](http://127.0.0.1:9/)",
    "**bold** _it_ `code` # heading", f"$\\href{{javascript:{P}=39}}{{x}}$", "<!-- comment --> --> <!--",
    f"```html\n<script>{P}=41</script>\n```", ":material/warning: :red[red] :blue-background[x]",
    # template and encoding tricks
    "{{constructor.constructor('window.__pwned=43')()}}", "${alert(44)}", "&lt;script&gt;",
    f"%3Cscript%3E{P}=46%3C/script%3E", f"\\u003cscript\\u003e{P}=47\\u003c/script\\u003e",
    f"<scr<script>ipt>{P}=48</script>",
    # text that breaks layouts
    "\u202eRIGHT-TO-LEFT override \u202d\u200f\u200e mark", "zero\u200bwidth\u2060joiner\ufeffbom",
    "control \x01\x02\x07\x08\x0b\x0c\x1b[31m chars", "tab\tand\r\nCRLF and\rCR", "emoji 👩‍💻🏳️‍🌈 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "x" * 20_000, "word " * 3_000,
]
assert len(PAYLOADS) >= 50
SCRIPT = PAYLOADS[0]
HOSTILE_MODELS = [f"<img src=x onerror={P}=100>model", "![m](http://127.0.0.1:9/pwned-model.png)",
                  f"\u202e<script>{P}=101</script>"]
HOSTILE_ANNOTATOR = f"<b onmouseover={P}=102>ann</b>"
HOSTILE_DATASET = f"data<svg onload={P}=103>"
HOSTILE_RUN = f"run <script>{P}=104</script> ![r](http://127.0.0.1:9/pwned-run.png)"


def build_hostile_workspace(root: Path) -> dict:
    """An imported file and a run, both full of payloads; returns ids to open pages on."""
    rows = []
    for i, payload in enumerate(PAYLOADS):
        response = f"R{i:02d} says {payload} end"
        start = response.index(payload)
        rows.append({
            "id": f"h{i:02d}", "task_type": "QA", "model": HOSTILE_MODELS[i % len(HOSTILE_MODELS)],
            "source": f"S{i:02d} {payload}", "source_id": f"s{i:02d}", "question": f"Q{i:02d} {payload}",
            "reference": f"F{i:02d} {payload}", "response": response,
            "labels": [{"start": start, "end": start + len(payload), "text": payload,
                        "label_type": "Evident Conflict", "note": payload, "annotator": HOSTILE_ANNOTATOR}],
        })
    path = root.parent / "hostile.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    store = Store(root)
    import_file(store, path, dataset=HOSTILE_DATASET)
    examples = store.examples()

    run = store.add_run(Run("run-hostile", HOSTILE_RUN, PAYLOADS[2], config={"note": PAYLOADS[3], "lr": 1e-3},
                            status="done", meta={"why": PAYLOADS[4]}))
    for step in range(0, 301, 50):
        store.log_metrics(run.id, step, {"train_loss": 3 - step / 200, "val_loss": 2.5 - step / 300})
    ckpts = [store.add_checkpoint(Checkpoint(f"hc{s}", run.id, s, f"step-{s} {PAYLOADS[5 + s // 100]}"))
             for s in (0, 100, 200, 300)]
    gens, dets = [], []
    for k, ex in enumerate(examples):
        payload = PAYLOADS[k % len(PAYLOADS)]
        for ck in ckpts:
            text = f"{ck.step}: {payload} and more"
            gid = generation_id(ex.id, ck.id, {"strategy": "greedy"}, 0)
            tokens = [Token(i, min(i + 4, len(text)), -0.1 * (i % 7), 0.5) for i in range(0, len(text), 4)][:400]
            gens.append(Generation(gid, ex.id, ck.id, text, {"strategy": "greedy"}, "greedy", 0, tokens))
            start = text.index(payload)
            dets.append(Detection(gid, f"det<script>{P}=105</script>", "cfg", [Span(
                start, start + len(payload), "baseless", 0.8,
                evidence={"text": PAYLOADS[(k + 1) % len(PAYLOADS)], "start": 0, "end": 3, "field": "source"},
                note=payload)], 0.8))
    store.add_generations(gens)
    store.add_detections(dets)
    store.add_labels([Label(g.id, HOSTILE_ANNOTATOR, [Span(0, 3, "conflict", note=PAYLOADS[1])]) for g in gens[::3]])
    store.add_job(Job("job-hostile", "finetune", {"config": {"name": PAYLOADS[6]}}, status="failed",
                      done=3, total=10, message=PAYLOADS[7], log=PAYLOADS[8], error=f"ValueError: {PAYLOADS[33]} {PAYLOADS[37]}"))
    store.close()
    return {"script_generation": "h00", "md_generation": "h33", "long_generation": f"h{len(PAYLOADS) - 2:02d}",
            "example": examples[0].id, "run": run.id, "import_run": store.runs()[0].id,
            "run_generation": gens[-1].id}


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "ws"
    ids = build_hostile_workspace(root)
    proc, url = serve(root, tmp_path_factory.mktemp("logs") / "serve.log")
    yield url, ids
    stop(proc)


@pytest.fixture(scope="module")
def page(hostile_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.dialogs = []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        yield page
        browser.close()


def _open(page, url: str, title: str, name: str) -> str:
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator("h1", has_text=title)).to_be_visible(timeout=60000)
    wait_idle(page)
    page.wait_for_timeout(1500)  # let late renders (components, images) happen
    page.mouse.move(300, 400)  # hover handlers get their chance too
    page.mouse.move(900, 600)
    page.screenshot(path=str(ARTIFACTS / f"hostile-{name}.png"), full_page=False)
    assert page.evaluate(f"{P} === undefined"), f"a payload ran on {title}: {P} = {page.evaluate(P)}"
    assert page.dialogs == [], f"a dialog opened on {title}: {page.dialogs}"
    planted = page.evaluate("""() => [...document.querySelectorAll('img, iframe, object, embed, video, audio, base')]
        .map(e => e.getAttribute('src') || e.getAttribute('srcdoc') || e.getAttribute('data')
                  || e.getAttribute('href') || '')
        .filter(s => s.includes('pwned') || s.startsWith('javascript:') || s === 'x')""")
    assert planted == [], f"payload elements on {title}: {planted}"
    return page.locator("body").inner_text()


def test_overview_runs_and_detectors_show_hostile_names_as_text(page, hostile_server):
    url, ids = hostile_server
    text = _open(page, url, "Overview", "overview")
    assert "Overview" in text
    text = _open(page, f"{url}/runs?run={ids['run']}", "Runs", "runs")
    # run names sit in a canvas grid (see the screenshot); the failed job's error is page text
    assert PAYLOADS[33] in text, "a markdown image in a job error must show as text"
    _open(page, f"{url}/runs?run={ids['import_run']}", "Runs", "runs-import")
    _open(page, f"{url}/detectors", "Detectors", "detectors")


def test_inspect_shows_a_hostile_runs_output_with_its_names_as_text(page, hostile_server):
    url, ids = hostile_server
    text = _open(page, f"{url}/inspect?generation={ids['run_generation']}", "Inspect", "inspect-run")
    assert "and more" in text


@pytest.mark.parametrize("which", ["script_generation", "md_generation", "long_generation"])
def test_inspect_shows_hostile_outputs_sources_and_notes_as_text(page, hostile_server, which):
    url, ids = hostile_server
    gid = ids[which]
    text = _open(page, f"{url}/inspect?generation={gid}", "Inspect", f"inspect-{which}")
    i = int(gid[1:])
    payload = PAYLOADS[i]
    assert f"R{i:02d} says" in text and f"S{i:02d}" in text
    if len(payload) < 1000:
        assert payload.strip() in text, f"{payload!r} is not shown as text"


def test_compare_shows_hostile_checkpoints_side_by_side_as_text(page, hostile_server):
    url, ids = hostile_server
    text = _open(page, f"{url}/compare?example={urllib.parse.quote(ids['example'])}", "Compare", "compare")
    # by default the run's first and last checkpoints (A, B) answer the linked prompt, payload as text
    assert f"0: {PAYLOADS[0]} and more" in text and f"300: {PAYLOADS[0]} and more" in text


def test_label_page_with_a_hostile_annotator_name(page, hostile_server):
    url, _ = hostile_server
    text = _open(page, f"{url}/label?annotator={urllib.parse.quote(HOSTILE_ANNOTATOR)}", "Label", "label")
    assert "Item 1 of" in text  # the annotator has outputs left to label: the queue opens on the first
