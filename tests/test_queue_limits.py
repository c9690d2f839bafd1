"""The label queue's short cuts on big workspaces give the very queue the full ordering gives.

`queue` finds the head of the "unlabeled" order by walking outputs in storage order, and of the
"score" order by walking each detector's score index (and a big tie at the cut in storage order),
instead of sorting every output; progress
counts come from the per-checkpoint summary. Checked here against the orders as the docstring
defines them, computed in Python on a workspace with ties, drafts, skips, adjudications, outputs
no detector judged, ids that do not follow storage order and two runs, at every limit.
"""
from __future__ import annotations

import random

import pytest

from hallu_core.labeling import queue as labeling
from hallu_core.labeling.spans import ADJUDICATED
from hallu_core.store.types import Checkpoint, Detection, Example, Generation, Label, Run, Span

CHECKPOINTS = {"ck-a0": "run-a", "ck-a1": "run-a", "ck-b0": "run-b"}
DETECTORS = ("lex", "conf", "rec")
TEXT = "Ada was born in Oslo in 1901."


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from hallu_core.store.database import Store

    rng = random.Random(3)
    store = Store(tmp_path_factory.mktemp("queue") / "ws")
    for run in ("run-a", "run-b"):
        store.add_run(Run(run, run, "tiny"))
    for i, (ck, run) in enumerate(CHECKPOINTS.items()):
        store.add_checkpoint(Checkpoint(ck, run, i * 10, ck))
    store.add_examples([Example(f"ex{i}", "d", f"Where {i}?") for i in range(60)])
    gens = [(f"g{rng.randrange(10**6):06d}-{i}", f"ex{i % 60}", ck) for i, ck in
            enumerate(rng.choice(list(CHECKPOINTS)) for _ in range(180))]  # ids out of storage order
    store.add_generations([Generation(g, ex, ck, TEXT, decoding_name="greedy") for g, ex, ck in gens])
    labels, dets = [], []
    for g, _, _ in gens:
        for who, p in (("carol", 0.25), ("alice", 0.3), ("bob", 0.1), (ADJUDICATED, 0.1)):
            if rng.random() < p:
                status = rng.choice(["done", "done", "draft", "skipped"]) if who != ADJUDICATED else "done"
                labels.append(Label(g, who, [Span(0, 3, "conflict")] if rng.random() < 0.5 else [], status))
        for det in DETECTORS:
            if rng.random() < 0.7:  # some outputs judged by no detector
                score = rng.choice([0.1, 0.3, 0.3, 0.6, 0.9, 0.9])  # ties within and across detectors
                dets.append(Detection(g, det, "h1", [Span(16, 20, "conflict", score)], score))
    store.add_labels(labels)
    store.add_detections(dets)
    yield store
    store.close()


def expected(store, annotator: str, order: str, detector: str | None, run_id: str | None,
             checkpoint_id: str | None, limit: int) -> list[dict]:
    rowid = {r[1]: r[0] for r in store.query("SELECT rowid, id FROM generations")}
    ckpt = {r[0]: r[1] for r in store.query("SELECT id, checkpoint_id FROM generations")}
    labels = store.query("SELECT generation_id, annotator, status FROM labels")
    scores = store.query("SELECT generation_id, detector, response_score FROM detection_latest")
    rows = []
    for g, order_no in rowid.items():
        if (run_id and CHECKPOINTS[ckpt[g]] != run_id) or (checkpoint_id and ckpt[g] != checkpoint_id):
            continue
        labeled = any(gid == g and who == annotator and status in ("done", "skipped") for gid, who, status in labels)
        if order == "unlabeled":
            key = sum(gid == g and who != ADJUDICATED for gid, who, _ in labels)
            rank = (labeled, key, order_no)
        else:
            mine = [s for gid, det, s in scores if gid == g and (detector is None or det == detector)]
            key = max(mine) if mine else None
            rank = (labeled, -key if mine else float("inf"), order_no)
        rows.append((rank, {"generation_id": g, "labeled": labeled, "key": key}))
    return [row for _, row in sorted(rows, key=lambda r: r[0])][:limit]


@pytest.mark.parametrize("order", ["unlabeled", "score"])
@pytest.mark.parametrize("annotator", ["carol", "nobody", ADJUDICATED])
@pytest.mark.parametrize("big_tie", [0, 10**9])  # a tie at the cut walked in storage order, or sorted
def test_queue_heads_equal_the_full_orderings(ws, order, annotator, big_tie, monkeypatch):
    monkeypatch.setattr(labeling, "BIG_TIE", big_tie)
    for detector in ((None, *DETECTORS) if order == "score" else (None,)):
        for scope in ({}, {"run_id": "run-a"}, {"checkpoint_id": "ck-b0"}, {"run_id": "run-a", "checkpoint_id": "ck-a1"}):
            for limit in (1, 7, 40, 90, 500):
                got = labeling.queue(ws, annotator, order, detector=detector, limit=limit, **scope)
                want = expected(ws, annotator, order, detector, scope.get("run_id"), scope.get("checkpoint_id"),
                                limit)
                assert got == want, (order, annotator, detector, scope, limit)


def test_progress_counts_in_every_scope(ws):
    ckpt = {r[0]: r[1] for r in ws.query("SELECT id, checkpoint_id FROM generations")}
    for annotator in ("carol", "alice", "nobody"):
        for scope in ({}, {"run_id": "run-b"}, {"checkpoint_id": "ck-a0"}):
            ids = {g for g, ck in ckpt.items() if scope.get("run_id", CHECKPOINTS[ck]) == CHECKPOINTS[ck]
                   and scope.get("checkpoint_id", ck) == ck}
            mine = [lab for lab in ws.labels(annotator=annotator) if lab.generation_id in ids]
            done = [lab for lab in mine if lab.status == "done"]
            skipped = sum(lab.status == "skipped" for lab in mine)
            assert labeling.progress_counts(ws, annotator, **scope) == {
                "total": len(ids), "done": len(done), "with_spans": sum(bool(lab.spans) for lab in done),
                "skipped": skipped, "drafts": sum(lab.status == "draft" for lab in mine),
                "remaining": len(ids) - len(done) - skipped}
