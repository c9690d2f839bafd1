"""evaluation.py: stored detections against an annotator's labels (`hallu evaluate`, the Detectors page).

Counted: generations the annotator finished that the detector has judged, each once, with the
detector's newest detection (a detector re-run with another config stores a second row).
"""
from __future__ import annotations

import pytest

from hallu_core.detection import evaluation
from hallu_core.detection.live_counts import LiveCounts
from hallu_core.detection.evaluation import evaluate_store, labeled_detections
from hallu_core.store.types import Checkpoint, Detection, Example, Generation, Label, Run, Span

TEXT = "Ada was born in Oslo in 1901."
OSLO = Span(16, 20, "conflict", 0.9)
YEAR = Span(24, 28, "baseless", 0.6)


@pytest.fixture
def ws(store):
    store.add_run(Run("r", "run", "tiny"))
    store.add_checkpoint(Checkpoint("c0", "r", 0, "base"))
    store.add_checkpoint(Checkpoint("c1", "r", 100, "step-100"))
    store.add_examples([Example("qa1", "d", "Where?", task="qa"), Example("sum1", "d", "Sum.", task="summary")])
    for ex in ("qa1", "sum1"):
        for ck in ("c0", "c1"):
            store.add_generations([Generation(f"{ex}-{ck}", ex, ck, TEXT, decoding_name="greedy")])
    store.add_labels([Label("qa1-c0", "gold", [OSLO]), Label("qa1-c1", "gold", []),
                      Label("sum1-c0", "gold", [YEAR]), Label("sum1-c1", "gold", [], status="skipped")])
    return store


def _overall(rows, detector="lex"):
    return next(r for r in rows if r["detector"] == detector and r["task"] == "overall")


def test_figures_count_finished_labels_the_detector_judged(ws):
    ws.add_detections([Detection("qa1-c0", "lex", "h1", [OSLO], 0.9),     # true positive, exact span
                       Detection("qa1-c1", "lex", "h1", [YEAR], 0.6),     # false positive
                       Detection("sum1-c0", "lex", "h1", [], 0.0),        # missed
                       Detection("sum1-c1", "lex", "h1", [OSLO], 0.9)])   # label skipped: not counted
    rows = evaluate_store(ws, "gold")
    overall = _overall(rows)
    assert overall["n"] == 3
    assert (overall["response_p"], overall["response_r"]) == (0.5, 0.5)
    assert (overall["span_p"], overall["span_r"]) == (0.5, 0.5)
    by_task = {r["task"]: r["n"] for r in rows if r["task"] != "overall"}
    assert by_task == {"qa": 2, "summary": 1}
    by_checkpoint = {r["checkpoint"]: r["n"] for r in evaluate_store(ws, "gold", by="checkpoint")}
    assert by_checkpoint == {"overall": 3, "r/base": 2, "r/step-100": 1}


def test_an_output_the_detector_has_not_judged_is_left_out_not_counted_clean(ws):
    ws.add_detections([Detection("qa1-c0", "lex", "h1", [OSLO], 0.9)])
    overall = _overall(evaluate_store(ws, "gold"))
    assert overall["n"] == 1 and overall["response_r"] == 1.0
    assert evaluate_store(ws, "nobody") == []


def test_a_rerun_with_another_config_counts_once_with_its_newest_detection(ws):
    ws.add_detections([Detection(g, "lex", "old", [OSLO], 0.9, created_at=1.0) for g in ("qa1-c0", "qa1-c1")])
    ws.add_detections([Detection("qa1-c0", "lex", "new", [OSLO], 0.9, created_at=2.0),
                       Detection("qa1-c1", "lex", "new", [], 0.1, created_at=2.0)])
    ws.add_detections([Detection("sum1-c0", "lex", "new", [], 0.1, created_at=3.0),
                       Detection("sum1-c0", "lex", "old", [YEAR], 0.6, created_at=0.5)])  # stored late, yet older
    pairs = labeled_detections(ws, "gold")
    assert sorted((p["generation_id"], p["config_hash"]) for p in pairs) == [
        ("qa1-c0", "new"), ("qa1-c1", "new"), ("sum1-c0", "new")]
    overall = _overall(evaluate_store(ws, "gold"))
    assert overall["n"] == 3
    assert (overall["response_p"], overall["response_r"]) == (1.0, 0.5)


def test_the_detectors_page_and_hallu_evaluate_give_the_same_figures(ws):
    ws.add_detections([Detection("qa1-c0", "lex", "old", [YEAR], 0.6, created_at=1.0),
                       Detection("qa1-c0", "lex", "new", [OSLO], 0.9, created_at=2.0),
                       Detection("qa1-c1", "lex", "new", [YEAR], 0.6, created_at=2.0),
                       Detection("sum1-c0", "lex", "new", [], 0.0, created_at=2.0)])
    page = evaluation.flat(LiveCounts("lex", "gold").counts(ws).figures())  # what the Detectors page reads
    overall = _overall(evaluate_store(ws, "gold"))
    assert page["n"] == overall["n"] == 3
    for level in ("response", "span"):
        for k, short in (("precision", "p"), ("recall", "r"), ("f1", "f1")):
            assert page[f"{level}_{k}"] == overall[f"{level}_{short}"]
