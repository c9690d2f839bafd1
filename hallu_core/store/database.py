"""The one place that talks to the workspace database.

A workspace is a folder holding `hallu.db` (SQLite in WAL mode) and `artifacts/`.
Every write runs in one `BEGIN IMMEDIATE` transaction, so concurrent writers
(several annotators, a job and the dashboard) queue on the write lock instead
of failing, and a refused write leaves nothing half-stored.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from hallu_core.store.schema import MIGRATIONS
from hallu_core.store.types import (
    Checkpoint, Detection, Example, Generation, Job, Label, Run, Token,
    canonical_json, now, spans_from_json, spans_to_json,
)

log = logging.getLogger(__name__)
DB_NAME = "hallu.db"
COUNTED_TABLES = ("examples", "runs", "checkpoints", "generations", "detections", "labels", "jobs")


class StoreError(RuntimeError):
    """A workspace that cannot be opened or written, said plainly."""


class Store:
    def __init__(self, workspace: str | Path, *, timeout: float = 60.0):
        self.root = Path(workspace).expanduser().resolve()
        self.artifacts = self.root / "artifacts"
        try:
            self.artifacts.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create workspace {self.root}: {exc.strerror or exc}") from exc
        self.path = self.root / DB_NAME
        self._timeout = timeout
        self._local = threading.local()  # one connection per thread (Streamlit serves from many)
        self._migrate()

    # -- connection and transactions -------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None,
                                       check_same_thread=False)
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
                # REPLACE then fires the delete triggers that keep the summary tables right
                conn.execute("PRAGMA recursive_triggers = ON")
            except sqlite3.Error as exc:
                hint = "" if os.access(self.root, os.W_OK) else " (the workspace folder is read-only)"
                raise StoreError(f"cannot open workspace database {self.path}: {exc}{hint}") from exc
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing write: commits at the end, rolls back on any exception."""
        conn = self.conn
        if conn.in_transaction:  # nested: the outer transaction decides
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        try:
            yield conn
        except sqlite3.Error as exc:  # read-only folder, full disk, corrupt file: say where
            _rollback(conn)
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        except BaseException:
            _rollback(conn)
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                raise StoreError(f"cannot write to {self.path}: {exc}") from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _migrate(self) -> None:
        while self._schema_version() < len(MIGRATIONS):
            with self.transaction() as conn:
                # read again under the write lock: another process may have migrated meanwhile
                version = self._schema_version()
                if version == len(MIGRATIONS):
                    break
                for statement in statements(MIGRATIONS[version]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            log.info("workspace %s migrated to schema %d", self.root, version + 1)

    def _schema_version(self) -> int:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path} has schema version {version}; this Hallu knows "
                             f"{len(MIGRATIONS)}: upgrade Hallu")
        return version

    # -- paths: stored relative to the workspace so a workspace folder can move ---------
    def relpath(self, path: str | Path) -> str:
        path = Path(path).resolve()
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def abspath(self, stored: str | None) -> Path | None:
        return None if stored is None else (self.root / stored).resolve()

    # -- reads shared by everyone ----------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {t: self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in COUNTED_TABLES}

    def query(self, sql: str, params: Iterable | dict = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params if isinstance(params, dict) else tuple(params)).fetchall()

    # -- examples --------------------------------------------------------------------
    def add_examples(self, examples: Iterable[Example]) -> int:
        rows = [(e.id, e.dataset, e.prompt, e.source, e.reference, e.task, _js(e.meta)) for e in examples]
        with self.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO examples VALUES (?,?,?,?,?,?,?)", rows)
        return len(rows)

    def get_example(self, example_id: str) -> Example | None:
        row = self.conn.execute("SELECT * FROM examples WHERE id = ?", (example_id,)).fetchone()
        return _example(row) if row else None

    def examples(self, dataset: str | None = None) -> list[Example]:
        if dataset is None:
            rows = self.query("SELECT * FROM examples ORDER BY rowid")
        else:
            rows = self.query("SELECT * FROM examples WHERE dataset = ? ORDER BY rowid", (dataset,))
        return [_example(r) for r in rows]

    def datasets(self) -> list[str]:
        return [r[0] for r in self.query("SELECT DISTINCT dataset FROM examples ORDER BY dataset")]

    # -- runs, metrics and checkpoints -------------------------------------------------
    def add_run(self, run: Run) -> Run:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?)",
                         (run.id, run.name, run.base_model, run.kind, _js(run.config), run.status,
                          _js(run.meta), run.created_at))
        return run

    def set_run_status(self, run_id: str, status: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET status = ? WHERE id = ?", (status, run_id))

    def get_run(self, run_id: str) -> Run | None:
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run(row) if row else None

    def runs(self) -> list[Run]:
        return [_run(r) for r in self.query("SELECT * FROM runs ORDER BY created_at, id")]

    def log_metrics(self, run_id: str, step: int, metrics: dict[str, float]) -> None:
        rows = [(run_id, int(step), name, float(v)) for name, v in metrics.items() if v is not None]
        with self.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO run_metrics VALUES (?,?,?,?)", rows)

    def run_metrics(self, run_id: str) -> list[tuple[int, str, float]]:
        rows = self.query("SELECT step, name, value FROM run_metrics WHERE run_id = ? ORDER BY step, name",
                          (run_id,))
        return [(r["step"], r["name"], r["value"]) for r in rows]

    def add_checkpoint(self, ckpt: Checkpoint) -> Checkpoint:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO checkpoints VALUES (?,?,?,?,?,?,?)",
                         (ckpt.id, ckpt.run_id, ckpt.step, ckpt.name, ckpt.path, _js(ckpt.metrics),
                          ckpt.created_at))
        return ckpt

    def get_checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        row = self.conn.execute("SELECT * FROM checkpoints WHERE id = ?", (checkpoint_id,)).fetchone()
        return _checkpoint(row) if row else None

    def checkpoints(self, run_id: str | None = None) -> list[Checkpoint]:
        if run_id is None:
            rows = self.query("SELECT * FROM checkpoints ORDER BY run_id, step")
        else:
            rows = self.query("SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step", (run_id,))
        return [_checkpoint(r) for r in rows]

    # -- generations -----------------------------------------------------------------
    def add_generations(self, generations: Iterable[Generation]) -> int:
        """Insert new generations; ids already stored are kept as they are (content-addressed)."""
        rows = [(g.id, g.example_id, g.checkpoint_id, g.text, _js(g.decoding), g.decoding_name,
                 g.sample_index, _tokens_json(g.tokens), _js(g.meta), g.created_at) for g in generations]
        with self.transaction() as conn:
            # rowcount, not total_changes: the summary triggers' writes must not count
            return conn.executemany("INSERT OR IGNORE INTO generations VALUES (?,?,?,?,?,?,?,?,?,?)", rows).rowcount

    def existing_generation_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self.query(f"SELECT id FROM generations WHERE id IN ({marks})", chunk))
        return found

    def get_generation(self, generation_id: str) -> Generation | None:
        row = self.conn.execute("SELECT * FROM generations WHERE id = ?", (generation_id,)).fetchone()
        return _generation(row) if row else None

    def generations(self, checkpoint_id: str | None = None, example_id: str | None = None) -> list[Generation]:
        where, params = _where(checkpoint_id=checkpoint_id, example_id=example_id)
        return [_generation(r) for r in self.query(f"SELECT * FROM generations{where} ORDER BY rowid", params)]

    # -- detections ------------------------------------------------------------------
    def add_detections(self, detections: Iterable[Detection]) -> int:
        rows = [(d.generation_id, d.detector, d.config_hash, spans_to_json(d.spans), len(d.spans),
                 ",".join(sorted({s.type for s in d.spans})), float(d.response_score), d.created_at)
                for d in detections]
        with self.transaction() as conn:  # an upsert: the update trigger sees the old row
            conn.executemany(
                """INSERT INTO detections VALUES (?,?,?,?,?,?,?,?)
                   ON CONFLICT (generation_id, detector, config_hash) DO UPDATE SET spans = excluded.spans,
                   n_spans = excluded.n_spans, span_types = excluded.span_types,
                   response_score = excluded.response_score, created_at = excluded.created_at""", rows)
        return len(rows)

    def detections(self, generation_id: str) -> list[Detection]:
        rows = self.query("SELECT * FROM detections WHERE generation_id = ? ORDER BY detector", (generation_id,))
        return [_detection(r) for r in rows]

    def latest_detections(self, generation_id: str) -> list[Detection]:
        """Each detector's newest detection of the generation: the one that counts (hallu_core/store/latest.py)."""
        rows = self.query("SELECT d.* FROM detection_latest l JOIN detections d ON d.rowid = l.det_rowid "
                          "WHERE l.generation_id = ? ORDER BY d.detector", (generation_id,))
        return [_detection(r) for r in rows]

    def delete_detections(self, detector: str, config_hash: str) -> int:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM detections WHERE detector = ? AND config_hash = ?",
                                (detector, config_hash)).rowcount

    def detected_generation_ids(self, detector: str, config_hash: str) -> set[str]:
        rows = self.query("SELECT generation_id FROM detections WHERE detector = ? AND config_hash = ?",
                          (detector, config_hash))
        return {r[0] for r in rows}

    # -- labels ----------------------------------------------------------------------
    def save_label(self, label: Label) -> Label:
        """Create or replace one annotator's label of one generation (created_at is kept)."""
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO labels VALUES (?,?,?,?,?,?,?,?)
                   ON CONFLICT (generation_id, annotator) DO UPDATE SET spans = excluded.spans,
                   n_spans = excluded.n_spans, status = excluded.status, note = excluded.note,
                   updated_at = excluded.updated_at""",
                (label.generation_id, label.annotator, spans_to_json(label.spans), len(label.spans),
                 label.status, label.note, label.created_at, now()))
        return self.get_label(label.generation_id, label.annotator)

    def add_labels(self, labels: Iterable[Label]) -> int:
        labels = list(labels)
        with self.transaction():
            for label in labels:
                self.save_label(label)
        return len(labels)

    def get_label(self, generation_id: str, annotator: str) -> Label | None:
        row = self.conn.execute("SELECT * FROM labels WHERE generation_id = ? AND annotator = ?",
                                (generation_id, annotator)).fetchone()
        return _label(row) if row else None

    def labels(self, generation_id: str | None = None, annotator: str | None = None) -> list[Label]:
        where, params = _where(generation_id=generation_id, annotator=annotator)
        return [_label(r) for r in self.query(f"SELECT * FROM labels{where} ORDER BY rowid", params)]

    def delete_label(self, generation_id: str, annotator: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM labels WHERE generation_id = ? AND annotator = ?", (generation_id, annotator))

    def annotators(self) -> list[str]:
        return [r[0] for r in self.query("SELECT DISTINCT annotator FROM labels ORDER BY annotator")]

    # -- jobs ------------------------------------------------------------------------
    def add_job(self, job: Job) -> Job:
        with self.transaction() as conn:
            conn.execute("INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         (job.id, job.kind, _js(job.args), job.status, job.done, job.total, job.message,
                          job.log, job.pid, job.error, job.created_at, job.started_at, job.finished_at))
        return job

    def update_job(self, job_id: str, **fields) -> None:
        allowed = {"status", "done", "total", "message", "pid", "error", "started_at", "finished_at"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown job fields: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as conn:
            conn.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))

    def append_job_log(self, job_id: str, text: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE jobs SET log = log || ? WHERE id = ?", (text, job_id))

    def get_job(self, job_id: str) -> Job | None:
        row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs(self, limit: int = 50) -> list[Job]:
        return [_job(r) for r in self.query("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,))]


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


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:  # SQLite may already have rolled back (e.g. on SQLITE_FULL)
        conn.execute("ROLLBACK")


# -- row <-> record -------------------------------------------------------------------
def _js(value) -> str:
    return canonical_json(value if value is not None else {})


def _tokens_json(tokens: list[Token]) -> str:
    # compact rows [start, end, logprob, entropy]: a generation can hold hundreds of tokens
    return json.dumps([[t.start, t.end, round(t.logprob, 5), round(t.entropy, 5)] for t in tokens])


def _where(**filters) -> tuple[str, list]:
    used = {k: v for k, v in filters.items() if v is not None}
    if not used:
        return "", []
    return " WHERE " + " AND ".join(f"{k} = ?" for k in used), list(used.values())


def _example(r) -> Example:
    return Example(r["id"], r["dataset"], r["prompt"], r["source"], r["reference"], r["task"], json.loads(r["meta"]))


def _run(r) -> Run:
    return Run(r["id"], r["name"], r["base_model"], r["kind"], json.loads(r["config"]), r["status"],
               json.loads(r["meta"]), r["created_at"])


def _checkpoint(r) -> Checkpoint:
    return Checkpoint(r["id"], r["run_id"], r["step"], r["name"], r["path"], json.loads(r["metrics"]),
                      r["created_at"])


def _generation(r) -> Generation:
    tokens = [Token(*t) for t in json.loads(r["tokens"])]
    return Generation(r["id"], r["example_id"], r["checkpoint_id"], r["text"], json.loads(r["decoding"]),
                      r["decoding_name"], r["sample_index"], tokens, json.loads(r["meta"]), r["created_at"])


def _detection(r) -> Detection:
    return Detection(r["generation_id"], r["detector"], r["config_hash"], spans_from_json(r["spans"]),
                     r["response_score"], r["created_at"])


def _label(r) -> Label:
    return Label(r["generation_id"], r["annotator"], spans_from_json(r["spans"]), r["status"], r["note"],
                 r["created_at"], r["updated_at"])


def _job(r) -> Job:
    return Job(r["id"], r["kind"], json.loads(r["args"]), r["status"], r["done"], r["total"], r["message"],
               r["log"], r["pid"], r["error"], r["created_at"], r["started_at"], r["finished_at"])
