"""Torch-free records shared by the store, import/export, detectors and pages.

Span offsets are character offsets into the generation text, end exclusive,
everywhere in Hallu.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

SPAN_TYPES = ("conflict", "baseless", "self_contradiction", "unknown")
LABEL_STATUSES = ("done", "skipped", "draft")  # draft: being labeled, not yet marked done
JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")


def now() -> float:
    return time.time()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: stable input for content hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(*parts: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    type: str = "unknown"
    score: float = 1.0
    evidence: dict | None = None  # e.g. {"text": ..., "start": ..., "end": ..., "field": "source"}
    note: str = ""
    label_type: str | None = None  # the original label name of an imported span (RAGTruth's)
    detector: str | None = None  # where a label span came from, when accepted from a detector
    meta: dict | None = None  # fields an imported span carried that Hallu does not interpret
    raw_score: float | None = None  # a calibrated detector span's score before calibration

    def problems(self, text: str) -> list[str]:
        """What is wrong with this span against `text` (empty when it is valid)."""
        out = []
        if not isinstance(self.start, int) or not isinstance(self.end, int):
            out.append(f"start/end must be integers, got {self.start!r}/{self.end!r}")
        elif not 0 <= self.start <= self.end <= len(text):
            out.append(f"offsets [{self.start}, {self.end}) fall outside the text (length {len(text)})")
        if self.type not in SPAN_TYPES:
            out.append(f"type {self.type!r} is not one of {', '.join(SPAN_TYPES)}")
        return out

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}

    @classmethod
    def from_dict(cls, d: dict) -> "Span":
        return cls(
            start=d["start"], end=d["end"], type=d.get("type", "unknown"),
            score=float(d.get("score", 1.0)), evidence=d.get("evidence"), note=d.get("note", ""),
            label_type=d.get("label_type"), detector=d.get("detector"), meta=d.get("meta"),
            raw_score=None if d.get("raw_score") is None else float(d["raw_score"]),
        )


def spans_to_json(spans: list[Span]) -> str:
    return json.dumps([s.to_dict() for s in spans], ensure_ascii=False)


def spans_from_json(raw: str | None) -> list[Span]:
    return [Span.from_dict(d) for d in json.loads(raw or "[]")]


@dataclass(frozen=True)
class Example:
    id: str
    dataset: str
    prompt: str
    source: str | None = None
    reference: str | None = None
    task: str = ""
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    id: str
    name: str
    base_model: str
    kind: str = "finetune"  # finetune | import
    config: dict = field(default_factory=dict)
    status: str = "created"  # created | running | done | failed | cancelled | interrupted
    meta: dict = field(default_factory=dict)
    created_at: float = field(default_factory=now)


@dataclass(frozen=True)
class Checkpoint:
    id: str
    run_id: str
    step: int
    name: str  # "step-200", "base", or an imported model's name
    path: str | None = None
    metrics: dict = field(default_factory=dict)
    created_at: float = field(default_factory=now)


@dataclass(frozen=True)
class Token:
    """One generated token: its character span in the generation text and its confidence."""
    start: int
    end: int
    logprob: float
    entropy: float


def generation_id(example_id: str, checkpoint_id: str, decoding: dict, sample_index: int) -> str:
    """Content-addressed: the same example x checkpoint x decoding x sample is one generation."""
    return content_hash("generation", example_id, checkpoint_id, decoding, sample_index)


@dataclass(frozen=True)
class Generation:
    id: str
    example_id: str
    checkpoint_id: str
    text: str
    decoding: dict = field(default_factory=dict)
    decoding_name: str = ""  # short name shown in the UI, e.g. "greedy", "sample-t1.0"
    sample_index: int = 0
    tokens: list[Token] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    created_at: float = field(default_factory=now)


@dataclass(frozen=True)
class Detection:
    generation_id: str
    detector: str
    config_hash: str
    spans: list[Span]
    response_score: float
    created_at: float = field(default_factory=now)


# How an item came to be labeled, recorded with the label: a queue order's name (a "random" draw is a fair
# sample of its scope; "score", "unlabeled" and "disagreement" orders are not), "link" (a deep link) or "import".
SELECTIONS = ("random", "score", "unlabeled", "disagreement", "link", "import")
RANDOM_SELECTIONS = ("random", "import")  # a random draw (imported gold is taken for one); every other is a choice


@dataclass(frozen=True)
class Label:
    generation_id: str
    annotator: str
    spans: list[Span] = field(default_factory=list)
    status: str = "done"  # done | skipped | draft (spans saved, "Done" not pressed yet)
    note: str = ""
    created_at: float = field(default_factory=now)
    updated_at: float = field(default_factory=now)
    selection: str | None = None  # how the item was chosen: SELECTIONS (None: not recorded)
    assisted: bool = False  # the annotator saw detector suggestions on this item (kept once true)


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    args: dict
    status: str = "queued"
    done: int = 0
    total: int = 0
    message: str = ""
    log: str = ""
    pid: int | None = None
    error: str | None = None
    created_at: float = field(default_factory=now)
    started_at: float | None = None
    finished_at: float | None = None
    pid_started_at: float | None = None  # when process `pid` started: a pid reused later is not the job's
