"""Token confidence: low-probability or high-entropy generated tokens (reference-free).

Works from the logprob/entropy stored with each generated token; an item without tokens
(imported text) gets no spans rather than a guess.
"""
from __future__ import annotations

import math

from hallu_core.detection.detectors.base import BaseDetector, DetectItem, DetectResult, result_from_spans
from hallu_core.store.types import Span


class TokenConfidence(BaseDetector):
    name = "confidence"

    def __init__(self, min_prob: float = 0.2, max_entropy: float = 2.5, max_gap_chars: int = 1):
        super().__init__(min_prob=min_prob, max_entropy=max_entropy, max_gap_chars=max_gap_chars)

    def detect_one(self, item: DetectItem) -> DetectResult:
        text, spans = item.output, []
        for tok in item.tokens:
            if not 0 <= tok.start < tok.end <= len(text) or not text[tok.start:tok.end].strip():
                continue  # whitespace or offsets from another text: nothing to flag
            prob = math.exp(min(tok.logprob, 0.0))
            if prob < self.config["min_prob"] or tok.entropy > self.config["max_entropy"]:
                score = max(1.0 - prob, min(tok.entropy / (2 * self.config["max_entropy"]), 1.0))
                start = tok.start + len(text[tok.start:tok.end]) - len(text[tok.start:tok.end].lstrip())
                spans.append(Span(start, tok.end, "unknown", round(score, 4),
                                  {"logprob": round(tok.logprob, 4), "entropy": round(tok.entropy, 4)},
                                  note="low-confidence token"))
        return result_from_spans(self._merge(spans, text))

    def _merge(self, spans: list[Span], text: str) -> list[Span]:
        """Neighbouring weak tokens ('Par' + 'is') read as one span."""
        merged: list[Span] = []
        for s in spans:
            if merged and s.start - merged[-1].end <= self.config["max_gap_chars"]:
                p = merged.pop()
                s = Span(p.start, s.end, p.type, max(p.score, s.score), p.evidence, note=p.note)
            merged.append(s)
        return merged
