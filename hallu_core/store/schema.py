"""Versioned schema migrations, applied in order when a workspace opens.

Spans, tokens and configs are JSON columns; the columns the dashboard filters or
aggregates on (n_spans, span_types, response_score, status) are plain SQL so that
big workspaces aggregate in the database, not in pandas. Migration 4 adds summary tables
kept by triggers (hallu_core/store/summary.py), so the dashboard's per-checkpoint aggregates are
constant-time. Migration 5 keeps the newest detection per (generation, detector) in
`detection_latest` (hallu_core/store/latest.py) and Compare's per-side scores in `side_scores`
(hallu_core/store/sides.py), both by triggers. Migration 6 packs `side_scores` per side into
`side_vectors` (hallu_core/store/side_vectors.py), kept by triggers on it, so that Compare reads a
side in a few hundred rows and pairs two sides in numpy.
"""
import json
import sqlite3

from hallu_core.store import change_log, score_summary, shuffle, side_vectors, summary
from hallu_core.store.score_summary import MIGRATION as SCORE_SUMMARY_MIGRATION
from hallu_core.store.side_vectors import MIGRATION as SIDE_VECTORS_MIGRATION
from hallu_core.store.summary import MIGRATION as SUMMARY_MIGRATION, MIGRATION_5 as SUMMARY_MIGRATION_5

MIGRATIONS: list[str] = [
    # 1: the data model of DESIGN.md
    """
    CREATE TABLE examples (
        id TEXT PRIMARY KEY,
        dataset TEXT NOT NULL,
        prompt TEXT NOT NULL,
        source TEXT,
        reference TEXT,
        task TEXT NOT NULL DEFAULT '',
        meta TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX examples_dataset ON examples(dataset);
    CREATE INDEX examples_task ON examples(task);

    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        base_model TEXT NOT NULL,
        kind TEXT NOT NULL,
        config TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    );

    CREATE TABLE run_metrics (
        run_id TEXT NOT NULL REFERENCES runs(id),
        step INTEGER NOT NULL,
        name TEXT NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (run_id, name, step)
    );

    CREATE TABLE checkpoints (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id),
        step INTEGER NOT NULL,
        name TEXT NOT NULL,
        path TEXT,
        metrics TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        UNIQUE (run_id, step)
    );

    CREATE TABLE generations (
        id TEXT PRIMARY KEY,
        example_id TEXT NOT NULL REFERENCES examples(id),
        checkpoint_id TEXT NOT NULL REFERENCES checkpoints(id),
        text TEXT NOT NULL,
        decoding TEXT NOT NULL DEFAULT '{}',
        decoding_name TEXT NOT NULL DEFAULT '',
        sample_index INTEGER NOT NULL DEFAULT 0,
        tokens TEXT NOT NULL DEFAULT '[]',
        meta TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    );
    CREATE INDEX generations_checkpoint ON generations(checkpoint_id, decoding_name);
    CREATE INDEX generations_example ON generations(example_id);

    CREATE TABLE detections (
        generation_id TEXT NOT NULL REFERENCES generations(id),
        detector TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        spans TEXT NOT NULL DEFAULT '[]',
        n_spans INTEGER NOT NULL,
        span_types TEXT NOT NULL DEFAULT '',
        response_score REAL NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (generation_id, detector, config_hash)
    );
    CREATE INDEX detections_detector ON detections(detector, generation_id);

    CREATE TABLE labels (
        generation_id TEXT NOT NULL REFERENCES generations(id),
        annotator TEXT NOT NULL,
        spans TEXT NOT NULL DEFAULT '[]',
        n_spans INTEGER NOT NULL,
        status TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (generation_id, annotator)
    );
    CREATE INDEX labels_annotator ON labels(annotator);

    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        args TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT '',
        log TEXT NOT NULL DEFAULT '',
        pid INTEGER,
        error TEXT,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    );
    """,
    # 2: an annotator's accept / reject decision on each detector span (the Label page)
    """
    CREATE TABLE label_decisions (
        generation_id TEXT NOT NULL,
        annotator TEXT NOT NULL,
        detector TEXT NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        decision TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (generation_id, annotator, detector, start, "end")
    );
    """,
    # 3: covering indexes for the dashboard's aggregates (500k generations in about a second)
    """
    CREATE INDEX generations_cover ON generations(checkpoint_id, decoding_name, sample_index, id, example_id);
    CREATE INDEX detections_cover ON detections(generation_id, detector, n_spans, response_score, span_types);
    CREATE INDEX labels_cover ON labels(generation_id, annotator, status, n_spans);
    """,
    # 4: per-(checkpoint, decoding, knowledge[, source]) counts kept by triggers, back-filled
    SUMMARY_MIGRATION,
    # 5: the newest detection per (generation, detector) is the one that counts; Compare's per-side scores
    SUMMARY_MIGRATION_5,
    # 6: Compare's per-side columns (side_vectors), packed from side_scores and kept by triggers on it
    SIDE_VECTORS_MIGRATION,
    # 7: when a job's process started, so that a pid reused by another process is not taken for the job's
    "ALTER TABLE jobs ADD COLUMN pid_started_at REAL;",
    # 8: how a label's item was chosen (a random draw, score order, a link, an import: NULL = not recorded) and
    # whether its annotator saw detector suggestions, so rates and agreement can tell blind labels from the rest;
    # `gold` on imported outputs is what an import of RAGTruth labels stored
    """
    ALTER TABLE labels ADD COLUMN selection TEXT;
    ALTER TABLE labels ADD COLUMN assisted INTEGER NOT NULL DEFAULT 0;
    UPDATE labels SET selection = 'import' WHERE annotator = 'gold' AND generation_id IN (
        SELECT g.id FROM generations g JOIN checkpoints c ON c.id = g.checkpoint_id JOIN runs r ON r.id = c.run_id
        WHERE r.kind = 'import');
    """,
    # 9: each detector's newest scores summed per (checkpoint, decoding, knowledge), for rate estimates
    SCORE_SUMMARY_MIGRATION,
    # 10: which outputs' labels and newest detections changed, so a view reads only those again
    change_log.MIGRATION,
    # 11: each output's fixed pseudo-random key, indexed, for the Label page's random order
    shuffle.MIGRATION,
]


