"""The newest detection of each (generation, detector): the one row that counts (schema migration 5).

A detector re-run with another configuration stores a second row for the same output (the
primary key is generation_id, detector, config_hash). Rates, comparisons, filters and
evaluations count only the newest: the greatest `created_at`, ties going to the row stored
last (the greatest rowid). `detection_latest` holds that row's key and the columns the
dashboard reads, plus its span count per type (the summary's columns; an `unknown` type
is a span without one), kept by triggers on `detections` in the same transaction as any write.
Join it on (generation_id, detector); for the spans join `detections` on rowid = det_rowid.
"""
from __future__ import annotations

from hallu_core.store.types import SPAN_TYPES

COPIED = ("config_hash", "n_spans", "response_score", "span_types")

TABLE = f"""
CREATE TABLE detection_latest (
    generation_id TEXT NOT NULL, detector TEXT NOT NULL, det_rowid INTEGER NOT NULL,
    config_hash TEXT NOT NULL, n_spans INTEGER NOT NULL, response_score REAL NOT NULL, span_types TEXT NOT NULL,
    {", ".join(f"{t} INTEGER NOT NULL" for t in SPAN_TYPES)},
    PRIMARY KEY (generation_id, detector)
) WITHOUT ROWID;
-- Inspect's "detector X, score >= s, type T" filter and its score sort walk this range, not every output
CREATE INDEX detection_latest_score ON detection_latest(detector, response_score, span_types, n_spans);
"""

_SPAN_TYPE = "COALESCE(json_extract(j.value, '$.type'), 'unknown')"


def _rows_of(where: str) -> str:
    """SELECT of detection_latest rows for the detections matching `where` (alias d), spans parsed once."""
    types = ", ".join(f"COALESCE(SUM(j.key IS NOT NULL AND {_SPAN_TYPE} = '{t}'), 0)" for t in SPAN_TYPES)
    copied = ", ".join(f"d.{c}" for c in COPIED)
    return (f"SELECT d.generation_id, d.detector, d.rowid, {copied}, {types} "
            f"FROM detections d LEFT JOIN json_each(CASE WHEN d.n_spans > 0 THEN d.spans END) j "
            f"WHERE {where} GROUP BY d.rowid")


def _newest_rowid(gid: str, detector: str) -> str:
    return (f"(SELECT rowid FROM detections WHERE generation_id = {gid} AND detector = {detector} "
            f"ORDER BY created_at DESC, rowid DESC LIMIT 1)")


_UPSERT = ("ON CONFLICT (generation_id, detector) DO UPDATE SET det_rowid = excluded.det_rowid, "
           + ", ".join(f"{c} = excluded.{c}" for c in (*COPIED, *SPAN_TYPES)))


def refresh(gid: str, detector: str) -> str:
    """Statements that make the key's row the newest detection again, or remove it when none is left."""
    return (f"INSERT INTO detection_latest {_rows_of(f'd.rowid = {_newest_rowid(gid, detector)}')} {_UPSERT};"
            f"DELETE FROM detection_latest WHERE generation_id = {gid} AND detector = {detector} "
            f"AND NOT EXISTS (SELECT 1 FROM detections WHERE generation_id = {gid} AND detector = {detector});")


def on_insert() -> str:
    """A new row is usually the newest: then it replaces the key's row; an older one changes nothing.

    Read from NEW itself (its spans parsed once, only when it has any), not looked up again."""
    newer = ("SELECT 1 FROM detections o WHERE o.generation_id = NEW.generation_id AND o.detector = NEW.detector "
             "AND (o.created_at > NEW.created_at OR (o.created_at = NEW.created_at AND o.rowid > NEW.rowid))")
    counts = ", ".join(f"COALESCE(SUM(t = '{t}'), 0) AS {t}" for t in SPAN_TYPES)
    types = (f"(SELECT {counts} FROM (SELECT COALESCE(json_extract(value, '$.type'), 'unknown') AS t "
             "FROM json_each(CASE WHEN NEW.n_spans > 0 THEN NEW.spans END))) ts")
    copied = ", ".join(f"NEW.{c}" for c in COPIED)
    return (f"INSERT INTO detection_latest SELECT NEW.generation_id, NEW.detector, NEW.rowid, {copied}, "
            f"{', '.join(f'ts.{t}' for t in SPAN_TYPES)} FROM {types} WHERE NOT EXISTS ({newer}) {_UPSERT};")


def on_delete() -> str:
    return refresh("OLD.generation_id", "OLD.detector")


def on_update() -> str:
    return refresh("OLD.generation_id", "OLD.detector") + refresh("NEW.generation_id", "NEW.detector")


NEWEST = ("NOT EXISTS (SELECT 1 FROM detections o WHERE o.generation_id = d.generation_id AND o.detector = d.detector "
          "AND (o.created_at > d.created_at OR (o.created_at = d.created_at AND o.rowid > d.rowid)))")
# in key order: a million rows inserted at random places in the b-tree take several times longer
BACKFILL = f"INSERT INTO detection_latest SELECT * FROM ({_rows_of(NEWEST)}) WHERE true ORDER BY 1, 2;"
