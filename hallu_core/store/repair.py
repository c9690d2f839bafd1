"""`hallu repair`: every derived table rebuilt from the base tables, then checked against a recount.

Triggers keep the derived tables (schema.DERIVED) in the same transaction as every write, so they
drift only after writes that bypassed them: another SQLite client without recursive triggers, a
restored or hand-edited file, a bug. The recount is plain SQL written the obvious way (a window
function picks each output's newest detection, GROUP BY counts), not the triggers' deltas nor the
back-fill, so that it also catches a mistake in either. Definitions: hallu_core/store/summary.py,
latest.py, sides.py and side_vectors.py.
"""
from __future__ import annotations

import re
from collections import Counter

from hallu_core.store import schema, score_summary, shuffle, side_vectors, sides
from hallu_core.store.summary import GEN_KEY, SRC_COUNTS, SRC_KEY, knowledge_of
from hallu_core.store.types import SPAN_TYPES


def _typed(rows: str, key: str, when: str) -> str:
    """SELECT of `rows` (one per `key`) with each row's span count per type: its spans parsed once, only `when`."""
    type_of = "COALESCE(json_extract(j.value, '$.type'), 'unknown')"
    counts = ", ".join(f"COALESCE(SUM(j.key IS NOT NULL AND {type_of} = '{t}'), 0) AS {t}" for t in SPAN_TYPES)
    return (f"SELECT x.*, {counts} FROM {rows} x LEFT JOIN json_each(CASE WHEN {when} AND x.n_spans > 0 "
            f"THEN x.spans END) j GROUP BY x.{key}")


def _sums(alias: str) -> str:
    return ", ".join(f"COALESCE(SUM({alias}.{t}), 0)" for t in SPAN_TYPES)


# The recount's intermediate tables, made once per check (TEMP: private to this connection, never stored):
# every detection ranked among its output's rows of that detector, the newest of each (rank 1, the one that
# counts) and every label with their span counts per type, and Compare's per-side scores (sides.py).
RECOUNT_TABLES = (
    "CREATE TEMP TABLE recount_ranked AS SELECT d.rowid AS det_rowid, d.*, ROW_NUMBER() OVER (PARTITION BY "
    "d.generation_id, d.detector ORDER BY d.created_at DESC, d.rowid DESC) AS rank FROM detections d",
    f"CREATE TEMP TABLE recount_newest AS {_typed('(SELECT * FROM recount_ranked WHERE rank = 1)', 'det_rowid', 'true')}",
    "CREATE INDEX temp.recount_newest_row ON recount_newest(det_rowid)",
    "CREATE TEMP TABLE recount_labels AS "
    + _typed("(SELECT rowid AS label_rowid, * FROM labels)", "label_rowid", "x.status = 'done'"),
    "CREATE TEMP TABLE recount_sides AS SELECT 'detector' AS source_kind, n.detector AS source, g.checkpoint_id, "
    "g.decoding_name, g.sample_index, g.example_id, g.id AS generation_id, n.n_spans, n.response_score AS score "
    "FROM recount_newest n JOIN generations g ON g.id = n.generation_id UNION ALL "
    "SELECT 'labels', l.annotator, g.checkpoint_id, g.decoding_name, g.sample_index, g.example_id, g.id, "
    "l.n_spans, l.n_spans FROM labels l JOIN generations g ON g.id = l.generation_id WHERE l.status = 'done'",
    f"CREATE INDEX temp.recount_sides_side ON recount_sides({side_vectors.SIDE}, sample_index)",
)

_KNOWLEDGE = knowledge_of("e.meta")  # '' for an output whose example is gone
_GROUP = f"g.checkpoint_id, g.decoding_name, {_KNOWLEDGE}"
_OF_GENERATION = "JOIN generations g ON g.id = {r}.generation_id LEFT JOIN examples e ON e.id = g.example_id"
_DONE = "l.status = 'done'"

