"""Learned detector: logistic models over every other detector's signal, trained in seconds.

Two small models: a response gate (is anything in this output hallucinated?) and a clause
scorer (which clauses?). Both thresholds are picked by cross-validation grouped by source
inside `fit`, never on the rows being scored. Persisted as one JSON file of weights.
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from hallu_core.metrics import response_prf, span_prf
from hallu_core.types import Span, content_hash

from .base import BaseDetector, DetectItem, DetectResult, Progress, no_progress
from .units import CLAUSE_FEATURES, RESPONSE_FEATURES, Units, build_units, clause_labels

log = logging.getLogger(__name__)
BUILTIN = Path(__file__).with_name("weights")
GRID = np.round(np.concatenate([np.arange(0.02, 0.1, 0.01), np.arange(0.1, 0.9, 0.02)]), 3)
_CONFLICT = CLAUSE_FEATURES.index("max_conflict")


class LinearModel:
    """Standardised logistic regression kept as plain arrays (no pickle)."""

    def __init__(self, mean, scale, coef, intercept):
        self.mean, self.scale = np.asarray(mean, float), np.asarray(scale, float)
        self.coef, self.intercept = np.asarray(coef, float), float(intercept)

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, c: float) -> "LinearModel":
        from sklearn.linear_model import LogisticRegression

        mean, scale = x.mean(0), x.std(0) + 1e-6
        if len(set(y)) < 2:  # one class only: a constant model that predicts its rate
            return cls(mean, scale, np.zeros(x.shape[1]), np.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3)))
        lr = LogisticRegression(C=c, max_iter=3000).fit((x - mean) / scale, y)
        return cls(mean, scale, lr.coef_[0], lr.intercept_[0])

    def predict(self, x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros(0)
        return 1 / (1 + np.exp(-(((x - self.mean) / self.scale) @ self.coef + self.intercept)))

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() for k, v in vars(self).items()}


class LearnedDetector(BaseDetector):
    name = "learned"

    def __init__(self, pretrained: str | None = None, model_path: str | None = None, c: float = 0.3,
                 narrow: bool = False, folds: int = 3):
        super().__init__(pretrained=pretrained, model_path=model_path, c=c, narrow=narrow, folds=folds)
        self.gate = self.scorer = None
        self.response_threshold = self.span_threshold = 0.5
        if pretrained:
            self._load_weights(BUILTIN / "default.json" if pretrained == "builtin" else Path(pretrained) / "learned.json")

    # -- training ---------------------------------------------------------------
    def fit(self, items: list[DetectItem], gold_spans: list[list[Span]], progress: Progress | None = None):
        groups = [content_hash(it.source or it.id) for it in items]  # one source never splits across folds
        (progress or no_progress)(0, 1, "computing features")
        return self.fit_units(build_units(items, self.config["model_path"]), gold_spans, groups)

    def fit_units(self, units: list[Units], golds: list, groups: list[str]) -> "LearnedDetector":
        folds = _group_folds(groups, self.config["folds"])
        oof_gate, oof_clause = np.zeros(len(units)), [None] * len(units)
        for test in folds:
            train = sorted(set(range(len(units))) - set(test))
            gate, scorer = self._fit_models(units, golds, train)
            for i in test:
                oof_gate[i] = gate.predict(units[i].response_x[None])[0]
                oof_clause[i] = scorer.predict(units[i].x)
        gold_pos = [bool(g) for g in golds]
        self.response_threshold = max(GRID, key=lambda t: response_prf(oof_gate >= t, gold_pos)["f1"])
        gated = [i for i in range(len(units)) if oof_gate[i] >= self.response_threshold]
        self.span_threshold = max(GRID, key=lambda t: span_prf(
            [self._spans(units[i], oof_clause[i], t) for i in gated], [golds[i] for i in gated])["f1"])
        self.gate, self.scorer = self._fit_models(units, golds, list(range(len(units))))
        log.info("learned detector: response threshold %.2f, span threshold %.2f",
                 self.response_threshold, self.span_threshold)
        return self

    def _fit_models(self, units, golds, idx):
        c = self.config["c"]
        gate = LinearModel.fit(np.stack([units[i].response_x for i in idx]), np.array([bool(golds[i]) for i in idx]), c)
        with_clauses = [i for i in idx if len(units[i].x)]
        scorer = LinearModel.fit(np.vstack([units[i].x for i in with_clauses]),
                                 np.concatenate([clause_labels(units[i], golds[i]) for i in with_clauses]), c)
        return gate, scorer

    # -- inference --------------------------------------------------------------
    def detect(self, items: list[DetectItem], progress: Progress | None = None) -> list[DetectResult]:
        if self.gate is None:
            raise RuntimeError("the learned detector is not trained: fit() it, load() one, or use 'default'")
        progress = progress or no_progress
        results = []
        for k in range(0, len(items), 32):
            results += self.predict_units(build_units(items[k:k + 32], self.config["model_path"]))
            progress(len(results), len(items), f"{self.name}: {len(results)}/{len(items)}")
        return results

    def predict_units(self, units: list[Units]) -> list[DetectResult]:
        out = []
        for u in units:
            gate = float(self.gate.predict(u.response_x[None])[0])
            probs = self.scorer.predict(u.x)
            spans = self._spans(u, probs, self.span_threshold) if gate >= self.response_threshold else []
            out.append(DetectResult(spans, gate))
        return out

    def _spans(self, u: Units, probs, threshold: float) -> list[Span]:
        """Clauses scoring over the threshold; a gated output keeps at least its top clause."""
        if not len(probs):
            return []
        keep = [i for i, p in enumerate(probs) if p >= threshold] or [int(np.argmax(probs))]
        bounds = u.narrow if self.config["narrow"] else u.bounds
        return [Span(*bounds[i], "conflict" if u.x[i, _CONFLICT] > 0 else "baseless", round(float(probs[i]), 4),
                     note="learned clause score") for i in keep]

    # -- persistence --------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / "learned.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "clause_features": CLAUSE_FEATURES, "response_features": RESPONSE_FEATURES,
            "config": {k: v for k, v in self.config.items() if k != "pretrained"},
            "response_threshold": float(self.response_threshold), "span_threshold": float(self.span_threshold),
            "gate": self.gate.to_dict(), "scorer": self.scorer.to_dict()}))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "LearnedDetector":
        return cls(pretrained=str(directory))

    def _load_weights(self, path: Path) -> None:
        if not path.exists():
            raise FileNotFoundError(f"no trained learned detector at {path}")
        data = json.loads(path.read_text())
        if data["clause_features"] != CLAUSE_FEATURES or data["response_features"] != RESPONSE_FEATURES:
            raise ValueError(f"{path} was trained on other features; retrain it")
        self.config.update({k: v for k, v in data["config"].items() if k in ("c", "narrow", "folds")})
        self.response_threshold, self.span_threshold = data["response_threshold"], data["span_threshold"]
        self.gate, self.scorer = LinearModel(**data["gate"]), LinearModel(**data["scorer"])


def _group_folds(groups: list[str], k: int) -> list[list[int]]:
    """k folds of item indices, whole groups at a time, balanced by size."""
    members = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    folds = [[] for _ in range(max(2, min(k, len(members))))]
    for g in sorted(members, key=lambda g: (-len(members[g]), g)):
        min(folds, key=len).extend(members[g])
    return [f for f in folds if f]
