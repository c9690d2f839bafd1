"""Run a detector over a workspace's generations and store what it finds.

Results are keyed by (generation, detector, config hash), so a rerun only detects
what is new. The `samples` a reference-free detector compares against are the
other generations of the same example from the same checkpoint (sampling runs);
when there are none, the other generations of the example (other checkpoints or
imported models), which is what RAGTruth-style imports offer.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple, Sequence

from hallu_core.detection.detectors.base import DetectItem, no_progress
from hallu_core.detection.detectors.registry import get_detector
from hallu_core.store.database import Store, marks
from hallu_core.store.types import Detection, Example, Generation, now

log = logging.getLogger(__name__)


def _scope(run_id: str | None, checkpoint_ids: list[str] | None) -> tuple[list[str], list]:
    """Conditions on generations `g` joined to their checkpoint `c`: those of a run / of some checkpoints."""
    where, params = ["true"], []
    if run_id:
        where.append("c.run_id = ?")
        params.append(run_id)
    if checkpoint_ids:
        where.append(f"g.checkpoint_id IN ({marks(checkpoint_ids)})")
        params += list(checkpoint_ids)
    return where, params


def pending_generation_ids(store: Store, detector: str, config_hash: str, run_id: str | None = None,
                           checkpoint_ids: list[str] | None = None) -> list[str]:
    where, params = _scope(run_id, checkpoint_ids)
    rows = store.query(f"""
        SELECT g.id FROM generations g JOIN checkpoints c ON c.id = g.checkpoint_id
        LEFT JOIN detections d ON d.generation_id = g.id AND d.detector = ? AND d.config_hash = ?
        WHERE d.generation_id IS NULL AND {' AND '.join(where)} ORDER BY g.rowid""", [detector, config_hash, *params])
    return [r[0] for r in rows]


def make_newest(store: Store, detector: str, config_hash: str, run_id: str | None = None,
                checkpoint_ids: list[str] | None = None) -> int:
    """This config's stored results become the newest of their outputs in scope again; returns how many moved.

    A rerun reuses what a config detected before (config A, then B, then A again stores nothing new),
    yet the rerun is the most recent word on those outputs: the rows it reuses get a created_at after
    the row that counts now (`detection_latest`), and the triggers move every derived count with them."""
    where, params = _scope(run_id, checkpoint_ids)
    newest_at = ("(SELECT n.created_at FROM detection_latest l JOIN detections n ON n.rowid = l.det_rowid "
                 "WHERE l.generation_id = detections.generation_id AND l.detector = detections.detector)")
    with store.transaction() as conn:
        return conn.execute(f"""
            UPDATE detections SET created_at = MAX(?, {newest_at} + 1e-6)
            WHERE detector = ? AND config_hash = ?
              AND generation_id IN (SELECT g.id FROM generations g JOIN checkpoints c ON c.id = g.checkpoint_id
                                    WHERE {' AND '.join(where)})
              AND NOT EXISTS (SELECT 1 FROM detection_latest l WHERE l.generation_id = detections.generation_id
                              AND l.detector = detections.detector AND l.det_rowid = detections.rowid)""",
                            [now(), detector, config_hash, *params]).rowcount


def question_of(example: Example) -> str | None:
    """What the output answers: an imported row's own question (None where its task has none, as
    RAGTruth's summaries, whose prompt is only the task's instruction), else the example's prompt."""
    return example.meta["question"] if "question" in example.meta else example.prompt


def detect_item(example: Example, generation: Generation, siblings: Sequence[Generation | Sibling]) -> DetectItem:
    """A detector's input for one output: the one builder, for the workspace and for file mode."""
    others = [s for s in siblings if s.id != generation.id]
    same_checkpoint = [s.text for s in others if s.checkpoint_id == generation.checkpoint_id]
    return DetectItem(id=generation.id, output=generation.text, source=example.source,
                      reference=example.reference, question=question_of(example), task=example.task,
                      tokens=generation.tokens, samples=same_checkpoint or [s.text for s in others])


class Sibling(NamedTuple):
    """Another output of the same prompt, as much of it as a detector reads (no tokens to parse)."""
    id: str
    checkpoint_id: str
    text: str


def detect_items(store: Store, generations: list[Generation]) -> list[DetectItem]:
    examples = {g.example_id: store.get_example(g.example_id) for g in generations}
    siblings: dict[str, list[Sibling]] = {example_id: [] for example_id in examples}
    ids = list(examples)
    for start in range(0, len(ids), 500):  # SQLite caps the parameters of one statement
        chunk = ids[start:start + 500]
        for example_id, *sibling in store.query(
                "SELECT example_id, id, checkpoint_id, text FROM generations "
                f"WHERE example_id IN ({marks(chunk)}) ORDER BY rowid", chunk):
            siblings[example_id].append(Sibling(*sibling))
    return [detect_item(examples[g.example_id], g, siblings[g.example_id]) for g in generations]


def map_dir(store: Store) -> Path:
    """Where a workspace keeps the calibration maps refitted on its own labels (workspace_calibration.py)."""
    return store.artifacts / "calibration"


def workspace_detector(store: Store, name: str, **config):
    """A detector as this workspace runs it: a calibration map refitted on its own labels wins."""
    detector = get_detector(name, **config)
    detector.calibration_dir = map_dir(store)
    return detector


def run_detection(store: Store, detector_name: str, *, run_id: str | None = None,
                  checkpoint_ids: list[str] | None = None, config: dict | None = None,
                  batch_size: int = 128, progress=None) -> dict:
    """Detect on every generation (of a run / checkpoints) that has no result for this detector config; the
    results it already has become the newest again (`make_newest`)."""
    progress = progress or no_progress
    detector = workspace_detector(store, detector_name, **(config or {}))  # a map refitted on this workspace's labels wins
    config_hash = detector.config_hash  # once: it hashes the weights of trained detectors
    todo = pending_generation_ids(store, detector_name, config_hash, run_id, checkpoint_ids)
    flagged = 0
    for start in range(0, len(todo), batch_size):
        batch = [store.get_generation(i) for i in todo[start:start + batch_size]]
        results = detector.detect(detect_items(store, batch),
                                  lambda d, t, m: progress(start + d, len(todo), m))
        store.add_detections(Detection(g.id, detector_name, config_hash, r.spans, r.response_score)
                             for g, r in zip(batch, results))
        flagged += sum(bool(r.spans) for r in results)
        progress(start + len(batch), len(todo), f"{detector_name}: {start + len(batch)}/{len(todo)}")
    # after the new rows: also one that a clock set back left older than another config's row
    reused = make_newest(store, detector_name, config_hash, run_id, checkpoint_ids)
    log.info("%s: %d generations detected, %d flagged, %d earlier results made the newest again",
             detector_name, len(todo), flagged, reused)
    return {"detector": detector_name, "config_hash": config_hash, "detected": len(todo),
            "flagged": flagged, "reused": reused}
