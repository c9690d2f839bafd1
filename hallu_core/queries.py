"""Read-side SQL for the dashboard: aggregates, filtered lists, diffs and rankings.

Everything is aggregated in SQLite and returned as small lists of dicts, so a page
never loads a whole table into pandas. A "rate source" says what makes a response
count as hallucinated: `("detector", NAME)` (at least one span from that detector) or
`("labels", ANNOTATOR)` (a done label with at least one span, e.g. "oracle", "gold").
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from .store import Store

Source = tuple[str, str]  # ("detector", name) | ("labels", annotator)

# Where an example records whether its fact was known to the base model or new in
# fine-tuning: meta.knowledge ("known"/"new"), meta.known (bool) or meta.novelty.
KNOWLEDGE_SQL = ("COALESCE(json_extract({m}, '$.knowledge'), json_extract({m}, '$.novelty'), "
                 "CASE json_extract({m}, '$.known') WHEN 1 THEN 'known' WHEN 0 THEN 'new' END)")


def _rows(rows) -> list[dict]:
    return [dict(r) for r in rows]


def _marks(values) -> str:
    return ",".join("?" * len(values))


def distinct_indexed(store: Store, table: str, column: str) -> list[str]:
    """DISTINCT over an indexed leading column by skip-scan: fast on millions of rows."""
    sql = (f"WITH RECURSIVE t(v) AS (SELECT MIN({column}) FROM {table} UNION ALL "
           f"SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > t.v) FROM t WHERE t.v IS NOT NULL) "
           f"SELECT v FROM t WHERE v IS NOT NULL")
    return [r[0] for r in store.query(sql)]


def detectors(store: Store) -> list[str]:
    return distinct_indexed(store, "detections", "detector")


def annotators(store: Store) -> list[str]:
    return distinct_indexed(store, "labels", "annotator")


def rate_sources(store: Store) -> list[Source]:
    return [("detector", d) for d in detectors(store)] + [("labels", a) for a in annotators(store)]


def source_name(source: Source) -> str:
    kind, name = source
    return name if kind == "detector" else f"labels:{name}"


def tasks(store: Store) -> list[str]:
    return distinct_indexed(store, "examples", "task")


# -- overview -------------------------------------------------------------------------
def overview(store: Store) -> dict:
    counts = store.counts()
    labeled = store.query("SELECT COUNT(DISTINCT generation_id) FROM labels WHERE status = 'done'")[0][0]
    counts["labeled_generations"] = labeled
    counts["labeled_share"] = labeled / counts["generations"] if counts["generations"] else 0.0
    counts["jobs_running"] = store.query("SELECT COUNT(*) FROM jobs WHERE status IN ('queued','running')")[0][0]
    return counts


def checkpoints(store: Store) -> list[dict]:
    """Every checkpoint with its run, the decodings it was generated with and its generation count."""
    rows = _rows(store.query(
        """SELECT c.id AS checkpoint_id, c.name AS checkpoint, c.step, c.run_id, r.name AS run, r.kind AS run_kind,
                  c.path, c.metrics
           FROM checkpoints c JOIN runs r ON r.id = c.run_id ORDER BY r.created_at, r.id, c.step"""))
    for row in rows:
        row["metrics"] = json.loads(row["metrics"] or "{}")
        per = store.query("SELECT decoding_name, COUNT(*) FROM generations WHERE checkpoint_id = ? "
                          "GROUP BY decoding_name", (row["checkpoint_id"],))
        row["decodings"] = [p[0] for p in per]
        row["generations"] = sum(p[1] for p in per)
        row["label"] = f"{row['run']} / {row['checkpoint']}"
    return rows


def runs(store: Store) -> list[dict]:
    rows = _rows(store.query(
        """SELECT r.id AS run_id, r.name, r.kind, r.base_model, r.status, r.created_at, r.config, r.meta,
                  (SELECT COUNT(*) FROM checkpoints c WHERE c.run_id = r.id) AS checkpoints,
                  (SELECT MAX(step) FROM run_metrics m WHERE m.run_id = r.id) AS last_step
           FROM runs r ORDER BY r.created_at, r.id"""))
    for row in rows:
        row["config"], row["meta"] = json.loads(row["config"] or "{}"), json.loads(row["meta"] or "{}")
    return rows


# -- hallucination rates ----------------------------------------------------------------
def _positive_subquery(source: Source) -> tuple[str, list]:
    """(generation_id, pos) rows: one per generation the source has judged."""
    kind, name = source
    if kind == "detector":
        return ("SELECT generation_id, MAX(n_spans > 0) AS pos, MAX(response_score) AS score "
                "FROM detections WHERE detector = ? GROUP BY generation_id"), [name]
    if kind == "labels":
        return ("SELECT generation_id, n_spans > 0 AS pos, CAST(n_spans AS REAL) AS score "
                "FROM labels WHERE annotator = ? AND status = 'done'"), [name]
    raise ValueError(f"unknown rate source kind {kind!r}")


def hallucination_rates(store: Store, sources: Iterable[Source] | None = None, run_id: str | None = None,
                        by_decoding: bool = True, by_knowledge: bool = False) -> list[dict]:
    """Share of responses with >= 1 span per checkpoint (x decoding, x known/new) per source."""
    sources = list(rate_sources(store) if sources is None else sources)
    out: list[dict] = []
    for source in sources:
        sub, params = _positive_subquery(source)
        keys = ["g.checkpoint_id"] + (["g.decoding_name"] if by_decoding else [])
        join = ""
        if by_knowledge:
            keys.append(KNOWLEDGE_SQL.format(m="e.meta"))
            join = "JOIN examples e ON e.id = g.example_id"
        where = ""
        if run_id is not None:
            where = "WHERE g.checkpoint_id IN (SELECT id FROM checkpoints WHERE run_id = ?)"
            params = params + [run_id]
        rows = store.query(
            f"""SELECT {', '.join(f'{k} AS k{i}' for i, k in enumerate(keys))},
                       COUNT(*) AS n, SUM(s.pos) AS positive
                FROM ({sub}) s JOIN generations g ON g.id = s.generation_id {join} {where}
                GROUP BY {', '.join(f'k{i}' for i in range(len(keys)))}""", params)
        for r in rows:
            row = {"checkpoint_id": r["k0"], "source": source_name(source), "source_kind": source[0],
                   "n": r["n"], "positive": r["positive"], "rate": r["positive"] / r["n"] if r["n"] else 0.0}
            if by_decoding:
                row["decoding"] = r["k1"]
            if by_knowledge:
                row["knowledge"] = r[f"k{len(keys) - 1}"] or "unrecorded"
            out.append(row)
    meta = {c["checkpoint_id"]: c for c in _checkpoint_names(store)}
    for row in out:
        c = meta.get(row["checkpoint_id"], {})
        row.update(run=c.get("run"), run_id=c.get("run_id"), checkpoint=c.get("checkpoint"), step=c.get("step"))
    out.sort(key=lambda r: (str(r["run"]), r["step"] or 0, r["source"], r.get("decoding") or ""))
    return out


def _checkpoint_names(store: Store) -> list[dict]:
    return _rows(store.query("SELECT c.id AS checkpoint_id, c.name AS checkpoint, c.step, c.run_id, r.name AS run "
                             "FROM checkpoints c JOIN runs r ON r.id = c.run_id"))


def run_curves(store: Store, run_id: str, decoding: str | None = None) -> list[dict]:
    """Long-format points (step, series, value, panel) for one run's training and hallucination curves."""
    points = [{"step": step, "series": name, "value": value, "panel": "loss" if "loss" in name else "metric"}
              for step, name, value in store.run_metrics(run_id)]
    for row in hallucination_rates(store, run_id=run_id, by_decoding=decoding is not None):
        if decoding is not None and row.get("decoding") != decoding:
            continue
        points.append({"step": row["step"], "series": row["source"], "value": row["rate"],
                       "panel": "hallucination rate"})
    points.sort(key=lambda p: (p["panel"], p["series"], p["step"]))
    return points


