"""Stored detections measured against an annotator's labels (`hallu evaluate`, Detectors page).

The store side of metrics.py (which holds the arithmetic: P/R/F1, sweeps). The pairs: every
generation the annotator finished (status done) with the detector's newest detection of it
(`detection_latest`: a detector re-run with another config stores a second row, and only the
newest counts). A generation a detector has not seen is left out of that detector's figures,
not counted as clean. A threshold keeps only spans scoring at least it; a response is positive
when a kept span remains (DESIGN.md's protocol), so response and span figures move together on
the PR curve.
"""
from __future__ import annotations

from collections import defaultdict

from hallu_core.detection import metrics
from hallu_core.store.database import Store, marks
from hallu_core.store.run_kinds import TRAINING_STEP_SQL
from hallu_core.store.types import spans_from_json


def labeled_detections(store: Store, annotator: str = "gold", detector: str | None = None, *,
                       run_id: str | None = None, checkpoint_id: str | None = None) -> list[dict]:
    """One row per (finished label, detector that judged its generation): both spans, task, checkpoint, score."""
    where, params = ["l.annotator = ?", "l.status = 'done'"], [annotator]
    for clause, value in (("t.detector = ?", detector), ("c.run_id = ?", run_id),
                          ("g.checkpoint_id = ?", checkpoint_id)):
        if value:
            where.append(clause)
            params.append(value)
    rows = store.query(f"""
        SELECT t.detector, t.config_hash, l.generation_id, d.spans AS pred, t.response_score, l.spans AS gold,
               e.task, g.checkpoint_id, c.name AS checkpoint, {TRAINING_STEP_SQL} AS step, c.run_id, r.name AS run,
               g.decoding_name
        FROM labels l JOIN detection_latest t ON t.generation_id = l.generation_id
        JOIN detections d ON d.rowid = t.det_rowid
        JOIN generations g ON g.id = l.generation_id JOIN examples e ON e.id = g.example_id
        JOIN checkpoints c ON c.id = g.checkpoint_id JOIN runs r ON r.id = c.run_id
        WHERE {" AND ".join(where)} ORDER BY t.detector, g.rowid""", params)
    return [{**dict(r), "pred": spans_from_json(r["pred"]), "gold": spans_from_json(r["gold"])} for r in rows]


# Detectors whose shipped routes, gates or weights were chosen on the RAGTruth dev slice's tuning part
SHIPPED_TUNED_ON_DEV = ("default", "span")


def dev_tuning_rows(store: Store, generation_ids: list[str]) -> int:
    """How many of these outputs answer a RAGTruth dev-slice source in the tuning part that the shipped
    `default` and `span` were tuned on (figures on them are partly in-sample; the lockbox is not)."""
    from hallu_core.detection.detectors.span_split import load_split

    if not generation_ids:
        return 0
    tuning = set(load_split()["tuning"])
    rows = store.query("SELECT json_extract(e.meta, '$.source_id') FROM generations g JOIN examples e "
                       f"ON e.id = g.example_id WHERE g.id IN ({marks(generation_ids)})",
                       list(generation_ids))
    return sum(str(r[0]) in tuning for r in rows if r[0] is not None)


def evaluate_store(store: Store, annotator: str = "gold", by: str = "task") -> list[dict]:
    """Flat rows: detector x group (`task`, `checkpoint` or `decoding_name`, plus `overall`) with
    response and span P/R/F1, the same figures as the Detectors page at threshold 0."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in labeled_detections(store, annotator):
        name = row["detector"]
        groups[(name, "overall")].append(row)
        key = row[by] if by != "checkpoint" else f"{row['run_id']}/{row['checkpoint']}"
        if key:
            groups[(name, key)].append(row)
    out = []
    for (name, group), rows in sorted(groups.items()):
        fig = flat(figures(rows))
        out.append({"detector": name, by: group, "n": fig["n"],
                    **{f"{level}_{short}": fig[f"{level}_{k}"] for level in ("response", "span")
                       for k, short in (("precision", "p"), ("recall", "r"), ("f1", "f1"))}})
    return out


MAX_SWEEP_POINTS = 60


def labeled_pairs(store: Store, detector: str, annotator: str, *, run_id: str | None = None,
                  checkpoint_id: str | None = None) -> list[dict]:
    """[{generation_id, checkpoint_id, checkpoint, step, task, pred, gold}] for done labels
    (the pairs of `labeled_detections`: the detector's newest detection of each)."""
    rows = labeled_detections(store, annotator, detector, run_id=run_id, checkpoint_id=checkpoint_id)
    return [{"generation_id": r["generation_id"], "checkpoint_id": r["checkpoint_id"],
             "checkpoint": f"{r['run']} / {r['checkpoint']}", "step": r["step"], "task": r["task"],
             "pred": r["pred"], "gold": r["gold"], "response_score": r["response_score"]} for r in rows]


def _kept(pairs: list[dict], threshold: float) -> list[list]:
    return [[s for s in p["pred"] if s.score >= threshold] for p in pairs]


def figures(pairs: list[dict], threshold: float = 0.0) -> dict:
    """Response- and span-level P/R/F1 at a threshold."""
    preds, golds = _kept(pairs, threshold), [p["gold"] for p in pairs]
    return {"n": len(pairs), "threshold": threshold,
            "response": metrics.response_prf([bool(x) for x in preds], [bool(g) for g in golds]),
            "span": metrics.span_prf(preds, golds)}


def sweep_thresholds(pairs: list[dict], max_points: int = MAX_SWEEP_POINTS) -> list[float]:
    """The distinct span scores (thinned evenly to at most `max_points`), with 0 first."""
    return thinned(sorted({0.0} | {float(s.score) for p in pairs for s in p["pred"]}), max_points)


def thinned(scores: list[float], max_points: int = MAX_SWEEP_POINTS) -> list[float]:
    """Sorted thresholds thinned evenly to at most `max_points` (the first and last kept)."""
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
    """One table row from `figures`: n, response P/R/F1, span P/R/F1."""
    row = {"n": fig["n"]}
    for level in ("response", "span"):
        for k in ("precision", "recall", "f1"):
            row[f"{level}_{k}"] = fig[level][k]
    return row


def per_checkpoint(pairs: list[dict], threshold: float = 0.0) -> list[dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for p in pairs:
        groups[p["checkpoint_id"]].append(p)
    rows = [{"checkpoint": g[0]["checkpoint"], "step": g[0]["step"], **flat(figures(g, threshold))}
            for g in groups.values()]
    return sorted(rows, key=checkpoint_order)


def checkpoint_order(row: dict) -> tuple:
    """Per-checkpoint rows by run name, then training step (an imported model has none: they keep file order)."""
    return row["checkpoint"].split(" / ")[0], row["step"] or 0
