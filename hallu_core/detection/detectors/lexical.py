"""Source/reference support: numbers, names and content words the grounding never states.

An unsupported value whose slot (its neighbouring content word) holds a different value
of the same kind in the source is a `conflict`; otherwise it is `baseless`.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from hallu_core.detection.detectors.base import BaseDetector, DetectItem, DetectResult, result_from_spans
from hallu_core.detection.detectors.evidence import NONE_FOUND, passage
from hallu_core.detection.detectors.text import is_content, is_name, is_number, normalize, sentences, words
from hallu_core.store.types import Span

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


CONTEXT = 3  # content words either side that describe what a value is about
MIN_CONTEXT = 2  # a source value is the conflicting one only on this much shared context


def sentence_ids(text: str, ws: list[Word]) -> list[int]:
    """The sentence each word sits in (context never reaches into another sentence)."""
    ends = [s.end for s in sentences(text)]
    return [bisect.bisect_right(ends, w.start) for w in ws]


def _context(ws: list[Word], sent: list[int], i: int) -> set[str]:
    return {ws[k].norm for k in range(max(0, i - CONTEXT), min(len(ws), i + 1 + CONTEXT))
            if k != i and sent[k] == sent[i]}


def find_conflict(word: Word, out_words: list[Word], i: int, src_words: list[Word],
                  out_sent: list[int] | None = None, src_sent: list[int] | None = None) -> Word | None:
    """The source's value of the same attribute, or None when no source value is clearly about
    the same thing (an unrelated value is no evidence).

    With sentence ids: a value of the same kind, not stated by the output itself, whose context
    (same sentence, CONTEXT content words either side) shares words with the output value's, the
    same neighbour word on the same side counting once more ("born in 1815" vs "born in 1820").
    It must share MIN_CONTEXT, or be the only source value sharing any; two different values
    equally good are ambiguous: None. Without sentence ids only the neighbour counts (the learned
    detector's `conflict` feature, which its shipped weights were trained on; unchanged)."""
    if word.kind == "word":
        return None
    neighbours = {(o, out_words[i + o].norm) for o in (-1, 1) if 0 <= i + o < len(out_words)}
    if out_sent is None or src_sent is None:
        for j, sw in enumerate(src_words):
            if sw.kind == word.kind and sw.norm != word.norm and any(
                    0 <= j + o < len(src_words) and src_words[j + o].norm == norm for o, norm in neighbours):
                return sw
        return None
    neighbours = {(o, n) for o, n in neighbours if out_sent[i + o] == out_sent[i]}
    context = _context(out_words, out_sent, i)
    stated = {w.norm for w in out_words}  # "Babbage and Faraday": Babbage is no rival value for Faraday
    scored: dict[str, tuple[int, Word]] = {}
    for j, sw in enumerate(src_words):
        if sw.kind != word.kind or sw.norm in stated:
            continue
        same_neighbour = any(0 <= j + o < len(src_words) and src_sent[j + o] == src_sent[j]
                             and src_words[j + o].norm == norm for o, norm in neighbours)
        score = len(context & _context(src_words, src_sent, j)) + same_neighbour
        if score and score > scored.get(sw.norm, (0, None))[0]:
            scored[sw.norm] = (score, sw)
    if not scored:
        return None
    ranked = sorted(scored.values(), key=lambda v: -v[0])
    top = ranked[0][0]
    if len(ranked) > 1 and ranked[1][0] == top:
        return None  # two different values fit equally: no single one is the evidence
    return ranked[0][1] if top >= MIN_CONTEXT or len(ranked) == 1 else None


def evidence_for(conflict: Word, item: DetectItem) -> dict:
    """Evidence offsets into the field that states the value (grounding joins them with newlines)."""
    offset = 0
    for field in ("source", "reference", "question"):
        text = getattr(item, field)
        if not text:
            continue
        if conflict.start < offset + len(text):
            start = conflict.start - offset
            return passage(conflict.text, start, start + len(conflict.text), field, "conflicting value")
        offset += len(text) + 1
    raise ValueError(f"evidence offset {conflict.start} falls outside the grounding")


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
        src_sent, out_sent = sentence_ids(grounding, src_words), sentence_ids(item.output, out_words)
        spans = []
        for i, w in enumerate(out_words):
            if w.norm in vocab or (w.kind == "word" and not self.config["flag_words"]):
                continue
            conflict = find_conflict(w, out_words, i, src_words, out_sent, src_sent)
            evidence = evidence_for(conflict, item) if conflict is not None else None
            note = (f"unsupported {w.kind}; the {evidence['field']} says {conflict.text!r}" if evidence
                    else f"unsupported {w.kind}; {NONE_FOUND}")
            spans.append(Span(w.start, w.end, "conflict" if conflict else "baseless",
                              KIND_SCORE[w.kind], evidence, note=note))
        return result_from_spans(merge_close(spans, item.output, self.config["max_gap"]))


def merge_close(spans: list[Span], text: str, max_gap: int) -> list[Span]:
    """Join baseless spans separated by at most `max_gap` words: a phrase, not its fragments.
    A conflict stays its own span, so its evidence is the source value for exactly its words."""
    merged: list[Span] = []
    for s in sorted(spans, key=lambda s: s.start):
        gap = text[merged[-1].end:s.start] if merged else ""
        if (merged and "conflict" not in (merged[-1].type, s.type) and len(words(gap)) <= max_gap
                and "\n" not in gap):
            prev = merged.pop()
            keep = prev if prev.score >= s.score else s
            s = Span(prev.start, s.end, prev.type, max(prev.score, s.score), None, note=keep.note)
        merged.append(s)
    return merged