# -- the generation list ----------------------------------------------------------------
@dataclass(frozen=True)
class GenerationFilter:
    checkpoint_ids: tuple[str, ...] = ()
    decodings: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
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


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filter_sql(f: GenerationFilter) -> tuple[str, list, bool]:
    """(WHERE clause, params, needs the examples join)."""
    clauses, params, needs_examples = [], [], False
    if f.checkpoint_ids:
        clauses.append(f"g.checkpoint_id IN ({_marks(f.checkpoint_ids)})")
        params += list(f.checkpoint_ids)
    if f.decodings:
        clauses.append(f"g.decoding_name IN ({_marks(f.decodings)})")
        params += list(f.decodings)
    if f.tasks:
        clauses.append(f"e.task IN ({_marks(f.tasks)})")
        params += list(f.tasks)
        needs_examples = True
    det, det_params = [], []
    if f.detector:
        det.append("d.detector = ?")
        det_params.append(f.detector)
    if f.span_types:
        det.append("(" + " OR ".join("(',' || d.span_types || ',') LIKE ?" for _ in f.span_types) + ")")
        det_params += [f"%,{t},%" for t in f.span_types]
    if f.min_score is not None:
        det.append("d.response_score >= ?")
        det_params.append(float(f.min_score))
    if f.max_score is not None:
        det.append("d.response_score <= ?")
        det_params.append(float(f.max_score))
    if f.flagged is True:
        det.append("d.n_spans > 0")
    if det:
        clauses.append("EXISTS (SELECT 1 FROM detections d WHERE d.generation_id = g.id AND " + " AND ".join(det) + ")")
        params += det_params
    if f.flagged is False:
        extra = " AND d.detector = ?" if f.detector else ""
        clauses.append(f"NOT EXISTS (SELECT 1 FROM detections d WHERE d.generation_id = g.id AND d.n_spans > 0{extra})")
        params += [f.detector] if f.detector else []
    if f.labeled is not None:
        extra = " AND l.annotator = ?" if f.annotator else ""
        clauses.append(("EXISTS" if f.labeled else "NOT EXISTS")
                       + f" (SELECT 1 FROM labels l WHERE l.generation_id = g.id AND l.status = 'done'{extra})")
        params += [f.annotator] if f.annotator else []
    if f.search.strip():
        clauses.append("(g.text LIKE ? ESCAPE '\\' OR e.prompt LIKE ? ESCAPE '\\')")
        params += [_like(f.search.strip())] * 2
        needs_examples = True
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params, needs_examples


