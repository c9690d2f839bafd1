"""Labeling actions and queue orders on the hand-computed workspace of helpers/labeling.py."""
from __future__ import annotations

import pytest

from hallu_core.labeling import queue as labeling, suggestions
from hallu_core.store.types import Detection, Span
from helpers.labeling import TEXT, build


@pytest.fixture
def ws(store):
    build(store)
    return store


def order(ws, annotator, how, **kw):
    return [r["generation_id"] for r in labeling.queue(ws, annotator, how, **kw)]


def test_queue_orders(ws):
    assert order(ws, "carol", "unlabeled") == ["g2", "g4", "g1", "g3"]  # fewest other labels first
    assert order(ws, "carol", "score") == ["g1", "g4", "g2", "g3"]  # 0.9, 0.6, 0.3, 0
    assert order(ws, "carol", "disagreement") == ["g3", "g1", "g2", "g4"]  # 1 - F1: 1.0, 0.333
    assert order(ws, "alice", "unlabeled") == ["g2", "g4", "g1", "g3"]  # her own labeled items last
    assert order(ws, "carol", "unlabeled", checkpoint_id="ckB") == ["g4", "g3"]
    assert order(ws, "carol", "score", run_id="run1", detector="nope") == ["g1", "g2", "g3", "g4"]
    with pytest.raises(labeling.LabelError):
        labeling.queue(ws, "carol", "sideways")


def test_disagreement_queue_knows_what_you_labeled_past_its_limit(ws):
    """Issue 15 item 5: items beyond the plain order's first `limit` rows were marked unlabeled by you."""
    labeling.mark_done(ws, "g3", "carol")  # g3 is last in carol's plain order, first in disagreement order
    rows = labeling.queue(ws, "carol", "disagreement", limit=2)
    assert [(r["generation_id"], r["labeled"]) for r in rows] == [("g3", True), ("g1", False)]


def test_a_draft_is_still_to_do(ws):
    labeling.add_span(ws, "g2", "carol", 0, 2, "conflict")  # started, not marked done
    rows = {r["generation_id"]: r["labeled"] for r in labeling.queue(ws, "carol", "unlabeled")}
    assert rows["g2"] is False


def test_disagreement_puts_adjudicated_items_last(ws):
    from hallu_core.labeling.agreement import adjudicate

    adjudicate(ws, "g3", [Span(5, 10, "conflict")], reviewer="rev")
    assert order(ws, "carol", "disagreement")[:2] == ["g1", "g3"]


def test_add_edit_delete_span_saved_at_once(ws):
    label = labeling.add_span(ws, "g2", "carol", 1, 4, "conflict", note="  wrong  ")
    assert ws.get_label("g2", "carol").spans == label.spans
    assert [(s.start, s.end, s.type, s.note) for s in label.spans] == [(1, 4, "conflict", "wrong")]
    labeling.add_span(ws, "g2", "carol", 1, 4, "conflict")  # idempotent
    labeling.add_span(ws, "g2", "carol", 0, 1, "baseless")
    assert [(s.start, s.end) for s in ws.get_label("g2", "carol").spans] == [(0, 1), (1, 4)]
    labeling.edit_span(ws, "g2", "carol", 1, start=2, end=9, span_type="self_contradiction", note="n")
    assert [(s.start, s.end, s.type, s.note) for s in ws.get_label("g2", "carol").spans][1] == \
        (2, 9, "self_contradiction", "n")
    labeling.delete_span(ws, "g2", "carol", 0)
    assert [(s.start, s.end) for s in ws.get_label("g2", "carol").spans] == [(2, 9)]
    # spans alone do not finish an item: it is a draft until the annotator marks it done
    assert ws.get_label("g2", "carol").status == "draft"
    assert labeling.progress_counts(ws, "carol")["done"] == 0
    labeling.mark_done(ws, "g2", "carol")
    assert ws.get_label("g2", "carol").status == "done"
    assert labeling.progress_counts(ws, "carol")["done"] == 1


@pytest.mark.parametrize("start,end,typ", [(3, 3, "conflict"), (-1, 2, "conflict"), (0, len(TEXT) + 1, "conflict"),
                                           (0, 2, "unknown"), (0, 2, "<script>"), ("a", 2, "conflict")])
