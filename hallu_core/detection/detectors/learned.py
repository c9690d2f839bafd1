"""Learned detector: logistic models over every other detector's signal, trained in seconds.

Three small models: a response gate (is anything in this output hallucinated?), a clause
scorer and a word scorer (which words? gold spans are short phrases, so spans are runs of
high-scoring words by default). Claims that a JSON record contradicts (`record_claims.py`)
are reported as they are, beside the scored words. The gate's regularisation C and threshold
and the per-task span thresholds are picked by cross-validation grouped by source inside
`fit`, never on the rows being scored; the span thresholds for the pooled span F1, so a task
whose word spans are too imprecise gets none (only its gated outputs' single best word).
As a member of `default` (`operate` False) it reports word spans for every output and leaves the
response decision to default's operating threshold on the gate's score.
Persisted as one JSON file of weights.
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from hallu_core.detection.detectors.base import BaseDetector, DetectItem, DetectResult, Progress, no_progress
from hallu_core.detection.detectors.calibrate_fit import group_folds
from hallu_core.detection.detectors.evidence import NONE_FOUND
from hallu_core.detection.detectors.units import (CLAUSE_FEATURES, RESPONSE_FEATURES, WORD_FEATURES, Units, build_units, clause_labels,
                    word_labels, word_runs)
from hallu_core.detection.metrics import prf, response_prf, span_prf
from hallu_core.store.types import Span, content_hash

log = logging.getLogger(__name__)
BUILTIN = Path(__file__).with_name("weights")
GRID = np.round(np.concatenate([np.arange(0.02, 0.1, 0.01), np.arange(0.1, 0.9, 0.02)]), 3)
NO_WORDS = 1.01  # a span threshold no word reaches: a task may be best served by record claims alone
MIN_GAIN, MIN_EVIDENCE = 0.02, 10
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
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 0.5 * (1 + np.tanh(z / 2))  # the logistic function, without exp's overflow on large |z|

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() for k, v in vars(self).items()}


class LearnedDetector(BaseDetector):
    name = "learned"

    def __init__(self, pretrained: str | None = None, model_path: str | None = None, c: float = 0.3,
                 narrow: bool = False, folds: int = 3, granularity: str = "word", word_c: float = 0.1,
                 per_task_gate: bool = False, gate_cs: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3)):
        super().__init__(pretrained=pretrained, model_path=model_path, c=c, narrow=narrow, folds=folds,
                         granularity=granularity, word_c=word_c, per_task_gate=per_task_gate, gate_cs=list(gate_cs))
        self.gate_c = float(gate_cs[0]) if gate_cs else c
        self.gate = self.scorer = self.word_scorer = None
        self.response_thresholds: dict[str, float] = {"": 0.5}  # per task when per_task_gate; "" otherwise
        self.span_thresholds: dict[str, float] = {"": 0.5}  # per task; "" for tasks unseen in training
        if pretrained:
            self._load_weights(BUILTIN / "default.json" if pretrained == "builtin" else Path(pretrained) / "learned.json")

    def weights_fingerprint(self):
        """The trained weights (builtin ones change without the config changing); hashed once per model,
        since the store asks for the config hash of every detection it writes."""
        if self.gate is None:
            return None
        if getattr(self, "_fingerprint_of", None) is not self.gate:  # fit() and load() make a new gate
            self._fingerprint = content_hash(self.gate.to_dict(), self.scorer.to_dict(),
                                             self.word_scorer.to_dict() if self.word_scorer else None,
                                             self.response_thresholds, self.span_thresholds)
            self._fingerprint_of = self.gate
        return self._fingerprint

    # -- training ---------------------------------------------------------------
    def fit(self, items: list[DetectItem], gold_spans: list[list[Span]], progress: Progress | None = None):
        groups = [content_hash(it.source or it.id) for it in items]  # one source never splits across folds
        (progress or no_progress)(0, 1, "computing features")
        return self.fit_units(build_units(items, self.config["model_path"]), gold_spans, groups)

    def fit_units(self, units: list[Units], golds: list, groups: list[str]) -> "LearnedDetector":
        folds = group_folds(groups, self.config["folds"])
        gate_cs = self.config["gate_cs"] or [self.config["c"]]
        oof_gates, oof_probs = {c: np.zeros(len(units)) for c in gate_cs}, [None] * len(units)
        gold_pos = [bool(g) for g in golds]
        for test in folds:
            train = sorted(set(range(len(units))) - set(test))
            models = self._fit_models(units, golds, train)
            for i in test:
                oof_probs[i] = self._unit_probs(models, units[i])
            for c in gate_cs:  # the gate's regularisation moves response F1 most: pick it here, inside training
                gate = self._fit_gate(units, golds, train, c)
                oof_gates[c][test] = gate.predict(np.stack([units[i].response_x for i in test]))
        has_claims = np.array([bool(u.claims) for u in units])  # record claims flag an output by themselves
        self.gate_c = max(gate_cs, key=lambda c: max(response_prf((oof_gates[c] >= t) | has_claims, gold_pos)["f1"]
                                                     for t in GRID))
        oof_gate = oof_gates[self.gate_c]
        # one gate threshold by default: per-task ones (per_task_gate) measured 56.5 vs 60.1 response F1
        # on RAGTruth dev; they overfit ~100 rows per task and trade overall F1 for per-task F1
        self.response_thresholds = {"": float(max(GRID, key=lambda t: response_prf((oof_gate >= t) | has_claims,
                                                                                   gold_pos)["f1"]))}
        if self.config["per_task_gate"]:
            for task in sorted({u.task for u in units}):
                idx = [i for i in range(len(units)) if units[i].task == task]
                self.response_thresholds[task] = float(max([0.0, *GRID], key=lambda t: response_prf(
                    (oof_gate[idx] >= t) | has_claims[idx], [gold_pos[i] for i in idx])["f1"]))
        gated = {i for i in range(len(units)) if oof_gate[i] >= self._gate_threshold(units[i].task)}
        self.span_thresholds = self._fit_span_thresholds(units, golds, oof_probs, gated)
        everything = list(range(len(units)))
        _, self.scorer, self.word_scorer = self._fit_models(units, golds, everything)
        self.gate = self._fit_gate(units, golds, everything, self.gate_c)
        log.info("learned detector: gate C %s, response thresholds %s, span thresholds %s",
                 self.gate_c, self.response_thresholds, self.span_thresholds)
        return self

    def _gate_threshold(self, task: str) -> float:
        return self.response_thresholds.get(task, self.response_thresholds[""])

    def _fit_span_thresholds(self, units, golds, probs, gated: set[int]) -> dict[str, float]:
        """Word thresholds per task (spans differ in length and kind by task), chosen together for the
        pooled span F1 the detector is judged by: a task whose best word spans are less precise than
        the rest gets none (NO_WORDS) rather than dragging the pool down. "" serves unseen tasks."""
        options = [*GRID, NO_WORDS]
        by_task = defaultdict(list)
        for i, u in enumerate(units):
            by_task[u.task].append(i)
        counts = {}  # (task, threshold) -> (overlap, predicted, gold) characters
        for task, idx in by_task.items():
            for t in options:
                r = span_prf([self._spans(units[i], probs[i] if i in gated else None, t) for i in idx],
                             [golds[i] for i in idx])
                counts[task, t] = np.array([r["overlap_chars"], r["predicted_chars"], r["gold_chars"]])
        # word spans must earn two points of F1 on enough evidence: a threshold fitted on a
        # handful of gated hallucinated rows is noise (it measured worse out of fold)
        trusted = [task for task, idx in by_task.items() if sum(1 for i in idx if i in gated and golds[i]) >= MIN_EVIDENCE]
        chosen = {task: NO_WORDS for task in by_task}
        for _ in range(3):  # coordinate ascent; settles in two rounds in practice
            for task in trusted:
                def pooled_f1(t: float) -> float:
                    return prf(*sum(counts[k, t if k == task else chosen[k]] for k in by_task))["f1"]
                best = float(max(GRID, key=pooled_f1))
                chosen[task] = best if pooled_f1(best) >= pooled_f1(NO_WORDS) + MIN_GAIN else NO_WORDS
        pooled = float(max(GRID, key=lambda t: prf(*sum(counts[k, t] for k in by_task))["f1"]))
        return {"": pooled, **chosen}

    def _unit_probs(self, models, u: Units) -> np.ndarray:
        """Scores of the unit's candidates: words (default) or clauses."""
        if self.config["granularity"] == "word":
            return models[2].predict(u.word_x) if len(u.words) else np.zeros(0)
        return models[1].predict(u.x)

    @staticmethod
    def _fit_gate(units, golds, idx, c: float) -> LinearModel:
        return LinearModel.fit(np.stack([units[i].response_x for i in idx]), np.array([bool(golds[i]) for i in idx]), c)

    def _fit_models(self, units, golds, idx):
        c = self.config["c"]
        gate = self._fit_gate(units, golds, idx, c)
        with_clauses = [i for i in idx if len(units[i].x)]
        scorer = LinearModel.fit(np.vstack([units[i].x for i in with_clauses]),
                                 np.concatenate([clause_labels(units[i], golds[i]) for i in with_clauses]), c)
        with_words = [i for i in idx if len(units[i].words)]
        word_scorer = LinearModel.fit(np.vstack([units[i].word_x for i in with_words]),
                                      np.concatenate([word_labels(units[i], golds[i]) for i in with_words]),
                                      self.config["word_c"]) if with_words else None
        return gate, scorer, word_scorer

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
        models = (self.gate, self.scorer, self.word_scorer)
        for u in units:
            gate = float(self.gate.predict(u.response_x[None])[0])
            threshold = self.span_thresholds.get(u.task, self.span_thresholds[""])
            # not operating (a member of default): word spans for every output, default's threshold decides
            gated = gate >= self._gate_threshold(u.task) or not self.operate
            probs = self._unit_probs(models, u) if gated else None
            out.append(DetectResult(self._spans(u, probs, threshold), max([gate] + [c.score for c in u.claims])))
        return out

    def _spans(self, u: Units, probs, threshold: float) -> list[Span]:
        """The record claims, plus (when the gate passed, `probs` given) candidates scoring over the
        threshold; a gated output without claims keeps at least its top candidate."""
        if probs is None or not len(probs) or (threshold >= NO_WORDS and u.claims):
            return list(u.claims)
        if self.config["granularity"] == "word":
            scored = [Span(s, e, "conflict" if conflict else "baseless", round(score, 4),
                           note=f"learned word score; {NONE_FOUND}")
                      for s, e, conflict, score in word_runs(u, probs, threshold, keep_best=not u.claims)]
        else:
            keep = [i for i, p in enumerate(probs) if p >= threshold] or ([] if u.claims else [int(np.argmax(probs))])
            bounds = u.narrow if self.config["narrow"] else u.bounds
            scored = [Span(*bounds[i], "conflict" if u.x[i, _CONFLICT] > 0 else "baseless", round(float(probs[i]), 4),
                           note=f"learned clause score; {NONE_FOUND}") for i in keep]
        # a claim already covers its words: overlapping spans would count the same characters twice
        return list(u.claims) + [s for s in scored if not any(s.start < c.end and c.start < s.end for c in u.claims)]

    # -- persistence --------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / "learned.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "clause_features": CLAUSE_FEATURES, "response_features": RESPONSE_FEATURES,
            "word_features": WORD_FEATURES,
            "config": {k: v for k, v in self.config.items() if k not in ("pretrained", "model_path")},
            "gate_c": float(self.gate_c), "response_thresholds": self.response_thresholds, "span_thresholds": self.span_thresholds,
            "gate": self.gate.to_dict(), "scorer": self.scorer.to_dict(),
            "word_scorer": self.word_scorer.to_dict() if self.word_scorer else None}))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "LearnedDetector":
        return cls(pretrained=str(directory))

    def _load_weights(self, path: Path) -> None:
        if not path.exists():
            raise FileNotFoundError(f"no trained learned detector at {path}")
        data = json.loads(path.read_text())
        if (data["clause_features"] != CLAUSE_FEATURES or data["response_features"] != RESPONSE_FEATURES
                or data.get("word_features") != WORD_FEATURES):
            raise ValueError(f"{path} was trained on other features; retrain it")
        self.config.update({k: v for k, v in data["config"].items() if k in ("c", "narrow", "folds", "granularity",
                                                                             "word_c", "per_task_gate", "gate_cs")})
        self.response_thresholds, self.span_thresholds = data["response_thresholds"], data["span_thresholds"]
        self.gate_c = data["gate_c"]
        self.gate, self.scorer = LinearModel(**data["gate"]), LinearModel(**data["scorer"])
        self.word_scorer = LinearModel(**data["word_scorer"]) if data["word_scorer"] else None


