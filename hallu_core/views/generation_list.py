"""Inspect's generation list: filtered, sorted and paged in SQL, and one generation's detail.

Only the newest detection per (generation, detector) counts (hallu_core/store/latest.py). Filters that
the summary tables answer (checkpoint, decoding) count in constant time; one detector's score
range walks that detector's index.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from hallu_core.store.database import Store, marks
from hallu_core.store.run_kinds import TRAINING_STEP_SQL
from hallu_core.views.queries import like_pattern


@dataclass(frozen=True)
class GenerationFilter:
    checkpoint_ids: tuple[str, ...] = ()
    decodings: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    knowledge: tuple[str, ...] = ()  # the example's meta knowledge: known / new / unseen (the demo's)
    detector: str | None = None  # restricts the span, type and score filters (and the shown score)
    span_types: tuple[str, ...] = ()
    min_score: float | None = None
    max_score: float | None = None
    flagged: bool | None = None  # has at least one detector span
    labeled: bool | None = None  # has a done label (of `annotator`, or anyone's)
    annotator: str | None = None
    search: str = ""


SORTS = {
    "newest": "g.rowid DESC",
    "oldest": "g.rowid ASC",
    "score (high first)": "score IS NULL, score DESC, g.rowid",
    "score (low first)": "score IS NULL, score ASC, g.rowid",
    "most spans": "n_spans DESC, g.rowid",
    "checkpoint": "c.run_id, c.step, g.example_id, g.rowid",
    "example": "g.example_id, c.step, g.rowid",
}


def _driven(f: GenerationFilter) -> bool:
    """A detector's filters walk that detector's newest rows by score (detection_latest_score), not every output."""
    return bool(f.detector) and f.flagged is not False


def _detection_clauses(f: GenerationFilter) -> tuple[list[str], list]:
    """Conditions on the newest detection `d` (detection_latest) of the chosen detector, or of any."""
    det, params = [], []
    if f.detector:
        det.append("d.detector = ?")
        params.append(f.detector)
    if f.span_types:
        det.append("(" + " OR ".join("(',' || d.span_types || ',') LIKE ?" for _ in f.span_types) + ")")
        params += [f"%,{t},%" for t in f.span_types]
    if f.min_score is not None:
        det.append("d.response_score >= ?")
        params.append(float(f.min_score))
    if f.max_score is not None:
        det.append("d.response_score <= ?")
        params.append(float(f.max_score))
    if f.flagged is True:
        det.append("d.n_spans > 0")
    return det, params


def _filter_sql(f: GenerationFilter, driven: bool = False) -> tuple[str, list, bool]:
    """(WHERE clause, params, needs the examples join). `driven`: `d` is joined in, its conditions stand alone.

    Only the newest detection per (generation, detector) counts (hallu_core/store/latest.py).
    """
    clauses, params, needs_examples = [], [], False
    if f.checkpoint_ids:
        clauses.append(f"g.checkpoint_id IN ({marks(f.checkpoint_ids)})")
        params += list(f.checkpoint_ids)
    if f.decodings:
        clauses.append(f"g.decoding_name IN ({marks(f.decodings)})")
        params += list(f.decodings)
    if f.tasks:
        clauses.append(f"e.task IN ({marks(f.tasks)})")
        params += list(f.tasks)
        needs_examples = True
    if f.knowledge:  # example_knowledge: kept by the summary triggers, keyed by example
        clauses.append(f"g.example_id IN (SELECT example_id FROM example_knowledge WHERE knowledge IN "
                       f"({marks(f.knowledge)}))")
        params += list(f.knowledge)
    det, det_params = _detection_clauses(f)
    if det and driven:
        clauses += det
        params += det_params
    elif det:
        clauses.append("EXISTS (SELECT 1 FROM detection_latest d WHERE d.generation_id = g.id AND "
                       + " AND ".join(det) + ")")
        params += det_params
    if f.flagged is False:
        extra = " AND d.detector = ?" if f.detector else ""
        clauses.append("NOT EXISTS (SELECT 1 FROM detection_latest d WHERE d.generation_id = g.id "
                       f"AND d.n_spans > 0{extra})")
        params += [f.detector] if f.detector else []
    if f.labeled is not None:
        extra = " AND l.annotator = ?" if f.annotator else ""
        clauses.append(("EXISTS" if f.labeled else "NOT EXISTS")
                       + f" (SELECT 1 FROM labels l WHERE l.generation_id = g.id AND l.status = 'done'{extra})")
        params += [f.annotator] if f.annotator else []
    if f.search.strip():
        clauses.append("(g.text LIKE ? ESCAPE '\\' OR e.prompt LIKE ? ESCAPE '\\')")
        params += [like_pattern(f.search.strip())] * 2
        needs_examples = True
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params, needs_examples


def _score_exprs(f: GenerationFilter, sort: str) -> tuple[str, list]:
    """The score and span-count columns the sort needs (each is one index lookup per matching row)."""
    det = " AND d.detector = ?" if f.detector else ""
    exprs = {"score": f"(SELECT MAX(d.response_score) FROM detection_latest d WHERE d.generation_id = g.id{det})",
             "n_spans": f"(SELECT COALESCE(SUM(d.n_spans), 0) FROM detection_latest d "
                        f"WHERE d.generation_id = g.id{det})"}
    used = [name for name in exprs if name in SORTS[sort]]
    sql = ", ".join(f"{exprs[name] if name in used else 'NULL'} AS {name}" for name in exprs)
    return sql, [f.detector] * len(used) if f.detector else []


# with one detector's rows joined in, its score and span count are plain columns (never NULL there)
DRIVEN_SORTS = {"score (high first)": "d.response_score DESC, g.rowid",
                "score (low first)": "d.response_score ASC, g.rowid", "most spans": "d.n_spans DESC, g.rowid"}


def count_generations(store: Store, f: GenerationFilter = GenerationFilter()) -> int:
    if f == GenerationFilter(checkpoint_ids=f.checkpoint_ids, decodings=f.decodings):  # the summary knows these
        where, params, _ = _filter_sql(f)
        sql = "SELECT COALESCE(SUM(g.generations), 0) FROM generation_summary g" + where
        return store.query(sql, params)[0][0]
    if _driven(f) and f == GenerationFilter(detector=f.detector, span_types=f.span_types, min_score=f.min_score,
                                            max_score=f.max_score, flagged=f.flagged):
        # one row per output the detector judged: count its score range. With output filters too, walking the
        # outputs' covering index (below) beats looking up every matching detection's output row.
        where, params, _ = _filter_sql(f, driven=True)
        return store.query(f"SELECT COUNT(*) FROM detection_latest d{where}", params)[0][0]
    where, params, needs_examples = _filter_sql(f)
    join = " JOIN examples e ON e.id = g.example_id" if needs_examples else ""
    return store.query(f"SELECT COUNT(*) FROM generations g{join}{where}", params)[0][0]


def _ordered_ids_sql(f: GenerationFilter, sort: str) -> tuple[str, list]:
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; choose from {', '.join(SORTS)}")
    driven = _driven(f) and sort in DRIVEN_SORTS
    where, params, needs_examples = _filter_sql(f, driven=driven)
    join = " JOIN examples e ON e.id = g.example_id" if needs_examples else ""
    if "c." in SORTS[sort]:  # only then: the join would steer SQLite off the covering index
        join = " JOIN checkpoints c ON c.id = g.checkpoint_id" + join
    if driven:  # walk the detector's newest rows in score order; ties sorted within each score only
        sql = (f"SELECT g.id FROM (SELECT g.id FROM detection_latest d JOIN generations g ON g.id = d.generation_id"
               f"{join}{where} ORDER BY {DRIVEN_SORTS[sort]} LIMIT ? OFFSET ?) g")
        return sql, params
    score_sql, score_params = _score_exprs(f, sort)
    sql = (f"SELECT g.id FROM (SELECT g.id, g.rowid AS rid, {score_sql} FROM generations g{join}{where} "
           f"ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?) g")
    return sql, score_params + params


def list_generations(store: Store, f: GenerationFilter = GenerationFilter(), sort: str = "newest",
                     page: int = 0, page_size: int = 25) -> list[dict]:
    """One page of the filtered, sorted generation list (row values are display-ready)."""
    sql, params = _ordered_ids_sql(f, sort)
    ids = [r[0] for r in store.query(sql, params + [int(page_size), int(page) * int(page_size)])]
    return generation_rows(store, ids, detector=f.detector)


def generation_id_at(store: Store, f: GenerationFilter, sort: str, index: int) -> str | None:
    """The id at position `index` of the filtered, sorted list (for previous / next)."""
    if index < 0:
        return None
    sql, params = _ordered_ids_sql(f, sort)
    rows = store.query(sql, params + [1, int(index)])
    return rows[0][0] if rows else None


def generation_rows(store: Store, ids: list[str], detector: str | None = None) -> list[dict]:
    if not ids:
        return []
    det = " AND d.detector = ?" if detector else ""
    dp = [detector] * 3 if detector else []
    rows = store.query(
        f"""SELECT g.id, g.example_id, r.name AS run, c.name AS checkpoint, {TRAINING_STEP_SQL} AS step,
                   g.decoding_name AS decoding,
                   g.sample_index AS sample, e.task, substr(g.text, 1, 200) AS output,
                   (SELECT MAX(d.response_score) FROM detection_latest d WHERE d.generation_id = g.id{det}) AS score,
                   (SELECT COALESCE(SUM(d.n_spans), 0) FROM detection_latest d WHERE d.generation_id = g.id{det})
                   AS n_spans,
                   (SELECT GROUP_CONCAT(DISTINCT d.span_types) FROM detection_latest d
                     WHERE d.generation_id = g.id AND d.span_types != ''{det}) AS span_types,
                   (SELECT GROUP_CONCAT(l.annotator) FROM labels l WHERE l.generation_id = g.id
                     AND l.status = 'done') AS labeled_by
            FROM generations g JOIN checkpoints c ON c.id = g.checkpoint_id JOIN runs r ON r.id = c.run_id
            JOIN examples e ON e.id = g.example_id
            WHERE g.id IN ({marks(ids)})""", dp + list(ids))
    by_id = {r["id"]: dict(r) for r in rows}
    out = []
    for gid in ids:
        row = by_id.get(gid)
        if row:
            types = {t for part in (row["span_types"] or "").split(",") for t in [part.strip()] if t}
            row["span_types"] = ", ".join(sorted(types))
            row["labeled_by"] = row["labeled_by"] or ""
            out.append(row)
    return out


def generation_detail(store: Store, generation_id: str) -> dict | None:
    """Everything the detail view shows for one generation."""
    gen = store.get_generation(generation_id)
    if gen is None:
        return None
    ckpt = store.get_checkpoint(gen.checkpoint_id)
    return {"generation": gen, "example": store.get_example(gen.example_id), "checkpoint": ckpt,
            "run": store.get_run(ckpt.run_id) if ckpt else None,
            "detections": store.latest_detections(generation_id),
            "labels": store.labels(generation_id=generation_id)}


def detail_spans(detail: dict, detectors: Iterable[str] | None = None, annotators: Iterable[str] = ()) -> list[dict]:
    """The spans of the chosen detectors and annotators as dicts naming where they came from."""
    chosen = None if detectors is None else set(detectors)
    spans = []
    for det in detail["detections"]:
        if chosen is None or det.detector in chosen:
            spans += [{**s.to_dict(), "detector": det.detector} for s in det.spans]
    for label in detail["labels"]:
        if label.annotator in set(annotators):
            spans += [{**s.to_dict(), "detector": None, "annotator": f"labels:{label.annotator}"} for s in label.spans]
    return spans


