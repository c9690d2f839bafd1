"""Detectors measured against the workspace's labels (the store side of metrics.py).

metrics.py holds the arithmetic (P/R/F1, sweeps); this module picks the pairs out of
the store: every generation an annotator marked done that the detector has run on,
with the detector's latest spans and the annotator's spans. A threshold keeps only
spans scoring at least it; a response is positive when a kept span remains
(DESIGN.md's protocol), so response and span figures move together on the PR curve.
"""
from __future__ import annotations

from collections import defaultdict

from . import metrics
from .store import Store
from .types import spans_from_json

MAX_SWEEP_POINTS = 60


def labeled_pairs(store: Store, detector: str, annotator: str, *, run_id: str | None = None,
                  checkpoint_id: str | None = None) -> list[dict]:
    """[{generation_id, checkpoint_id, checkpoint, step, task, pred, gold}] for done labels."""
    sql = """SELECT l.generation_id, l.spans AS gold, g.checkpoint_id, c.name AS checkpoint, c.step,
                    r.name AS run, e.task, d.spans AS pred, d.response_score
             FROM labels l JOIN generations g ON g.id = l.generation_id
             JOIN checkpoints c ON c.id = g.checkpoint_id JOIN runs r ON r.id = c.run_id
             JOIN examples e ON e.id = g.example_id
             JOIN detections d ON d.generation_id = l.generation_id AND d.detector = ?
             WHERE l.annotator = ? AND l.status = 'done'
               AND d.created_at = (SELECT MAX(d2.created_at) FROM detections d2
                                   WHERE d2.generation_id = d.generation_id AND d2.detector = d.detector)"""
    params: list = [detector, annotator]
    if run_id:
        sql, params = sql + " AND c.run_id = ?", params + [run_id]
    if checkpoint_id:
        sql, params = sql + " AND g.checkpoint_id = ?", params + [checkpoint_id]
    rows = store.query(sql + " ORDER BY g.rowid", params)
    return [{"generation_id": r["generation_id"], "checkpoint_id": r["checkpoint_id"],
             "checkpoint": f"{r['run']} / {r['checkpoint']}", "step": r["step"], "task": r["task"],
             "pred": spans_from_json(r["pred"]), "gold": spans_from_json(r["gold"]),
             "response_score": r["response_score"]} for r in rows]


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
