"""live_counts.py: the Detectors page's counts kept between writes, re-reading only the pairs a write touched.

After every kind of write that changes what is measured (a relabel, a label drafted again or deleted, a
detector re-run, an A/B/A rerun that makes older results the newest again, a new labeled output, an
imported model) the kept counts must equal a fresh read of every pair, and a single relabel must not
re-read the rest (that full read is what took 20-30 s at 166,000 labels).
"""
from __future__ import annotations

import random

import pytest

from hallu_core.detection import evaluation, live_counts
from hallu_core.detection.detect import make_newest
from hallu_core.detection.live_counts import LiveCounts
from hallu_core.detection.threshold_counts import ThresholdCounts
from hallu_core.store import change_log, schema
from hallu_core.store.types import (
    Checkpoint,
    Detection,
    Example,
    Generation,
    Label,
    Run,
    Span,
)

TEXT = "Ada was born in Oslo in 1901 and wrote four books."


def spans(rng: random.Random, k: int) -> list[Span]:
    out = []
    for _ in range(k):
        start = rng.randrange(0, 40)
        out.append(Span(start, start + rng.choice([1, 4, 9]), "conflict", rng.choice([0.2, 0.5, 0.8, 1.0])))
    return out


@pytest.fixture
def ws(store):
    rng = random.Random(3)
    store.add_run(Run("r", "run", "tiny"))
    store.add_run(Run("imp", "imported", "file", kind="import"))
    for ck, run, step, name in (("c0", "r", 0, "base"), ("c1", "r", 100, "step-100"),
                                ("m-b", "imp", 1, "model-b"), ("m-a", "imp", 0, "model-a")):
        store.add_checkpoint(Checkpoint(ck, run, step, name))
    store.add_examples([Example(f"e{i}", "d", "Who?", task="qa") for i in range(30)])
    gens = [Generation(f"e{i}-{ck}", f"e{i}", ck, TEXT) for i in range(30) for ck in ("c0", "c1", "m-b", "m-a")]
    store.add_generations(gens)
    store.add_labels([Label(g.id, "gold", spans(rng, rng.choice([0, 0, 1, 2]))) for g in gens[:100]])
    store.add_detections([Detection(g.id, "lex", "A", spans(rng, rng.choice([0, 1, 3])), 0.5, created_at=1.0)
                          for g in gens])
    return store


def fresh(store, run_id=None) -> ThresholdCounts:
    return ThresholdCounts.from_pairs(evaluation.labeled_pairs(store, "lex", "gold", run_id=run_id))


def same(a: ThresholdCounts, b: ThresholdCounts) -> None:
    for t in (0.0, 0.3, 0.5, 0.9, 1.0):
        assert a.figures(t) == b.figures(t)
        assert a.per_checkpoint(t) == b.per_checkpoint(t)
    assert a.pr_curve() == b.pr_curve() and a.generation_ids == b.generation_ids and a.scale == b.scale


def test_kept_counts_equal_a_fresh_read_after_every_kind_of_write(ws, monkeypatch):
    live = LiveCounts("lex", "gold")
    same(live.counts(ws), fresh(ws))
    same(live.counts(ws, "imp"), fresh(ws, "imp"))  # one run's outputs, imported models in file order
    reads = []
    real_of = live_counts.Pair.of
    monkeypatch.setattr(live_counts.Pair, "of", lambda *a: reads.append(a[0]) or real_of(*a))

    ws.save_label(Label("e0-c0", "gold", [Span(0, 3, "baseless")]))  # a relabel
    kept = live.counts(ws)
    assert reads == ["e0-c0"]  # the other 99 pairs were kept, not read again
    same(kept, fresh(ws))

    ws.save_label(Label("e0-c1", "gold", [], status="draft"))  # drafted again: out of the counts
    ws.delete_label("e1-c0", "gold")
    ws.save_label(Label("e29-m-a", "gold", [Span(5, 9, "conflict")]))  # a newly labeled output
    same(live.counts(ws), fresh(ws))

    rng = random.Random(9)  # the detector re-run with config B on part of the outputs, then A again
    ws.add_detections([Detection(f"e{i}-c0", "lex", "B", spans(rng, 2), 0.7, created_at=2.0) for i in range(10)])
    same(live.counts(ws), fresh(ws))
    assert make_newest(ws, "lex", "A", run_id="r") > 0
    same(live.counts(ws), fresh(ws))
    # the same config re-detected: the row is updated in place (same rowid), only created_at tells
    ws.add_detections([Detection("e2-c1", "lex", "A", [Span(0, 10, "conflict", 0.95)], 0.9, created_at=5.0)])
    same(live.counts(ws), fresh(ws))
    same(live.counts(ws, "r"), fresh(ws, "r"))


def test_a_workspace_with_nothing_labeled_counts_nothing(store):
    counts = LiveCounts("lex", "gold").counts(store)
    assert counts.n == 0 and counts.figures(0.5) == evaluation.figures([], 0.5)


def test_the_change_log_says_which_outputs_changed_or_that_it_cannot(ws):
    seen = change_log.newest(ws)
    ws.save_label(Label("e3-c0", "gold", []))
    ws.save_label(Label("e3-c1", "carol", []))  # another annotator: not asked about
    ws.add_detections([Detection("e4-c0", "lex", "C", [], 0.2, created_at=9.0)])
    top, changed = change_log.changed_since(ws, seen, ["label:gold", "detector:lex"])
    assert top > seen and changed == {"e3-c0", "e4-c0"}
    assert change_log.changed_since(ws, top, ["label:gold"]) == (top, set())
    with ws.transaction() as conn:  # trimmed past what a reader saw: it must read everything again
        conn.execute("DELETE FROM change_log WHERE seq <= ?", [top])
    ws.save_label(Label("e5-c0", "gold", []))
    assert change_log.changed_since(ws, seen, ["label:gold"])[1] is None
    newest = change_log.newest(ws)
    schema.rebuild(ws)  # derived tables rewritten with their triggers off
    assert change_log.changed_since(ws, newest, ["detector:lex"])[1] is None


def test_counts_kept_across_a_rebuild_and_a_trimmed_log_equal_a_fresh_read(ws):
    live = LiveCounts("lex", "gold")
    live.counts(ws)
    with ws.transaction() as conn:  # a raw write past the triggers, then `hallu repair`
        conn.execute("DELETE FROM detection_latest WHERE generation_id = 'e6-c0'")
        conn.execute("DELETE FROM change_log")
    schema.rebuild(ws)
    ws.add_detections([Detection("e6-c0", "lex", "A", [Span(0, 20, "conflict", 0.9)], 0.9, created_at=7.0)])
    same(live.counts(ws), fresh(ws))
