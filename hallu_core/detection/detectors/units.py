"""Clause units and response vectors for the learned detector, built from word features."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hallu_core.detection.detectors.base import DetectItem
from hallu_core.detection.detectors.encoder import windowed
from hallu_core.detection.detectors.features import FEATURES, _locate, batch_features
from hallu_core.detection.detectors.record import RECORD_FEATURES, record_features
from hallu_core.detection.detectors.record_claims import RecordClaims
from hallu_core.detection.detectors.text import clauses
from hallu_core.store.types import Span

_F = {n: i for i, n in enumerate(FEATURES)}
CLAUSE_FEATURES = [f"mean_{n}" for n in FEATURES] + [f"max_{n}" for n in FEATURES] + ["n_words", "n_unsupported"]
RESPONSE_FEATURES = [f"resp_mean_{n}" for n in FEATURES] + [f"resp_max_{n}" for n in FEATURES] + ["n_clauses"]
# a word is scored with its own signals, its clause's and its response's: gold spans are short
WORD_FEATURES = list(FEATURES) + [f"clause_{n}" for n in CLAUSE_FEATURES] + RESPONSE_FEATURES + RECORD_FEATURES


@dataclass
class Units:
    """One item's candidate spans: whole clauses and their unsupported core (`narrow`)."""
    bounds: list[tuple[int, int]]
    narrow: list[tuple[int, int]]
    x: np.ndarray  # clauses x CLAUSE_FEATURES
    response_x: np.ndarray  # RESPONSE_FEATURES
    task: str = ""
    text: str = ""  # the output itself: runs of words never join across a line break
    words: list[tuple[int, int]] = field(default_factory=list)
    word_x: np.ndarray = field(default_factory=lambda: np.zeros((0, len(WORD_FEATURES)), dtype=np.float32))
    conflict: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per word
    content: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per word, not a stopword
    claims: list[Span] = field(default_factory=list)  # record claims the source contradicts or leaves null


def build_units(items: list[DetectItem], model_path: str | None = None) -> list[Units]:
    out = []
    for item, (ws, X) in zip(items, batch_features(items, model_path)):
        bounds, narrow, rows = [], [], []
        pieces = windowed(clauses(item.output), item.output)
        owner = np.array([_locate(pieces, w.start) for w in ws]) if ws else np.zeros(0, dtype=int)
        for c, piece in enumerate(pieces):
            mask = owner == c
            if not mask.any():
                continue
            Xc = X[mask]
            content = Xc[Xc[:, _F["kind_stop"]] == 0] if (Xc[:, _F["kind_stop"]] == 0).any() else Xc
            unsupported = [w for w, x in zip((ws[i] for i in np.flatnonzero(mask)), Xc) if x[_F["unsupported"]] > 0]
            bounds.append((piece.start, piece.end))
            narrow.append((unsupported[0].start, unsupported[-1].end) if unsupported else (piece.start, piece.end))
            rows.append(np.concatenate([content.mean(0), content.max(0), [mask.sum() / 50, len(unsupported) / 10]]))
        x = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(CLAUSE_FEATURES))
        resp = np.concatenate([X.mean(0), X.max(0), [len(rows) / 20]]) if len(X) else np.zeros(len(RESPONSE_FEATURES))
        task_cols = [_F[f"task_{t}"] for t in ("QA", "Summary", "Data2txt")] + [_F["task_other"]]
        if not len(X):  # an empty output still carries its task
            resp[task_cols] = [float(item.task == t) for t in ("QA", "Summary", "Data2txt")] + [
                float(item.task not in ("QA", "Summary", "Data2txt"))]
        units = _with_words(Units(bounds, narrow, x, resp.astype(np.float32), item.task, item.output), item, ws, X)
        units.claims = RecordClaims().detect_one(item).spans
        out.append(units)
    return out


def _with_words(u: Units, item: DetectItem, ws, X: np.ndarray) -> Units:
    if not len(ws) or not len(u.x):
        return u
    owner = np.clip(np.searchsorted([b[0] for b in u.bounds], [w.start for w in ws], "right") - 1, 0, None)
    u.words = [(w.start, w.end) for w in ws]
    u.word_x = np.hstack([X, u.x[owner], np.repeat(u.response_x[None], len(ws), 0),
                          record_features(item.source, ws)]).astype(np.float32)
    u.conflict, u.content = X[:, _F["conflict"]] > 0, X[:, _F["kind_stop"]] == 0
    return u


def clause_labels(units: Units, gold) -> np.ndarray:
    return np.array([any(s < g.end and e > g.start for g in gold) for s, e in units.bounds], dtype=int)


def word_labels(units: Units, gold) -> np.ndarray:
    return np.array([any(s < g.end and e > g.start for g in gold) for s, e in units.words], dtype=int)


def word_runs(u: Units, probs: np.ndarray, threshold: float, max_gap: int = 2,
              keep_best: bool = True) -> list[tuple[int, int, bool, float]]:
    """(start, end, has_conflict, best score) runs of words scoring over the threshold, joined across at
    most `max_gap` words on one line; runs start and end on content words. A gated output
    keeps at least its best content word."""
    if not len(probs):
        return []
    keep = (probs >= threshold) & u.content
    if not keep.any() and keep_best:
        keep[int(np.argmax(np.where(u.content, probs, -1.0)))] = True
    runs, last = [], -10
    for k in np.flatnonzero(keep):
        s, e = u.words[k]
        if runs and k - last <= max_gap + 1 and "\n" not in u.text[runs[-1][1]:s]:
            start, _, conflict, score = runs[-1]
            runs[-1] = (start, e, conflict or bool(u.conflict[k]), max(score, float(probs[k])))
        else:
            runs.append((s, e, bool(u.conflict[k]), float(probs[k])))
        last = k
    return runs
