"""Source/reference support: numbers, names and content words the grounding never states.

An unsupported value whose slot (its neighbouring content word) holds a different value
of the same kind in the source is a `conflict`; otherwise it is `baseless`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from hallu_core.types import Span

from .base import BaseDetector, DetectItem, DetectResult, result_from_spans
from .text import is_content, is_name, is_number, normalize, words

KIND_SCORE = {"number": 0.9, "name": 0.75, "word": 0.45}
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{1,2})\b")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


@dataclass(frozen=True)
class Word:
    start: int
    end: int
    text: str
    norm: str
    kind: str  # number | name | word


def tag_words(text: str) -> list[Word]:
    out = []
    for w in words(text):
        if not is_content(w.text):
            continue
        kind = "number" if is_number(w.text) else "name" if is_name(w.text, w.start, text) else "word"
        out.append(Word(w.start, w.end, w.text, normalize(w.text), kind))
    return out


def support_vocab(grounding: str) -> set[str]:
    """Normalised words of the grounding, plus readings a writer may use for them:
    12-hour clock hours for '21:0', split CamelCase keys ('RestaurantsTakeOut')."""
    vocab = {normalize(w.text) for w in words(grounding)}
    for m in _CLOCK.finditer(grounding):
        hour = int(m.group(1)) % 24
        vocab.update({str(hour), str(hour % 12 or 12)})
    for key in set(re.findall(r"[A-Za-z]+", grounding)):
        parts = _CAMEL.split(key)
        if len(parts) > 1:
            vocab.update(normalize(p) for p in parts)
            vocab.add(normalize("".join(parts)))
    return vocab


def find_conflict(word: Word, out_words: list[Word], i: int, src_words: list[Word]) -> Word | None:
    """A source value of the same kind sitting next to the same neighbour word."""
    if word.kind == "word":
        return None
    neighbours = {(o, out_words[i + o].norm) for o in (-1, 1) if 0 <= i + o < len(out_words)}
    for j, sw in enumerate(src_words):
        if sw.kind != word.kind or sw.norm == word.norm:
            continue
        for offset, norm in neighbours:
            k = j + offset
            if 0 <= k < len(src_words) and src_words[k].norm == norm:
                return sw
    return None


class LexicalSupport(BaseDetector):
    """Flags output words whose normalised form never occurs in source/reference/question."""
    name = "lexical"

    def __init__(self, flag_words: bool = True, max_gap: int = 2):
        super().__init__(flag_words=flag_words, max_gap=max_gap)

    def detect_one(self, item: DetectItem) -> DetectResult:
        grounding = item.grounding
        if not item.output.strip() or not grounding.strip():
            return result_from_spans([])
        vocab = support_vocab(grounding)
        src_words = tag_words(grounding)
        out_words = tag_words(item.output)
        spans = []
        for i, w in enumerate(out_words):
            if w.norm in vocab or (w.kind == "word" and not self.config["flag_words"]):
                continue
            conflict = find_conflict(w, out_words, i, src_words)
            evidence = None
            if conflict is not None:
                field = "source" if item.source and conflict.end <= len(item.source) else "grounding"
                evidence = {"text": conflict.text, "start": conflict.start, "end": conflict.end, "field": field}
            spans.append(Span(w.start, w.end, "conflict" if conflict else "baseless",
                              KIND_SCORE[w.kind], evidence, note=f"unsupported {w.kind}"))
        return result_from_spans(merge_close(spans, item.output, self.config["max_gap"]))


def merge_close(spans: list[Span], text: str, max_gap: int) -> list[Span]:
    """Join spans separated by at most `max_gap` words: a phrase, not its fragments."""
    merged: list[Span] = []
    for s in sorted(spans, key=lambda s: s.start):
        if merged and len(words(text[merged[-1].end:s.start])) <= max_gap and "\n" not in text[merged[-1].end:s.start]:
            prev = merged.pop()
            keep = prev if prev.score >= s.score else s
            kind = "conflict" if "conflict" in (prev.type, s.type) else prev.type
            s = Span(prev.start, s.end, kind, max(prev.score, s.score), keep.evidence or prev.evidence or s.evidence,
                     note=keep.note)
        merged.append(s)
    return merged
