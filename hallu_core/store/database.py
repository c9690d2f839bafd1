"""The one place that reads and writes the workspace's records (examples, runs, checkpoints,
generations, detections, labels, jobs), over `Database`'s connection and transactions."""
from __future__ import annotations

from typing import Iterable

from hallu_core.store import codec
from hallu_core.store.connection import DB_NAME, Database, StoreError, marks
from hallu_core.store.shuffle import shuffle_key
from hallu_core.store.types import Checkpoint, Detection, Example, Generation, Job, Label, Run, now, spans_to_json

__all__ = ["DB_NAME", "AmbiguousRun", "Store", "StoreError"]


class AmbiguousRun(ValueError):
    """A run name that several runs share, given where one run is meant."""


class Store(Database):
    """A workspace: `Store(folder)` opens (and creates or migrates) its database."""

    # -- examples --------------------------------------------------------------------
    def add_examples(self, examples: Iterable[Example]) -> int:
        rows = [(e.id, e.dataset, e.prompt, e.source, e.reference, e.task, codec.json_text(e.meta)) for e in examples]
        with self.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO examples VALUES (?,?,?,?,?,?,?)", rows)
        return len(rows)

    def get_example(self, example_id: str) -> Example | None:
        row = self.conn.execute("SELECT * FROM examples WHERE id = ?", (example_id,)).fetchone()
        return codec.example(row) if row else None

    def examples(self, dataset: str | None = None) -> list[Example]:
        if dataset is None:
            rows = self.query("SELECT * FROM examples ORDER BY rowid")
        else:
            rows = self.query("SELECT * FROM examples WHERE dataset = ? ORDER BY rowid", (dataset,))
        return [codec.example(r) for r in rows]

    def datasets(self) -> list[str]:
        return [r[0] for r in self.query("SELECT DISTINCT dataset FROM examples ORDER BY dataset")]

    # -- runs, metrics and checkpoints -------------------------------------------------
    def add_run(self, run: Run) -> Run:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?)",
                         (run.id, run.name, run.base_model, run.kind, codec.json_text(run.config), run.status,
                          codec.json_text(run.meta), run.created_at))
        return run

    def set_run_status(self, run_id: str, status: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET status = ? WHERE id = ?", (status, run_id))

    def get_run(self, run_id: str) -> Run | None:
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return codec.run(row) if row else None

    def runs(self) -> list[Run]:
        return [codec.run(r) for r in self.query("SELECT * FROM runs ORDER BY created_at, id")]

    def run_id_of(self, ref: str) -> str | None:
        """The id of the run `ref` names, by its id or by its name (as every page names runs); None when no run
        has it. A name that several runs share is refused with their ids (AmbiguousRun)."""
        if self.get_run(ref):
            return ref
        ids = [r[0] for r in self.query("SELECT id FROM runs WHERE name = ? ORDER BY created_at, id", (ref,))]
        if len(ids) > 1:
            raise AmbiguousRun(f"{len(ids)} runs are named {ref!r}: {', '.join(ids)}; name one by its run id")
        return ids[0] if ids else None

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
                         (ckpt.id, ckpt.run_id, ckpt.step, ckpt.name, ckpt.path, codec.json_text(ckpt.metrics),
                          ckpt.created_at))
        return ckpt

    def get_checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        row = self.conn.execute("SELECT * FROM checkpoints WHERE id = ?", (checkpoint_id,)).fetchone()
        return codec.checkpoint(row) if row else None

    def checkpoints(self, run_id: str | None = None) -> list[Checkpoint]:
        if run_id is None:
            rows = self.query("SELECT * FROM checkpoints ORDER BY run_id, step")
        else:
            rows = self.query("SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step", (run_id,))
        return [codec.checkpoint(r) for r in rows]

    # -- generations -----------------------------------------------------------------
    def add_generations(self, generations: Iterable[Generation]) -> int:
        """Insert new generations; ids already stored are kept as they are (content-addressed)."""
        rows = [(g.id, g.example_id, g.checkpoint_id, g.text, codec.json_text(g.decoding), g.decoding_name,
                 g.sample_index, codec.tokens_json(g.tokens), codec.json_text(g.meta), g.created_at,
                 shuffle_key(g.id)) for g in generations]
        with self.transaction() as conn:
            # rowcount, not total_changes: the summary triggers' writes must not count
            return conn.executemany(
                "INSERT OR IGNORE INTO generations (id, example_id, checkpoint_id, text, decoding, decoding_name, "
                "sample_index, tokens, meta, created_at, shuffle_key) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows).rowcount

    def existing_generation_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            found.update(r[0] for r in self.query(f"SELECT id FROM generations WHERE id IN ({marks(chunk)})", chunk))
        return found

    def get_generation(self, generation_id: str) -> Generation | None:
        row = self.conn.execute("SELECT * FROM generations WHERE id = ?", (generation_id,)).fetchone()
        return codec.generation(row) if row else None

    def generations(self, checkpoint_id: str | None = None, example_id: str | None = None) -> list[Generation]:
        where, params = codec.where(checkpoint_id=checkpoint_id, example_id=example_id)
        return [codec.generation(r) for r in self.query(f"SELECT * FROM generations{where} ORDER BY rowid", params)]

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
        return [codec.detection(r) for r in rows]

    def latest_detections(self, generation_id: str) -> list[Detection]:
        """Each detector's newest detection of the generation: the one that counts (hallu_core/store/latest.py)."""
        rows = self.query("SELECT d.* FROM detection_latest l JOIN detections d ON d.rowid = l.det_rowid "
                          "WHERE l.generation_id = ? ORDER BY d.detector", (generation_id,))
        return [codec.detection(r) for r in rows]

    def delete_detections(self, detector: str, config_hash: str) -> int:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM detections WHERE detector = ? AND config_hash = ?",
                                (detector, config_hash)).rowcount

    def detected_generation_ids(self, detector: str, config_hash: str) -> set[str]:
        rows = self.query("SELECT generation_id FROM detections WHERE detector = ? AND config_hash = ?",
                          (detector, config_hash))
        return {r[0] for r in rows}

    # -- labels ----------------------------------------------------------------------
    def save_label(self, label: Label, derived_selection: bool = False) -> Label:
        """Create or replace one annotator's label of one generation (created_at and the first recorded
        selection are kept, unless the selection is `derived` from other labels; once assisted, a label stays
        assisted)."""
        selection = "excluded.selection" if derived_selection else "COALESCE(labels.selection, excluded.selection)"
        with self.transaction() as conn:
            conn.execute(
                f"""INSERT INTO labels (generation_id, annotator, spans, n_spans, status, note, created_at,
                   updated_at, selection, assisted) VALUES (?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT (generation_id, annotator) DO UPDATE SET spans = excluded.spans,
                   n_spans = excluded.n_spans, status = excluded.status, note = excluded.note,
                   updated_at = excluded.updated_at, selection = {selection},
                   assisted = MAX(labels.assisted, excluded.assisted)""",
                (label.generation_id, label.annotator, spans_to_json(label.spans), len(label.spans),
                 label.status, label.note, label.created_at, now(), label.selection, int(label.assisted)))
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
        return codec.label(row) if row else None

    def labels(self, generation_id: str | None = None, annotator: str | None = None) -> list[Label]:
        where, params = codec.where(generation_id=generation_id, annotator=annotator)
        return [codec.label(r) for r in self.query(f"SELECT * FROM labels{where} ORDER BY rowid", params)]

    def delete_label(self, generation_id: str, annotator: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM labels WHERE generation_id = ? AND annotator = ?", (generation_id, annotator))

    def annotators(self) -> list[str]:
        return [r[0] for r in self.query("SELECT DISTINCT annotator FROM labels ORDER BY annotator")]

    # -- jobs ------------------------------------------------------------------------
    def add_job(self, job: Job) -> Job:
        with self.transaction() as conn:
            conn.execute("INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         (job.id, job.kind, codec.json_text(job.args), job.status, job.done, job.total, job.message,
                          job.log, job.pid, job.error, job.created_at, job.started_at, job.finished_at,
                          job.pid_started_at))
        return job

    def update_job(self, job_id: str, **fields) -> None:
        allowed = {"status", "done", "total", "message", "pid", "pid_started_at", "error", "started_at",
                   "finished_at"}
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
        return codec.job(row) if row else None

    def jobs(self, limit: int = 50) -> list[Job]:
        return [codec.job(r) for r in self.query("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,))]