def statements(script: str) -> list[str]:
    """The statements of an SQL script; a trigger's body (`BEGIN ...; ...; END`) stays whole."""
    out, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                out.append(pending.strip())
            pending = ""
    if pending.strip(" \n\t;"):
        out.append(pending.strip())
    return out


# What users write (and import, train, generate, detect, label); every other table is derived from them by
# triggers, or logs their changes. A new table goes in one of the three lists (tests/test_repair.py fails until
# it does); a derived one also gets its back-fill in REBUILD and its recount in repair.py.
BASE = ("examples", "runs", "run_metrics", "checkpoints", "generations", "detections", "labels", "jobs",
        "label_decisions")
DERIVED = ("example_knowledge", "generation_summary", "source_summary", "detection_latest", "side_scores",
           "example_numbers", "side_vectors", "score_summary")
LOGS = ("change_log",)  # appended by triggers; a rebuild tells its readers to read everything again
REBUILD = summary.BACKFILL_5 + side_vectors.BACKFILL + score_summary.BACKFILL  # fills every DERIVED table


def rebuild(store) -> None:
    """Recompute every derived table from the base tables, in one transaction (`hallu repair`; a repair after
    raw writes that bypassed triggers). Triggers on derived tables are off meanwhile: they would replay each
    deleted and back-filled row into the tables that REBUILD fills anyway."""
    with store.transaction() as conn:
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                                "(SELECT value FROM json_each(?))", (json.dumps(DERIVED),)).fetchall()
        for name, _ in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        for table in DERIVED:
            conn.execute(f"DELETE FROM {table}")
        for statement in statements(REBUILD):
            conn.execute(statement)
        for _, sql in triggers:
            conn.execute(sql)
        conn.execute(shuffle.REPAIR)  # a derived column of a base table
        conn.execute(change_log.LOG_EVERYTHING)
