"""Which outputs' labels and newest detections changed, in write order (schema migration 10).

    change_log  seq -> generation_id, source ("label:<annotator>" or "detector:<name>")

A view that keeps figures over many outputs between writes (the Detectors page's counts at 166,000
labels: hallu_core/detection/live_counts.py) asks what changed since the last `seq` it saw and reads
those outputs again, instead of every output after any write. Triggers on `labels` and on
`detection_latest` (which follows every detection written, re-run or deleted) append a row in the
same transaction as the write. The log keeps its newest KEEP rows (a write past every TRIM-th row
deletes older ones); a reader that fell further behind, or that finds the "*" row a rebuild writes
(`hallu repair` rewrites detection_latest with its triggers off), reads everything again.
"""
from __future__ import annotations

from hallu_core.store.sides import trigger

KEEP, TRIM = 200_000, 20_000
EVERYTHING = "*"

TABLE = """
CREATE TABLE change_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, generation_id TEXT NOT NULL, source TEXT NOT NULL
);
CREATE INDEX change_log_source ON change_log(source, seq);
"""


def _logged(name: str, table: str, kind: str, column: str) -> str:
    """Triggers logging each row of `table` written as (its generation, "<kind>:<its column>"). An update
    logs the new row, and the old one too should its key (generation and column) change."""
    def log(r: str) -> str:
        return (f"INSERT INTO change_log (generation_id, source) "
                f"VALUES ({r}.generation_id, '{kind}:' || {r}.{column});")
    return "".join([
        trigger(f"log_{name}_insert", f"AFTER INSERT ON {table}", log("NEW")),
        trigger(f"log_{name}_delete", f"AFTER DELETE ON {table}", log("OLD")),
        trigger(f"log_{name}_update", f"AFTER UPDATE ON {table}", log("NEW")),
        trigger(f"log_{name}_rekey", f"AFTER UPDATE OF generation_id, {column} ON {table}", log("OLD"),
                when=f"OLD.generation_id IS NOT NEW.generation_id OR OLD.{column} IS NOT NEW.{column}"),
    ])


TRIGGERS = (_logged("label", "labels", "label", "annotator")
            + _logged("latest", "detection_latest", "detector", "detector")
            + trigger("log_trim", "AFTER INSERT ON change_log",
                      f"DELETE FROM change_log WHERE seq <= NEW.seq - {KEEP};", when=f"NEW.seq % {TRIM} = 0"))
MIGRATION = TABLE + TRIGGERS
# a rebuild writes derived tables with their triggers off: whoever keeps figures reads everything again
LOG_EVERYTHING = f"INSERT INTO change_log (generation_id, source) VALUES ('', '{EVERYTHING}');"


def newest(store) -> int:
    """The seq of the newest change (0: none yet)."""
    return store.query("SELECT COALESCE(MAX(seq), 0) FROM change_log")[0][0]


def changed_since(store, seq: int, sources: list[str]) -> tuple[int, set[str] | None]:
    """(newest seq, the outputs whose `sources` changed after `seq`), or (newest, None) when the log
    cannot say (rows trimmed away, a rebuild since, or a workspace restored from an older copy): the
    caller reads everything again."""
    oldest, top = store.query("SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM change_log")[0]
    if top == seq:
        return top, set()
    if top < seq or seq < oldest - 1:
        return top, None
    wanted = [*sources, EVERYTHING]  # (this module is part of the schema: it cannot import connection's `marks`)
    rows = store.query(f"SELECT DISTINCT generation_id, source = ? FROM change_log WHERE seq > ? AND seq <= ? "
                       f"AND source IN ({', '.join('?' * len(wanted))})", [EVERYTHING, seq, top, *wanted])
    if any(everything for _, everything in rows):
        return top, None
    return top, {gid for gid, _ in rows}