def _score_exprs(f: GenerationFilter) -> tuple[str, list]:
    det = " AND d.detector = ?" if f.detector else ""
    sql = (f"(SELECT MAX(d.response_score) FROM detections d WHERE d.generation_id = g.id{det}) AS score, "
           f"(SELECT COALESCE(SUM(d.n_spans), 0) FROM detections d WHERE d.generation_id = g.id{det}) AS n_spans")
    return sql, ([f.detector] * 2 if f.detector else [])


def count_generations(store: Store, f: GenerationFilter = GenerationFilter()) -> int:
    where, params, needs_examples = _filter_sql(f)
    join = " JOIN examples e ON e.id = g.example_id" if needs_examples else ""
    return store.query(f"SELECT COUNT(*) FROM generations g{join}{where}", params)[0][0]


def _ordered_ids_sql(f: GenerationFilter, sort: str) -> tuple[str, list]:
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; choose from {', '.join(SORTS)}")
    where, params, needs_examples = _filter_sql(f)
    join = " JOIN examples e ON e.id = g.example_id" if needs_examples else ""
    uses_score = "score" in SORTS[sort] or "n_spans" in SORTS[sort]
    score_sql, score_params = _score_exprs(f) if uses_score else ("NULL AS score, NULL AS n_spans", [])
    sql = (f"SELECT g.id FROM (SELECT g.id, g.rowid AS rid, {score_sql} FROM generations g "
           f"JOIN checkpoints c ON c.id = g.checkpoint_id{join}{where} "
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
        f"""SELECT g.id, g.example_id, r.name AS run, c.name AS checkpoint, c.step, g.decoding_name AS decoding,
                   g.sample_index AS sample, e.task, substr(g.text, 1, 200) AS output,
                   (SELECT MAX(d.response_score) FROM detections d WHERE d.generation_id = g.id{det}) AS score,
                   (SELECT COALESCE(SUM(d.n_spans), 0) FROM detections d WHERE d.generation_id = g.id{det}) AS n_spans,
                   (SELECT GROUP_CONCAT(DISTINCT d.span_types) FROM detections d
                     WHERE d.generation_id = g.id AND d.span_types != ''{det}) AS span_types,
                   (SELECT GROUP_CONCAT(l.annotator) FROM labels l WHERE l.generation_id = g.id
                     AND l.status = 'done') AS labeled_by
            FROM generations g JOIN checkpoints c ON c.id = g.checkpoint_id JOIN runs r ON r.id = c.run_id
            JOIN examples e ON e.id = g.example_id
            WHERE g.id IN ({_marks(ids)})""", dp + list(ids))
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
            "detections": store.detections(generation_id), "labels": store.labels(generation_id=generation_id)}


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


