"""Stored detections measured against an annotator's labels (`hallu evaluate`, Detectors page).

Only generations the annotator finished (status done) count; a generation a
detector has not seen is left out of that detector's figures, not counted as clean.
"""
from __future__ import annotations

from collections import defaultdict

from . import metrics
from .store import Store
from .types import spans_from_json


def labeled_detections(store: Store, annotator: str = "gold", detector: str | None = None) -> list[dict]:
    """One row per (detection, label) pair: spans of both, task, checkpoint and score."""
    where, params = ("AND d.detector = ?", [annotator, detector]) if detector else ("", [annotator])
    rows = store.query(f"""
        SELECT d.detector, d.config_hash, d.spans AS pred, d.response_score, l.spans AS gold, e.task,
               c.name AS checkpoint, c.run_id, g.decoding_name
        FROM detections d JOIN labels l ON l.generation_id = d.generation_id AND l.annotator = ?
             AND l.status = 'done'
        JOIN generations g ON g.id = d.generation_id JOIN examples e ON e.id = g.example_id
        JOIN checkpoints c ON c.id = g.checkpoint_id
        WHERE 1 = 1 {where} ORDER BY d.detector, g.rowid""", params)
    return [{**dict(r), "pred": spans_from_json(r["pred"]), "gold": spans_from_json(r["gold"])} for r in rows]


def evaluate_store(store: Store, annotator: str = "gold", by: str = "task") -> list[dict]:
    """Flat rows: detector x group (`task` or `checkpoint`, plus `overall`) with response and span P/R/F1."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in labeled_detections(store, annotator):
        name = row["detector"]
        groups[(name, "overall")].append(row)
        key = row[by] if by != "checkpoint" else f"{row['run_id']}/{row['checkpoint']}"
        if key:
            groups[(name, key)].append(row)
    out = []
    for (name, group), rows in sorted(groups.items()):
        preds, golds = [r["pred"] for r in rows], [r["gold"] for r in rows]
        response = metrics.response_prf([bool(p) for p in preds], [bool(g) for g in golds])
        span, union = metrics.span_prf(preds, golds), metrics.span_prf(preds, golds, union=True)
        out.append({"detector": name, by: group, "n": len(rows),
                    "response_p": response["precision"], "response_r": response["recall"],
                    "response_f1": response["f1"], "span_p": span["precision"], "span_r": span["recall"],
                    "span_f1": span["f1"], "span_union_f1": union["f1"]})
    return out
