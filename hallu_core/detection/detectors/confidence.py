"""Token confidence: low-probability or high-entropy generated tokens (reference-free).

Works from the logprob/entropy stored with each generated token; an item without tokens
(imported text) gets no spans rather than a guess. Byte-level BPE splits a rare character (CJK,
emoji) over several tokens, the first ones with empty spans: their confidence goes to the token
that completes the character.
"""
from __future__ import annotations

import math

from hallu_core.detection.detectors.base import BaseDetector, DetectItem, DetectResult, result_from_spans
from hallu_core.store.types import Span, Token


class TokenConfidence(BaseDetector):
    name = "confidence"

    def __init__(self, min_prob: float = 0.2, max_entropy: float = 2.5, max_gap_chars: int = 1):
        super().__init__(min_prob=min_prob, max_entropy=max_entropy, max_gap_chars=max_gap_chars)

    def detect_one(self, item: DetectItem) -> DetectResult:
        text, spans = item.output, []
        carried: list = []  # byte tokens of a character not yet complete (empty spans): judged with the token that ends it
        for tok in item.tokens:
            if tok.start == tok.end and 0 <= tok.start <= len(text):
                carried.append(tok)
                continue
            held, carried = carried, []
            if not 0 <= tok.start < tok.end <= len(text) or not text[tok.start:tok.end].strip():
                continue  # whitespace or offsets from another text: nothing to flag
            # a character split over byte tokens is as uncertain as its least likely byte
            logprob = min([tok.logprob, *(t.logprob for t in held)])
            tok = Token(tok.start, tok.end, logprob, max([tok.entropy, *(t.entropy for t in held)]))
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