# table -> (its stored rows, the same rows recounted from the base tables)
RECOUNT = {
    "example_knowledge": ("SELECT example_id, knowledge FROM example_knowledge",
                          f"SELECT id, {knowledge_of('meta')} FROM examples"),
    "detection_latest": (
        f"SELECT generation_id, detector, det_rowid, config_hash, n_spans, response_score, span_types, "
        f"{', '.join(SPAN_TYPES)} FROM detection_latest",
        "SELECT generation_id, detector, det_rowid, config_hash, n_spans, response_score, span_types, "
        f"{', '.join(SPAN_TYPES)} FROM recount_newest"),
    "side_scores": (f"SELECT {sides.KEY}, n_spans, score FROM side_scores", "SELECT * FROM recount_sides"),
    "generation_summary": (
        f"SELECT {GEN_KEY}, generations, labeled FROM generation_summary",
        f"SELECT {_GROUP}, COUNT(*), SUM(EXISTS (SELECT 1 FROM labels l WHERE l.generation_id = g.id AND {_DONE})) "
        f"FROM generations g LEFT JOIN examples e ON e.id = g.example_id GROUP BY {_GROUP}"),
    "source_summary": (  # n_rows counts every stored row; the rest comes from the newest (detectors), done (labels)
        f"SELECT {SRC_KEY}, {', '.join(SRC_COUNTS)} FROM source_summary",
        f"SELECT 'detector', d.detector, {_GROUP}, COUNT(*), COUNT(n.det_rowid), COALESCE(SUM(n.n_spans > 0), 0), "
        f"COALESCE(SUM(n.n_spans), 0), {_sums('n')} "
        f"FROM recount_ranked d LEFT JOIN recount_newest n ON n.det_rowid = d.det_rowid {_OF_GENERATION.format(r='d')} "
        f"GROUP BY d.detector, {_GROUP} UNION ALL "
        f"SELECT 'labels', l.annotator, {_GROUP}, COUNT(*), SUM({_DONE}), SUM({_DONE} AND l.n_spans > 0), "
        f"SUM(CASE WHEN {_DONE} THEN l.n_spans ELSE 0 END), {_sums('l')} "
        f"FROM recount_labels l {_OF_GENERATION.format(r='l')} "
        f"GROUP BY l.annotator, {_GROUP}"),
}
# score_summary's sums of floats, added by the triggers in another order: equal to the recount within rounding
# (rounding both to some decimals would still split two sums a hair apart across a rounding boundary)
_SCORE_KEY = score_summary.KEY
RECOUNT_SCORES = (
    f"CREATE TEMP TABLE recount_scores AS SELECT n.detector AS detector, g.checkpoint_id AS checkpoint_id, "
    f"g.decoding_name AS decoding_name, {_KNOWLEDGE} AS knowledge, COUNT(*) AS scored, "
    f"SUM(n.response_score) AS score_sum FROM recount_newest n {_OF_GENERATION.format(r='n')} "
    f"GROUP BY n.detector, {_GROUP}",
    f"CREATE INDEX temp.recount_scores_key ON recount_scores({_SCORE_KEY})",
)
TEMP_TABLES = re.findall(r"CREATE TEMP TABLE (\w+)", " ".join(RECOUNT_TABLES + RECOUNT_SCORES))  # dropped after
_SCORES_DIFFERING = (
    f"SELECT (SELECT COUNT(*) FROM recount_scores e LEFT JOIN score_summary s USING ({_SCORE_KEY}) "
    "WHERE s.scored IS NOT e.scored OR abs(s.score_sum - e.score_sum) > 1e-9 * max(1.0, abs(e.score_sum))) + "
    f"(SELECT COUNT(*) FROM score_summary s LEFT JOIN recount_scores e USING ({_SCORE_KEY}) WHERE e.scored IS NULL)")
# the prompts Compare packs (sample 0) that have no number
_UNNUMBERED = ("SELECT COUNT(DISTINCT example_id) FROM recount_sides WHERE sample_index = 0 "
               "AND example_id NOT IN (SELECT example_id FROM example_numbers)")
CHECKED = (*RECOUNT, "score_summary", "example_numbers", "side_vectors")


def differences(store) -> dict[str, int]:
    """Per derived table, how many of its rows (side_vectors: records) differ from a recount of the base tables."""
    with store.transaction() as conn:  # the recount's TEMP tables live and go within it
        try:
            for statement in RECOUNT_TABLES + RECOUNT_SCORES:
                conn.execute(statement)
            out = {table: _differing(conn, stored, expected) for table, (stored, expected) in RECOUNT.items()}
            out["score_summary"] = conn.execute(_SCORES_DIFFERING).fetchone()[0]
            out["example_numbers"] = conn.execute(_UNNUMBERED).fetchone()[0]
            out["side_vectors"] = _vector_differences(conn)
            out["generations.shuffle_key"] = conn.execute(f"SELECT COUNT(*) FROM generations WHERE {shuffle.WRONG}"
                                                          ).fetchone()[0]
        finally:
            for table in TEMP_TABLES:
                conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
    return out


def _differing(conn, stored: str, expected: str) -> int:
    """Rows in one and not the other (each wrapped: `A EXCEPT B UNION ALL C` would read as `(A EXCEPT B) UNION ALL C`)."""
    stored, expected = f"SELECT * FROM ({stored})", f"SELECT * FROM ({expected})"
    return conn.execute(f"SELECT (SELECT COUNT(*) FROM ({stored} EXCEPT {expected})) + "
                        f"(SELECT COUNT(*) FROM ({expected} EXCEPT {stored}))").fetchone()[0]


def _vector_differences(conn) -> int:
    """Records of side_vectors that are not recounted sample-0 scores, and recounted ones missing, side by side."""
    width, bits = side_vectors.RECORD_WIDTH, side_vectors.CHUNK_BITS
    record = side_vectors.record("n.no", "s.n_spans", "s.score")
    side = "source_kind = ? AND source = ? AND checkpoint_id = ? AND decoding_name = ?"
    differing = 0
    for key in [tuple(r) for r in conn.execute(f"SELECT {side_vectors.SIDE} FROM side_vectors UNION "
                                              f"SELECT {side_vectors.SIDE} FROM recount_sides WHERE sample_index = 0")]:
        stored = Counter((chunk, data[i:i + width]) for chunk, data in conn.execute(
            f"SELECT chunk, data FROM side_vectors WHERE {side}", key) for i in range(0, len(data), width))
        expected = Counter(tuple(r) for r in conn.execute(
            f"SELECT n.no >> {bits}, {record} FROM (SELECT * FROM recount_sides WHERE {side} AND sample_index = 0) s "
            "JOIN example_numbers n ON n.example_id = s.example_id", key))
        differing += sum(((stored - expected) + (expected - stored)).values())
    return differing


def repair(store) -> tuple[dict[str, int], dict[str, int]]:
    """Rebuild every derived table (schema.rebuild) and recount: (differences before, differences after).

    One write transaction: nothing written meanwhile is missed, and "before" is exactly what the rebuild changed."""
    with store.transaction():
        before = differences(store)
        schema.rebuild(store)
        after = differences(store)
    return before, after