def test_bad_spans_are_refused_and_store_nothing(ws, start, end, typ):
    with pytest.raises(labeling.LabelError):
        labeling.add_span(ws, "g2", "carol", start, end, typ)
    assert ws.get_label("g2", "carol") is None


def test_no_hallucination_skip_done_and_progress(ws):
    labeling.add_span(ws, "g1", "carol", 0, 2, "conflict")
    assert labeling.progress_counts(ws, "carol") == {"total": 4, "done": 0, "with_spans": 0, "skipped": 0,
                                                     "drafts": 1, "remaining": 4}
    labeling.mark_done(ws, "g1", "carol")
    assert labeling.progress_counts(ws, "carol") == {"total": 4, "done": 1, "with_spans": 1, "skipped": 0,
                                                     "drafts": 0, "remaining": 3}
    labeling.skip(ws, "g1", "carol")
    assert ws.get_label("g1", "carol").status == "skipped" and len(ws.get_label("g1", "carol").spans) == 1
    labeling.no_hallucination(ws, "g1", "carol")
    assert ws.get_label("g1", "carol").spans == [] and ws.get_label("g1", "carol").status == "done"
    labeling.skip(ws, "g2", "carol")
    labeling.mark_done(ws, "g3", "carol")
    assert labeling.progress_counts(ws, "carol", checkpoint_id="ckA") == {
        "total": 2, "done": 1, "with_spans": 0, "skipped": 1, "drafts": 0, "remaining": 0}
    with pytest.raises(labeling.LabelError):
        labeling.skip(ws, "missing", "carol")


def test_accept_and_reject_detector_spans(ws):
    offers = labeling.detector_spans(ws, "g1", "carol")
    assert [(o["detector"], o["span"].start, o["span"].end, o["decision"]) for o in offers] == [("det", 2, 6, None)]
    label = suggestions.accept_detector_span(ws, "g1", "carol", "det", offers[0]["span"])
    assert [(s.start, s.end, s.type, s.detector) for s in label.spans] == [(2, 6, "baseless", "det")]
    assert labeling.detector_spans(ws, "g1", "carol")[0]["decision"] == "accepted"
    span = labeling.detector_spans(ws, "g2", "carol")[0]["span"]
    suggestions.reject_detector_span(ws, "g2", "carol", "det", span)
    assert labeling.detector_spans(ws, "g2", "carol")[0]["decision"] == "rejected"
    assert ws.get_label("g2", "carol") is None  # rejecting adds nothing to the label
    untyped = Span(0, 3, "unknown", 0.5)
    with pytest.raises(labeling.LabelError):
        suggestions.accept_detector_span(ws, "g4", "carol", "x", untyped)
    label = suggestions.accept_detector_span(ws, "g4", "carol", "x", untyped, span_type="conflict")
    assert [(s.start, s.end, s.type) for s in label.spans] == [(0, 3, "conflict")]


def test_a_rerun_detector_offers_and_ranks_only_its_newest_spans(ws):
    """Issue 15 item 2: a detector re-run with another config stores a second row; only the newest counts."""
    ws.add_detections([Detection("g3", "det", "h2", [Span(0, 4, "baseless", 0.95)], 0.95)])
    offers = labeling.detector_spans(ws, "g1", "carol")
    assert [(o["span"].start, o["span"].end) for o in offers] == [(2, 6)]  # g1 was not re-run
    assert [(o["span"].start, o["span"].end) for o in labeling.detector_spans(ws, "g3", "carol")] == [(0, 4)]
    ws.add_detections([Detection("g1", "det", "h2", [], 0.0)])  # the re-run finds nothing in g1
    assert labeling.detector_spans(ws, "g1", "carol") == []
    assert order(ws, "carol", "score")[:2] == ["g3", "g4"]  # g1's old 0.9 no longer ranks it first


def test_annotator_names():
    assert labeling.clean_annotator("  Ada   Lovelace ") == "Ada Lovelace"
    for bad in ("", "   ", None, "x" * 65):
        with pytest.raises(labeling.LabelError):
            labeling.clean_annotator(bad)


def test_train_job_refuses_too_few_labels(ws):
    from hallu_core.detection import label_training

    with pytest.raises(ValueError, match="at least"):
        label_training.train_detector_job(ws, {"annotator": "alice"}, lambda *a: None)
    assert sorted(label_training.grouped_folds(["a", "a", "b", "c", "c", "c"], 2)) == [[0, 1, 2], [3, 4, 5]]