# -- compare ----------------------------------------------------------------------------
def example_generations(store: Store, example_id: str) -> list[dict]:
    """All generations of one example (sample 0 first) with their checkpoint names."""
    return _rows(store.query(
        """SELECT g.id, g.checkpoint_id, g.decoding_name AS decoding, g.sample_index, c.name AS checkpoint,
                  c.step, r.name AS run FROM generations g JOIN checkpoints c ON c.id = g.checkpoint_id
           JOIN runs r ON r.id = c.run_id WHERE g.example_id = ? ORDER BY g.sample_index, r.created_at, c.step""",
        (example_id,)))


def _side_sql(source: Source) -> tuple[str, str]:
    """Per-generation (n spans, score) expressions for a source; NULL where it has not judged."""
    kind, _ = source
    if kind == "detector":
        return ("(SELECT SUM(d.n_spans) FROM detections d WHERE d.generation_id = g.id AND d.detector = ?)",
                "(SELECT MAX(d.response_score) FROM detections d WHERE d.generation_id = g.id AND d.detector = ?)")
    return ("(SELECT l.n_spans FROM labels l WHERE l.generation_id = g.id AND l.annotator = ? AND l.status = 'done')",
            "(SELECT CAST(l.n_spans AS REAL) FROM labels l WHERE l.generation_id = g.id AND l.annotator = ? "
            "AND l.status = 'done')")


def _pair_cte(side_a: tuple[str, str], side_b: tuple[str, str], source: Source) -> tuple[str, list]:
    n_sql, s_sql = _side_sql(source)
    side = (f"SELECT g.example_id, g.id AS gid, {n_sql} AS n, {s_sql} AS s FROM generations g "
            f"WHERE g.checkpoint_id = ? AND g.decoding_name = ? AND g.sample_index = 0")
    sql = (f"WITH a AS ({side}), b AS ({side}) SELECT a.example_id, a.gid AS a_id, b.gid AS b_id, "
           f"a.n AS a_spans, b.n AS b_spans, a.s AS a_score, b.s AS b_score FROM a JOIN b ON a.example_id = b.example_id "
           f"WHERE a.n IS NOT NULL AND b.n IS NOT NULL")
    name = source[1]
    return sql, [name, name, side_a[0], side_a[1], name, name, side_b[0], side_b[1]]


def aggregate_deltas(store: Store, side_a: tuple[str, str], side_b: tuple[str, str], source: Source) -> dict:
    """Over the examples both sides answered: hallucination rate, mean spans and score of A and B."""
    sql, params = _pair_cte(side_a, side_b, source)
    r = store.query(
        f"""SELECT COUNT(*) AS n, AVG(a_spans > 0) AS a_rate, AVG(b_spans > 0) AS b_rate,
                   AVG(a_spans) AS a_mean_spans, AVG(b_spans) AS b_mean_spans, AVG(a_score) AS a_score,
                   AVG(b_score) AS b_score, SUM(b_spans > a_spans) AS regressions, SUM(b_spans < a_spans) AS fixes,
                   SUM(a_spans = 0 AND b_spans > 0) AS newly_flagged, SUM(a_spans > 0 AND b_spans = 0) AS cleared
            FROM ({sql})""", params)[0]
    return {k: (r[k] if r[k] is not None else 0) for k in r.keys()}


