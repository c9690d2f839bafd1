"""The one detector protocol: a batch of items in, typed spans and a response score out."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from hallu_core.types import Span, Token, content_hash

Progress = Callable[[int, int, str], None]


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
    """Shared plumbing: config stored as a dict, hashed for the store; per-item loop."""
    name = "base"

    def __init__(self, **config):
        self.config = dict(config)

    @property
    def config_hash(self) -> str:
        return content_hash(self.name, self.config, length=12)

    def detect(self, items: list[DetectItem], progress: Progress | None = None) -> list[DetectResult]:
        progress = progress or no_progress
        results = []
        for i, item in enumerate(items):
            results.append(self.detect_one(item))
            progress(i + 1, len(items), f"{self.name}: {i + 1}/{len(items)}")
        return results

    def detect_one(self, item: DetectItem) -> DetectResult:
        raise NotImplementedError


def result_from_spans(spans: list[Span]) -> DetectResult:
    """Response score = the strongest span's score (0 when nothing was flagged)."""
    return DetectResult(spans=spans, response_score=max((s.score for s in spans), default=0.0))
