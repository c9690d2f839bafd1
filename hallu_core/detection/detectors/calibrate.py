"""Detector scores as probabilities of "hallucinated": one scale, so one threshold means one thing.

A `Calibrator` is a monotone map from a detector's raw score to [0, 1], fitted on labels:
Platt scaling (a logistic curve over the raw score's logit) when labels are few, isotonic
regression when there are enough to trust a step function. A `DetectorCalibration` holds a
detector's span and response maps (optionally one per task: raw scores and base rates differ
by task) and its own span threshold on the calibrated scale; it is stored as small JSON
beside the weights and applied inside `BaseDetector.detect`, so stored detections carry
calibrated scores and each span keeps its raw score.

Targets: a span's is the share of its characters inside a gold span (so a calibrated span
score is its expected precision); a response's is whether it has any gold span.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hallu_core.store.types import Span, content_hash

MAP_DIR = Path(__file__).with_name("weights") / "calibration"
MIN_ISOTONIC = 500  # below this many fitted scores a step function overfits its ends: Platt instead
METHODS = ("platt", "isotonic", "identity", "auto")
_EPS = 1e-4


def _logit(x: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(x, float), _EPS, 1 - _EPS)
    return np.log(x / (1 - x))


@dataclass(frozen=True)
class Calibrator:
    """kind "platt": p = sigmoid(a * logit(raw) + b), a >= 0; "isotonic": piecewise-linear through
    (xs, ys), ys non-decreasing; "identity": the raw score clipped to [0, 1]."""
    kind: str
    a: float = 1.0
    b: float = 0.0
    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()
    n: int = 0

    def apply(self, raw):
        """Calibrated probability for a raw score (a float) or an array of them."""
        x = np.asarray(raw, float)
        if self.kind == "platt":
            out = 1 / (1 + np.exp(-(self.a * _logit(x) + self.b)))
        elif self.kind == "isotonic":
            out = np.interp(x, self.xs, self.ys)
        else:
            out = x
        out = np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0)
        return float(out) if out.ndim == 0 else out

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "n": self.n}
        if self.kind == "platt":
            d.update(a=self.a, b=self.b)
        if self.kind == "isotonic":
            d.update(xs=list(self.xs), ys=list(self.ys))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Calibrator":
        kind = d.get("kind")
        if kind not in ("platt", "isotonic", "identity"):
            raise ValueError(f"calibration map kind {kind!r} is not platt, isotonic or identity")
        xs, ys = tuple(float(v) for v in d.get("xs", ())), tuple(float(v) for v in d.get("ys", ()))
        if kind == "isotonic" and (len(xs) != len(ys) or not xs or any(np.diff(xs) < 0) or any(np.diff(ys) < 0)):
            raise ValueError("isotonic calibration map needs equally long, non-decreasing xs and ys")
        if kind == "platt" and float(d.get("a", 1.0)) < 0:
            raise ValueError(f"Platt calibration slope must be >= 0 (monotone), got {d.get('a')}")
        return cls(kind, float(d.get("a", 1.0)), float(d.get("b", 0.0)), xs, ys, int(d.get("n", 0)))


def fit(scores, targets, method: str = "auto") -> Calibrator:
    """A monotone map from raw `scores` to P(hallucinated), fitted on `targets` in [0, 1]
    (fractions allowed: a span's share of hallucinated characters)."""
    if method not in METHODS:
        raise ValueError(f"calibration method {method!r}: choose from {', '.join(METHODS)}")
    x, y = np.asarray(scores, float).ravel(), np.clip(np.asarray(targets, float).ravel(), 0, 1)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} scores but {len(y)} targets")
    if method == "identity":
        return Calibrator("identity", n=len(x))
    if not len(x):
        raise ValueError("cannot fit a calibration map on no scores")
    if method == "auto":
        method = "isotonic" if len(x) >= MIN_ISOTONIC else "platt"
    if len(set(x.tolist())) < 2 or y.min() == y.max():  # nothing to learn a slope from: the base rate
        rate = float(np.clip(y.mean(), _EPS, 1 - _EPS))
        return Calibrator("platt", a=0.0, b=float(_logit(rate)), n=len(x))
    return _fit_isotonic(x, y) if method == "isotonic" else _fit_platt(x, y)


def _fit_platt(x: np.ndarray, y: np.ndarray) -> Calibrator:
    from sklearn.linear_model import LogisticRegression

    # fractional targets as two weighted copies of each row (y=1 with weight t, y=0 with 1-t)
    z = _logit(x)[:, None]
    features, labels = np.vstack([z, z]), np.r_[np.ones(len(x)), np.zeros(len(x))]
    weights = np.r_[y, 1 - y]
    lr = LogisticRegression(C=100.0, max_iter=1000).fit(features, labels, sample_weight=weights)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    if a < 0:  # scores anti-correlated with labels: monotone means the base rate, not a flipped curve
        a, b = 0.0, float(_logit(np.clip(y.mean(), _EPS, 1 - _EPS)))
    return Calibrator("platt", a=a, b=b, n=len(x))


