"""Detectors measured against the workspace's labels (the store side of metrics.py).

metrics.py holds the arithmetic (P/R/F1, sweeps); this module picks the pairs out of
the store: every generation an annotator marked done that the detector has run on,
with the detector's latest spans and the annotator's spans. A threshold keeps only
spans scoring at least it; a response is positive when a kept span remains
(DESIGN.md's protocol), so response and span figures move together on the PR curve.
"""
from __future__ import annotations

from collections import defaultdict

from hallu_core.detection import metrics
from hallu_core.detection.evaluation import labeled_detections
from hallu_core.store.database import Store

MAX_SWEEP_POINTS = 60


def labeled_pairs(store: Store, detector: str, annotator: str, *, run_id: str | None = None,
                  checkpoint_id: str | None = None) -> list[dict]:
    """[{generation_id, checkpoint_id, checkpoint, step, task, pred, gold}] for done labels
    (the pairs of `evaluation.labeled_detections`: the detector's newest detection of each)."""
    rows = labeled_detections(store, annotator, detector, run_id=run_id, checkpoint_id=checkpoint_id)
    return [{"generation_id": r["generation_id"], "checkpoint_id": r["checkpoint_id"],
             "checkpoint": f"{r['run']} / {r['checkpoint']}", "step": r["step"], "task": r["task"],
             "pred": r["pred"], "gold": r["gold"], "response_score": r["response_score"]} for r in rows]


def _kept(pairs: list[dict], threshold: float) -> list[list]:
    return [[s for s in p["pred"] if s.score >= threshold] for p in pairs]


def figures(pairs: list[dict], threshold: float = 0.0) -> dict:
    """Response- and span-level P/R/F1 (plus the union-of-characters variant) at a threshold."""
    preds, golds = _kept(pairs, threshold), [p["gold"] for p in pairs]
    return {"n": len(pairs), "threshold": threshold,
            "response": metrics.response_prf([bool(x) for x in preds], [bool(g) for g in golds]),
            "span": metrics.span_prf(preds, golds), "span_union": metrics.span_prf(preds, golds, union=True)}


def sweep_thresholds(pairs: list[dict], max_points: int = MAX_SWEEP_POINTS) -> list[float]:
    """The distinct span scores (thinned evenly to at most `max_points`), with 0 first."""
    scores = sorted({0.0} | {float(s.score) for p in pairs for s in p["pred"]})
    if len(scores) <= max_points:
        return scores
    step = (len(scores) - 1) / (max_points - 1)
    return sorted({scores[round(i * step)] for i in range(max_points)})


def pr_curve(pairs: list[dict]) -> list[dict]:
    """One point per threshold: threshold, span and response precision / recall / F1."""
    points = metrics.span_sweep([p["pred"] for p in pairs], [p["gold"] for p in pairs], sweep_thresholds(pairs))
    return [{"threshold": pt["threshold"],
             **{f"span_{k}": pt["span"][k] for k in ("precision", "recall", "f1")},
             **{f"response_{k}": pt["response"][k] for k in ("precision", "recall", "f1")}} for pt in points]


def flat(fig: dict) -> dict:
    """One table row from `figures`: n, response P/R/F1, span P/R/F1, span-union F1."""
    row = {"n": fig["n"]}
    for level in ("response", "span"):
        for k in ("precision", "recall", "f1"):
            row[f"{level}_{k}"] = fig[level][k]
    row["span_union_f1"] = fig["span_union"]["f1"]
    return row


def per_checkpoint(pairs: list[dict], threshold: float = 0.0) -> list[dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for p in pairs:
        groups[p["checkpoint_id"]].append(p)
    rows = [{"checkpoint": g[0]["checkpoint"], "step": g[0]["step"], **flat(figures(g, threshold))}
            for g in groups.values()]
    return sorted(rows, key=lambda r: (r["checkpoint"].split(" / ")[0], r["step"]))


def detector_table(store: Store, detectors: list[str], annotator: str, threshold: float = 0.0,
                   **scope) -> list[dict]:
    """Per detector: the figures at the threshold against one annotator's labels."""
    return [{"detector": d, **flat(figures(labeled_pairs(store, d, annotator, **scope), threshold))}
            for d in detectors]
