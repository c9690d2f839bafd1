"""Stored detections measured against an annotator's labels (`hallu evaluate`, Detectors page).

The one place that picks the pairs out of the store (calibration.py builds on it): every
generation the annotator finished (status done) with the detector's newest detection of it
(`detection_latest`: a detector re-run with another config stores a second row, and only the
newest counts). A generation a detector has not seen is left out of that detector's figures,
not counted as clean.
"""
from __future__ import annotations

from collections import defaultdict

from hallu_core.store.database import Store
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
               e.task, g.checkpoint_id, c.name AS checkpoint, c.step, c.run_id, r.name AS run, g.decoding_name
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
                       f"ON e.id = g.example_id WHERE g.id IN ({','.join('?' * len(generation_ids))})",
                       list(generation_ids))
    return sum(str(r[0]) in tuning for r in rows if r[0] is not None)


def evaluate_store(store: Store, annotator: str = "gold", by: str = "task") -> list[dict]:
    """Flat rows: detector x group (`task`, `checkpoint` or `decoding_name`, plus `overall`) with
    response and span P/R/F1, the same figures as the Detectors page at threshold 0."""
    from hallu_core.detection.calibration import figures, flat  # calibration builds on this module

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
                       for k, short in (("precision", "p"), ("recall", "r"), ("f1", "f1"))},
                    "span_union_f1": fig["span_union_f1"]})
    return out
