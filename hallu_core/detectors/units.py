"""Clause units and response vectors for the learned detector, built from word features."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import DetectItem
from .encoder import windowed
from .features import FEATURES, _locate, batch_features
from .text import clauses

_F = {n: i for i, n in enumerate(FEATURES)}
CLAUSE_FEATURES = [f"mean_{n}" for n in FEATURES] + [f"max_{n}" for n in FEATURES] + ["n_words", "n_unsupported"]
RESPONSE_FEATURES = [f"resp_mean_{n}" for n in FEATURES] + [f"resp_max_{n}" for n in FEATURES] + ["n_clauses"]


@dataclass
class Units:
    """One item's candidate spans: whole clauses and their unsupported core (`narrow`)."""
    bounds: list[tuple[int, int]]
    narrow: list[tuple[int, int]]
    x: np.ndarray  # clauses x CLAUSE_FEATURES
    response_x: np.ndarray  # RESPONSE_FEATURES


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
        out.append(Units(bounds, narrow, x, resp.astype(np.float32)))
    return out


def clause_labels(units: Units, gold) -> np.ndarray:
    return np.array([any(s < g.end and e > g.start for g in gold) for s, e in units.bounds], dtype=int)
