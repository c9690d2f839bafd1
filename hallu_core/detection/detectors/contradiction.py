"""Self-contradiction: the output gives two different values for the same thing.

A value (number or name) is keyed by the content word just before it ("born" in
"born in Paris"); a later value under the same key that differs from an earlier one, in
another sentence, is flagged with the earlier mention as evidence.
"""
from __future__ import annotations

from hallu_core.detection.detectors.base import BaseDetector, DetectItem, DetectResult, result_from_spans
from hallu_core.detection.detectors.evidence import passage
from hallu_core.detection.detectors.lexical import tag_words
from hallu_core.detection.detectors.text import sentences, words
from hallu_core.store.types import Span

# "born in Paris", "founded in 1990": key word, one linking word, value. Looser patterns
# mostly catch lists ("included Reba ... included Eric"), which are not contradictions.
LINKS = frozenset("in at on is was of as from for".split())


def sentence_index(text: str):
    bounds = [(s.start, s.end) for s in sentences(text)]
    return lambda pos: next((i for i, (s, e) in enumerate(bounds) if s <= pos < e), -1)


class SelfContradiction(BaseDetector):
    name = "self_contradiction"

    def __init__(self, score: float = 0.8):
        super().__init__(score=score)

    def detect_one(self, item: DetectItem) -> DetectResult:
        text = item.output
        tagged = tag_words(text)
        which_sentence = sentence_index(text)
        first_value: dict[tuple[str, str], object] = {}
        spans = []
        for prev, word in zip(tagged, tagged[1:]):
            between = [w.text.lower() for w in words(text[prev.end:word.start])]
            if word.kind == "word" or prev.kind != "word" or len(between) != 1 or between[0] not in LINKS:
                continue
            key = (prev.norm, word.kind)
            earlier = first_value.setdefault(key, word)
            if earlier.norm != word.norm and which_sentence(earlier.start) != which_sentence(word.start):
                spans.append(Span(word.start, word.end, "self_contradiction", self.config["score"],
                                  passage(earlier.text, earlier.start, earlier.end, "output", "earlier value"),
                                  note=f"'{prev.text}' given two values"))
        return result_from_spans(spans)
