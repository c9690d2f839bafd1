"""Compare's per-side columns: every score of one (judge, side) in a few hundred rows (schema migration 6).

    example_numbers (no INTEGER PRIMARY KEY, example_id)   a small, stable number per prompt
    side_vectors    (source_kind, source, checkpoint_id, decoding_name, chunk) -> data

`side_scores` (hallu_core/store/sides.py) holds one row per (judge, side, sample, prompt); pairing two
sides there is a join of 100,000 rows and SQLite spends about a microsecond on each, plus as
much again per aggregate. Here the rows Compare pairs (sample 0) are packed by prompt number:
prompt `no` lives in chunk `no >> 6` as one fixed-width record (RECORD_WIDTH characters)

    '|' slot (2 digits, no & 63) n_spans (5 digits) has_score (1) score ('%+.15e', 22 characters)

so a side is read as ~1,600 strings and decoded and paired in numpy (compare.py). Triggers
on side_scores keep it, in the same transaction: whatever keeps side_scores right (newest
detection per generation and detector, done labels, generations added, moved or deleted)
keeps this right. An insert first drops a record of the same slot, so a REPLACE without
recursive triggers cannot leave two. Scores are stored with 16 significant digits (and
clamped to |score| in [1e-99, 9e99]), enough for averages and for ordering by score delta.
"""
from __future__ import annotations

from hallu_core.store.sides import trigger

CHUNK_BITS = 6  # 64 prompts per chunk: a row of at most 64 x 31 characters stays on its page
SLOT_MASK = (1 << CHUNK_BITS) - 1  # a slot is written in 2 digits
RECORD_WIDTH = 31
SIDE = "source_kind, source, checkpoint_id, decoding_name"

TABLES = f"""
CREATE TABLE example_numbers (no INTEGER PRIMARY KEY, example_id TEXT NOT NULL UNIQUE);
CREATE TABLE side_vectors (
    source_kind TEXT NOT NULL, source TEXT NOT NULL, checkpoint_id TEXT NOT NULL, decoding_name TEXT NOT NULL,
    chunk INTEGER NOT NULL, data TEXT NOT NULL,
    UNIQUE ({SIDE}, chunk)
);
"""


def _number(example_id: str) -> str:
    return f"(SELECT no FROM example_numbers WHERE example_id = {example_id})"


def record(no: str, n_spans: str, score: str) -> str:
    """SQL for one record (see the module doc) of prompt number `no`."""
    clamped = f"CASE WHEN abs({score}) < 1e-99 THEN 0.0 ELSE max(-9e99, min(9e99, {score})) END"
    return (f"'|' || printf('%02d%05d', {no} & {SLOT_MASK}, max(0, min(99999, {n_spans}))) || "
            f"CASE WHEN {score} IS NULL THEN '0+0.000000000000000e+00' ELSE '1' || printf('%+.15e', {clamped}) END")


def _where(r: str) -> str:
    """R's chunk row; none for a sample other than 0 (not packed: Compare pairs sample 0)."""
    return (f"{r}.sample_index = 0 AND source_kind = {r}.source_kind AND source = {r}.source AND "
            f"checkpoint_id = {r}.checkpoint_id AND decoding_name = {r}.decoding_name AND "
            f"chunk = {_number(f'{r}.example_id')} >> {CHUNK_BITS}")


def _drop(r: str) -> str:
    """Cut the record of R's prompt out of its chunk ('|' starts records only, so '|' + slot is unique)."""
    at = f"instr(data, '|' || printf('%02d', {_number(f'{r}.example_id')} & {SLOT_MASK}))"
    return (f"UPDATE side_vectors SET data = substr(data, 1, {at} - 1) || substr(data, {at} + {RECORD_WIDTH}) "
            f"WHERE {_where(r)} AND {at} > 0;")


# No statement here may meet a conflict: a trigger's statements take the outer statement's conflict
# algorithm, and side_scores is written with INSERT OR REPLACE (an ignored number would be replaced).
_ADD = ("INSERT INTO example_numbers (example_id) SELECT NEW.example_id "
        "WHERE NEW.sample_index = 0 AND NOT EXISTS (SELECT 1 FROM example_numbers WHERE example_id = NEW.example_id);"
        + _drop("NEW")
        + f"UPDATE side_vectors SET data = data || {record(_number('NEW.example_id'), 'NEW.n_spans', 'NEW.score')} "
          f"WHERE {_where('NEW')};"
        + f"INSERT INTO side_vectors ({SIDE}, chunk, data) SELECT NEW.source_kind, NEW.source, NEW.checkpoint_id, "
          f"NEW.decoding_name, n.no >> {CHUNK_BITS}, {record('n.no', 'NEW.n_spans', 'NEW.score')} "
          "FROM example_numbers n WHERE NEW.sample_index = 0 AND n.example_id = NEW.example_id "
          f"AND NOT EXISTS (SELECT 1 FROM side_vectors WHERE {_where('NEW')});")

TRIGGERS = "".join([
    trigger("vectors_insert", "AFTER INSERT ON side_scores", _ADD),
    trigger("vectors_delete", "AFTER DELETE ON side_scores",
            _drop("OLD") + f"DELETE FROM side_vectors WHERE {_where('OLD')} AND data = '';"),
    trigger("vectors_update", "AFTER UPDATE ON side_scores",
            _drop("OLD") + f"DELETE FROM side_vectors WHERE {_where('OLD')} AND data = '';" + _ADD),
])

# prompts numbered in id order; then one row per (side, chunk) from side_scores' sample 0, records in any order
BACKFILL = ("INSERT INTO example_numbers (example_id) SELECT id FROM examples ORDER BY id;"
            "INSERT OR IGNORE INTO example_numbers (example_id) SELECT DISTINCT example_id FROM side_scores s "
            "WHERE sample_index = 0 AND NOT EXISTS (SELECT 1 FROM examples e WHERE e.id = s.example_id) ORDER BY 1;"
            f"INSERT INTO side_vectors ({SIDE}, chunk, data) SELECT {SIDE}, n.no >> {CHUNK_BITS}, "
            f"group_concat({record('n.no', 's.n_spans', 's.score')}, '') FROM side_scores s "
            f"JOIN example_numbers n ON n.example_id = s.example_id WHERE s.sample_index = 0 "
            f"GROUP BY {SIDE}, n.no >> {CHUNK_BITS};")

MIGRATION = TABLES + BACKFILL + TRIGGERS
