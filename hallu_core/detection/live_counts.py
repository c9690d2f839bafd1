"""A detector's ThresholdCounts against one annotator's labels, kept between writes (the Detectors page).

Reading every labeled pair's spans took seconds a detector at 166,000 labels (the joins and the JSON),
so the page's first view after any write (one label saved) took 20-30 s. Here each pair's part of the
counts (threshold_counts.Pair) is kept, and a refresh asks the store's change log (store/change_log.py)
which outputs' labels by the annotator or newest detections by the detector changed since it last looked:
only those are read again (a pair whose label or detection is gone drops out), and the counts are
assembled again only then. Any write that changes what is measured (a relabel, a label drafted or
deleted, a detector re-run, an A/B/A rerun) logs its outputs, so the counts always equal
`ThresholdCounts.from_pairs(evaluation.labeled_pairs(...))` (tests/test_live_counts.py).
"""
from __future__ import annotations

import threading

from hallu_core.detection.threshold_counts import Pair, ThresholdCounts
from hallu_core.store import change_log
from hallu_core.store.connection import marks
from hallu_core.store.database import Store
from hallu_core.store.run_kinds import TRAINING_STEP_SQL
from hallu_core.store.types import spans_from_json

_PAIRS = """SELECT l.generation_id, g.rowid, g.checkpoint_id, d.spans, l.spans
    FROM labels l JOIN detection_latest t ON t.generation_id = l.generation_id AND t.detector = ?
    JOIN detections d ON d.rowid = t.det_rowid JOIN generations g ON g.id = l.generation_id
    WHERE l.annotator = ? AND l.status = 'done'"""
_CHUNK = 900  # generation ids per IN (...): under SQLite's bound-parameter limit
_FULL_READ = 0.2  # read everything in one pass when more than this share of the pairs changed


class LiveCounts:
    """ThresholdCounts of one (detector, annotator), refreshed by reading again only what changed."""

    def __init__(self, detector: str, annotator: str):
        self.detector, self.annotator = detector, annotator
        self._pairs: dict[str, tuple[int, Pair]] = {}  # generation id -> (generation rowid, pair)
        self._seen: int | None = None  # the change log's seq when the pairs were read
        self._assembled: dict[tuple, ThresholdCounts] = {}
        self._lock = threading.Lock()

    def counts(self, store: Store, run_id: str | None = None) -> ThresholdCounts:
        """The counts now, over every run's checkpoints or one run's."""
        with self._lock:
            self._refresh(store)
            names = _checkpoint_names(store, run_id)
            key = tuple(sorted(names.items()))  # a run renamed assembles again
            if key not in self._assembled:
                in_order = sorted(self._pairs.values(), key=lambda rp: rp[0])  # as labeled_pairs reads them
                self._assembled[key] = ThresholdCounts.assemble([p for _, p in in_order], names)
            return self._assembled[key]

    def _refresh(self, store: Store) -> None:
        args = [self.detector, self.annotator]
        if self._seen is None:
            seq, changed = change_log.newest(store), None
        else:
            seq, changed = change_log.changed_since(
                store, self._seen, [f"label:{self.annotator}", f"detector:{self.detector}"])
        if changed is not None and not changed:
            self._seen = seq
            return
        if changed is None or len(changed) > _FULL_READ * max(len(self._pairs), 1):
            rows, self._pairs = store.query(_PAIRS, args), {}
        else:
            ids = sorted(changed)
            for gid in ids:
                self._pairs.pop(gid, None)
            rows = [r for i in range(0, len(ids), _CHUNK) for r in store.query(
                f"{_PAIRS} AND l.generation_id IN ({marks(ids[i:i + _CHUNK])})", args + ids[i:i + _CHUNK])]
        for gid, rowid, checkpoint_id, pred, gold in rows:
            self._pairs[gid] = (rowid, Pair.of(gid, checkpoint_id, spans_from_json(pred), spans_from_json(gold)))
        self._seen, self._assembled = seq, {}


def _checkpoint_names(store: Store, run_id: str | None) -> dict[str, tuple[str, object]]:
    """checkpoint id -> ("run / checkpoint", training step) as evaluation.labeled_pairs names them."""
    rows = store.query(f"SELECT c.id, r.name || ' / ' || c.name, {TRAINING_STEP_SQL} FROM checkpoints c "
                       f"JOIN runs r ON r.id = c.run_id" + (" WHERE c.run_id = ?" if run_id else ""),
                       [run_id] if run_id else [])
    return {r[0]: (r[1], r[2]) for r in rows}
