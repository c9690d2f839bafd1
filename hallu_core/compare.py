"""Compare-side SQL: checkpoints (or imported models, or decodings) against each other.

A "side" is a (checkpoint id, decoding name) pair; a source is a rate source of
`hallu_core.queries` (a detector or an annotator's labels). Outputs of two sides share
no offsets, so span diffs match spans on their text.
"""
from __future__ import annotations

from typing import Iterable

from .queries import Source, _like, _rows
from .store import Store

Side = tuple[str, str]


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
    sql = (f"WITH a AS MATERIALIZED ({side}), b AS MATERIALIZED ({side}) SELECT a.example_id, a.gid AS a_id, b.gid AS b_id, "
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
