"""The one detector protocol: a batch of items in, typed spans and a response score out."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Callable, Protocol

from hallu_core.detection.detectors import calibrate
from hallu_core.store.types import Span, Token, content_hash

Progress = Callable[[int, int, str], None]
log = logging.getLogger(__name__)


def no_progress(done: int, total: int, message: str = "") -> None:
    pass


@dataclass(frozen=True)
class DetectItem:
    """One output to check, with whatever context exists for it."""
    id: str
    output: str
    source: str | None = None
    reference: str | None = None
    question: str | None = None
    task: str = ""
    tokens: list[Token] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)  # other outputs for the same prompt

    @property
    def grounding(self) -> str:
        """Everything the output may lean on: source, reference and question."""
        return "\n".join(t for t in (self.source, self.reference, self.question) if t)


@dataclass(frozen=True)
class DetectResult:
    spans: list[Span]
    response_score: float  # in [0, 1]; higher = more likely hallucinated


class Detector(Protocol):
    name: str
    config: dict
    config_hash: str

    def detect(self, items: list[DetectItem], progress: Progress | None = None) -> list[DetectResult]: ...


class BaseDetector:
    """Shared plumbing: config stored as a dict, hashed for the store; per-item loop.

    Every subclass's `detect` returns calibrated scores: `__init_subclass__` wraps it so the
    calibration map of the detector's registry name (calibrate.py; a workspace's own map in
    `calibration_dir` first, else the shipped one) is applied to what it returns (spans under the
    detector's own threshold dropped, and every span of a response under the map's operating
    threshold for its task: operating.py), whoever writes the subclass. A map fitted on another raw
    scorer (fingerprint mismatch) is not applied.
    """
    name = "base"
    use_calibration = True  # False: raw scores (what calibration maps are fitted on)
    operate = True  # False: calibrated, but every response keeps its spans (a composite such as default decides)
    calibration_dir = None  # a workspace's own maps (workspace_calibration.py), preferred over the shipped ones

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "detect" in cls.__dict__:
            cls.detect = _calibrated(cls.__dict__["detect"])

    def __init__(self, **config):
        self.config = dict(config)

    @property
    def config_hash(self) -> str:
        cal = self.calibration
        if cal is None:  # uncalibrated detectors keep the hash their stored detections have
            return content_hash(self.name, self.config, length=12)
        return content_hash(self.name, self.config, {"calibration": cal.id, "threshold": cal.threshold}, length=12)

    def weights_fingerprint(self):
        """What identifies learned weights the config does not name (overridden by trained detectors)."""
        return None

    def fingerprint(self) -> str:
        """The raw scorer's identity: a calibration map applies only to the scorer it was fitted on."""
        return content_hash(self.name, self.config, self.weights_fingerprint(), length=12)

    @property
    def calibration(self):
        """This detector's calibration map (calibrate.DetectorCalibration), or None."""
        if not self.use_calibration:
            return None
        key = (self.name, self.fingerprint(), self.calibration_dir)
        if getattr(self, "_calibration_key", None) != key:
            cal = None
            for directory in ([self.calibration_dir] if self.calibration_dir else []) + [None]:
                found = calibrate.load(self.name, directory)
                if found is not None and found.fingerprint != key[1]:
                    log.warning("calibration map for %s in %s was fitted on another scorer (%s, this is %s): "
                                "not applied until it is refitted", self.name, calibrate.map_path(self.name, directory),
                                found.fingerprint, key[1])
                elif found is not None:
                    cal = found
                    break
            self._calibration_key, self._calibration = key, cal
        return self._calibration

    @property
    def calibrated_threshold(self) -> float:
        """The detector's own span threshold on the calibrated scale (0 when uncalibrated)."""
        cal = self.calibration
        return cal.threshold if cal else 0.0

    def detect(self, items: list[DetectItem], progress: Progress | None = None) -> list[DetectResult]:
        progress = progress or no_progress
        results = []
        for i, item in enumerate(items):
            results.append(self.detect_one(item))
            progress(i + 1, len(items), f"{self.name}: {i + 1}/{len(items)}")
        return results

    def detect_one(self, item: DetectItem) -> DetectResult:
        raise NotImplementedError


def _calibrated(detect):
    """`detect` followed by the detector's calibration (once, however subclasses chain)."""
    @functools.wraps(detect)
    def wrapper(self, items, progress=None):
        if getattr(self, "_in_detect", False):  # a subclass calling super().detect: calibrate once, outermost
            return detect(self, items, progress)
        self._in_detect = True
        try:
            results = detect(self, items, progress)
        finally:
            self._in_detect = False
        cal = self.calibration
        return results if cal is None else cal.apply(results, [it.task for it in items], self.operate)
    return wrapper


def result_from_spans(spans: list[Span]) -> DetectResult:
    """Response score = the strongest span's score (0 when nothing was flagged)."""
    return DetectResult(spans=spans, response_score=max((s.score for s in spans), default=0.0))


BaseDetector.detect = _calibrated(BaseDetector.detect)  # the per-item loop of detect_one detectors too
