"""Compare-side SQL: checkpoints (or imported models, or decodings) against each other.

A "side" is a (checkpoint id, decoding name) pair; a source is a rate source of
`hallu_core.queries` (a detector or an annotator's labels). Outputs of two sides share
no offsets, so span diffs match spans on their text.
"""
from __future__ import annotations

import json
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


def _pairs_sql(side_a: Side, side_b: Side, source: Source) -> tuple[str, dict]:
    """One row per example that both sides answered (sample 0) and the source judged on both.

    Reads `side_scores` (hallu_core/sides.py): a detector's newest detection or an annotator's
    done label per output, keyed by judge, side and prompt. A's range is walked in prompt order
    and each B row is found next to the previous one, so the cost is linear in the eval set with
    no lookup in the base tables and no sort.
    """
    kind, name = source
    if kind not in ("detector", "labels"):
        raise ValueError(f"unknown rate source kind {kind!r}")
    sql = """SELECT a.example_id, a.generation_id AS a_id, b.generation_id AS b_id, a.n_spans AS a_spans,
                    b.n_spans AS b_spans, a.score AS a_score, b.score AS b_score
             FROM side_scores a JOIN side_scores b ON b.source_kind = a.source_kind AND b.source = a.source
                  AND b.checkpoint_id = :b_ckpt AND b.decoding_name = :b_dec AND b.sample_index = 0
                  AND b.example_id = a.example_id
             WHERE a.source_kind = :kind AND a.source = :source AND a.checkpoint_id = :a_ckpt
                   AND a.decoding_name = :a_dec AND a.sample_index = 0"""
    params = {"kind": kind, "source": name, "a_ckpt": side_a[0], "a_dec": side_a[1], "b_ckpt": side_b[0],
              "b_dec": side_b[1]}
    return sql, params


AGGREGATES = """COUNT(*) AS n, AVG(a_spans > 0) AS a_rate, AVG(b_spans > 0) AS b_rate,
    AVG(a_spans) AS a_mean_spans, AVG(b_spans) AS b_mean_spans, AVG(a_score) AS a_score, AVG(b_score) AS b_score,
    SUM(b_spans > a_spans) AS regressions, SUM(b_spans < a_spans) AS fixes,
    SUM(a_spans = 0 AND b_spans > 0) AS newly_flagged, SUM(a_spans > 0 AND b_spans = 0) AS cleared"""
RANKINGS = {  # kind -> (which pairs, their order)
    "regressions": ("b_spans > a_spans", "b_spans - a_spans DESC, COALESCE(b_score - a_score, 0) DESC, example_id"),
    "fixes": ("b_spans < a_spans", "a_spans - b_spans DESC, COALESCE(a_score - b_score, 0) DESC, example_id"),
}
RANKED_COLUMNS = ("example_id", "a_id", "b_id", "a_spans", "b_spans", "a_score", "b_score", "delta", "prompt")


def _ranked_sql(pairs: str, kind: str, prompts: bool = True) -> str:
    """One page of a ranking with a `rank` column; cut first (a top-N sort, not a sort of every change),
    then number the page and fetch its prompts (not one per change; `prompts` False: NULL, fetched later)."""
    if kind not in RANKINGS:
        raise ValueError("kind must be regressions or fixes")
    cond, order = RANKINGS[kind]
    prompt, join = ("substr(e.prompt, 1, 160)", "JOIN examples e ON e.id = p.example_id") if prompts else ("NULL", "")
    return f"""SELECT p.*, :offset + ROW_NUMBER() OVER (ORDER BY {order}) AS rank, {prompt} AS prompt FROM (
                   SELECT example_id, a_id, b_id, a_spans, b_spans, a_score, b_score, b_spans - a_spans AS delta
                   FROM {pairs} WHERE {cond} ORDER BY {order} LIMIT :limit OFFSET :offset) p {join}"""


def _aggregate(row) -> dict:
    return {k: (row[k] if row[k] is not None else 0) for k in ("n", "a_rate", "b_rate", "a_mean_spans",
            "b_mean_spans", "a_score", "b_score", "regressions", "fixes", "newly_flagged", "cleared")}


def aggregate_deltas(store: Store, side_a: Side, side_b: Side, source: Source) -> dict:
    """Over the examples both sides answered: hallucination rate, mean spans and score of A and B."""
    sql, params = _pairs_sql(side_a, side_b, source)
    return _aggregate(store.query(f"SELECT {AGGREGATES} FROM ({sql})", params)[0])


def ranked_changes(store: Store, side_a: Side, side_b: Side, source: Source,
                   kind: str = "regressions", limit: int = 50, offset: int = 0) -> list[dict]:
    """Examples whose span count rose (regressions) or fell (fixes) most from A to B: one page, ranked in SQL."""
    sql, params = _pairs_sql(side_a, side_b, source)
    rows = store.query(_ranked_sql(f"({sql})", kind) + " ORDER BY rank",
                       {**params, "limit": int(limit), "offset": int(offset)})
    return [{k: r[k] for k in RANKED_COLUMNS} for r in rows]


def changes(store: Store, side_a: Side, side_b: Side, source: Source, limit: int = 100) -> dict:
    """`aggregate_deltas` and the first `limit` regressions and fixes from one pass over the pairs.

    The pairs cover the whole eval set (a linear pass, the page's heaviest query), so they are
    computed once (a materialized CTE) and only the aggregate and two bounded pages come back;
    the pages' prompts come after, in one lookup.
    """
    sql, params = _pairs_sql(side_a, side_b, source)
    as_json = "json_group_array(json_array(" + ", ".join(RANKED_COLUMNS) + ", rank))"
    pages = {kind: f"(SELECT {as_json} FROM ({_ranked_sql('pairs', kind, prompts=False)})) AS {kind}_page"
             for kind in RANKINGS}
    row = store.query(f"WITH pairs AS MATERIALIZED ({sql}) SELECT {AGGREGATES}, {', '.join(pages.values())} FROM pairs",
                      {**params, "limit": int(limit), "offset": 0})[0]
    out = {"aggregate": _aggregate(row)}
    for kind in RANKINGS:
        ranked = sorted(json.loads(row[f"{kind}_page"]), key=lambda r: r[-1])  # by rank: aggregates keep no order
        out[kind] = [dict(zip(RANKED_COLUMNS, r)) for r in ranked]
    ids = sorted({r["example_id"] for kind in RANKINGS for r in out[kind]})
    prompts = dict(store.query("SELECT id, substr(prompt, 1, 160) FROM examples "
                               f"WHERE id IN ({','.join('?' * len(ids))})", ids)) if ids else {}
    for kind in RANKINGS:
        for r in out[kind]:
            r["prompt"] = prompts.get(r["example_id"])
    return out


def shared_examples(store: Store, sides: list[Side], limit: int = 200, search: str = "") -> list[dict]:
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


def side_generation(store: Store, example_id: str, side: Side) -> str | None:
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