def ranked_changes(store: Store, side_a: tuple[str, str], side_b: tuple[str, str], source: Source,
                   kind: str = "regressions", limit: int = 50, offset: int = 0) -> list[dict]:
    """Examples whose span count rose (regressions) or fell (fixes) most from A to B."""
    sql, params = _pair_cte(side_a, side_b, source)
    if kind == "regressions":
        cond, order = "b_spans > a_spans", "b_spans - a_spans DESC, COALESCE(b_score - a_score, 0) DESC"
    elif kind == "fixes":
        cond, order = "b_spans < a_spans", "a_spans - b_spans DESC, COALESCE(a_score - b_score, 0) DESC"
    else:
        raise ValueError("kind must be regressions or fixes")
    rows = _rows(store.query(
        f"""SELECT p.*, b_spans - a_spans AS delta, substr(e.prompt, 1, 160) AS prompt
            FROM ({sql}) p JOIN examples e ON e.id = p.example_id WHERE {cond}
            ORDER BY {order}, p.example_id LIMIT ? OFFSET ?""", params + [int(limit), int(offset)]))
    return rows


def shared_examples(store: Store, sides: list[tuple[str, str]], limit: int = 200, search: str = "") -> list[dict]:
    """Examples answered by every chosen (checkpoint, decoding), for the prompt picker."""
    if not sides:
        return []
    first, rest = sides[0], sides[1:]
    clauses, params = [], [first[0], first[1]]
    for ckpt, dec in rest:
        clauses.append("EXISTS (SELECT 1 FROM generations h WHERE h.example_id = g.example_id "
                       "AND h.checkpoint_id = ? AND h.decoding_name = ?)")
        params += [ckpt, dec]
    if search.strip():
        clauses.append("e.prompt LIKE ? ESCAPE '\\'")
        params.append(_like(search.strip()))
    extra = "".join(" AND " + c for c in clauses)
    return _rows(store.query(
        f"""SELECT DISTINCT g.example_id, substr(e.prompt, 1, 120) AS prompt, e.task FROM generations g
            JOIN examples e ON e.id = g.example_id
            WHERE g.checkpoint_id = ? AND g.decoding_name = ? AND g.sample_index = 0{extra}
            ORDER BY g.rowid LIMIT ?""", params + [int(limit)]))


def side_generation(store: Store, example_id: str, side: tuple[str, str]) -> str | None:
    rows = store.query("SELECT id FROM generations WHERE example_id = ? AND checkpoint_id = ? AND decoding_name = ? "
                       "ORDER BY sample_index LIMIT 1", (example_id, side[0], side[1]))
    return rows[0][0] if rows else None


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .,;:!?\"'")


def span_diff(text_a: str, spans_a: Iterable, text_b: str, spans_b: Iterable) -> dict:
    """Spans introduced in B, fixed since A, and kept, matched on their (normalised) text.

    Two outputs of the same prompt share no offsets, so spans are matched by what they say.
    """
    def items(text, spans):
        out = []
        for s in spans:
            start, end = (s["start"], s["end"]) if isinstance(s, dict) else (s.start, s.end)
            start, end = max(0, start), min(len(text), end)
            if start < end:
                out.append({**(s if isinstance(s, dict) else s.to_dict()), "text": text[start:end]})
        return out

    a, b = items(text_a or "", spans_a), items(text_b or "", spans_b)
    keys_a, keys_b = {_norm(x["text"]) for x in a}, {_norm(x["text"]) for x in b}
    return {"introduced": [x for x in b if _norm(x["text"]) not in keys_a],
            "fixed": [x for x in a if _norm(x["text"]) not in keys_b],
            "kept": [x for x in b if _norm(x["text"]) in keys_a]}