def _fit_isotonic(x: np.ndarray, y: np.ndarray) -> Calibrator:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(x, y)
    xs, ys = np.asarray(iso.X_thresholds_, float), np.maximum.accumulate(np.asarray(iso.y_thresholds_, float))
    return Calibrator("isotonic", xs=tuple(np.round(xs, 6)), ys=tuple(np.round(ys, 6)), n=len(x))


def span_target(span: Span, gold: list[Span]) -> float:
    """Share of the span's characters inside some gold span."""
    if span.end <= span.start:
        return 0.0
    covered = np.zeros(span.end - span.start, dtype=bool)
    for g in gold:
        lo, hi = max(g.start, span.start), min(g.end, span.end)
        if lo < hi:
            covered[lo - span.start:hi - span.start] = True
    return float(covered.mean())


@dataclass(frozen=True)
class DetectorCalibration:
    detector: str
    fingerprint: str  # the raw scorer these maps were fitted on; another one is not calibrated by them
    span: Calibrator
    response: Calibrator
    threshold: float  # the detector's own span threshold, on the calibrated scale
    span_by_task: dict[str, Calibrator] = field(default_factory=dict)
    response_by_task: dict[str, Calibrator] = field(default_factory=dict)  # base rates differ by task
    meta: dict = field(default_factory=dict)  # provenance: fitted_on, counts, out-of-fold metrics
    # task -> operating threshold on the calibrated response score: a response under it is reported clean
    # (no spans, its score kept); "" serves tasks the fit never saw
    response_thresholds: dict[str, float] = field(default_factory=dict)
    skill: dict[str, dict] = field(default_factory=dict)  # task -> its response score's skill (operating.py)

    @property
    def id(self) -> str:
        return content_hash("calibration", self.to_dict(), length=12)

    def span_map(self, task: str) -> Calibrator:
        return self.span_by_task.get(task, self.span)

    def response_map(self, task: str) -> Calibrator:
        return self.response_by_task.get(task, self.response)

    def response_threshold(self, task: str) -> float:
        """The task's operating threshold (the "" fallback, else 0: every response with a span flagged)."""
        return self.response_thresholds.get(task, self.response_thresholds.get("", 0.0))

    def apply(self, results: list, tasks: list[str], operate: bool = True) -> list:
        """Results with calibrated scores; spans under the span threshold are dropped, and (`operate`) so
        are all the spans of a response scoring under its task's response threshold (it keeps its score)."""
        out = []
        for result, task in zip(results, tasks):
            cal = self.span_map(task)
            score = round(self.response_map(task).apply(result.response_score), 4)
            spans = [replace(s, score=round(cal.apply(s.score), 4), raw_score=s.score) for s in result.spans]
            flagged = not operate or score >= self.response_threshold(task)
            out.append(replace(result, spans=[s for s in spans if flagged and s.score >= self.threshold],
                               response_score=score))
        return out

    def to_dict(self) -> dict:
        return {"detector": self.detector, "fingerprint": self.fingerprint, "threshold": self.threshold,
                "span": self.span.to_dict(), "response": self.response.to_dict(),
                "span_by_task": {t: c.to_dict() for t, c in sorted(self.span_by_task.items())},
                "response_by_task": {t: c.to_dict() for t, c in sorted(self.response_by_task.items())},
                "meta": self.meta,
                # only when set: a map without them keeps the id (and detections' config hash) it had
                **({"response_thresholds": dict(sorted(self.response_thresholds.items()))}
                   if self.response_thresholds else {}),
                **({"skill": dict(sorted(self.skill.items()))} if self.skill else {})}

    @classmethod
    def from_dict(cls, d: dict) -> "DetectorCalibration":
        threshold = float(d["threshold"])
        response_thresholds = {str(t): float(v) for t, v in (d.get("response_thresholds") or {}).items()}
        for t, v in [("span", threshold), *((f"response ({task or 'other tasks'})", v)
                                             for task, v in response_thresholds.items())]:
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"calibrated {t} threshold must be in [0, 1], got {v}")
        return cls(str(d["detector"]), str(d["fingerprint"]), Calibrator.from_dict(d["span"]),
                   Calibrator.from_dict(d["response"]), threshold,
                   {t: Calibrator.from_dict(c) for t, c in (d.get("span_by_task") or {}).items()},
                   {t: Calibrator.from_dict(c) for t, c in (d.get("response_by_task") or {}).items()},
                   d.get("meta") or {}, response_thresholds, dict(d.get("skill") or {}))


def map_path(detector: str, directory: Path | None = None) -> Path:
    return Path(directory or MAP_DIR) / f"{detector}.json"


def save(cal: DetectorCalibration, directory: Path | None = None) -> Path:
    path = map_path(cal.detector, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(cal.to_dict(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)  # never a half-written map
    return path


def load(detector: str, directory: Path | None = None) -> DetectorCalibration | None:
    """The stored map of a detector name, or None when it has none (parsed once per file version:
    pages look maps up on every rerun)."""
    path = map_path(detector, directory)
    try:
        version = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    return _parsed(path, version)


@functools.lru_cache(maxsize=128)
def _parsed(path: Path, version: int) -> DetectorCalibration:  # `version` (mtime) keys the cache; maps are frozen
    try:
        return DetectorCalibration.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: bad calibration map: {exc}") from exc


