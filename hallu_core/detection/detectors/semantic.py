"""Semantic support: each output clause against the source's sentences with MiniLM.

A clause whose best cosine similarity to any grounding sentence is low is `baseless`;
the best-matching source sentence (with its offsets) is the evidence.
"""
from __future__ import annotations

import numpy as np

from hallu_core.detection.detectors.base import (
    BaseDetector, DetectItem, DetectResult, Progress, no_progress, result_from_spans,
)
from hallu_core.detection.detectors.encoder import encode, windowed
from hallu_core.detection.detectors.evidence import NONE_FOUND, passage
from hallu_core.detection.detectors.text import Piece, clauses, sentences
from hallu_core.store.types import Span


EVIDENCE_FLOOR = 0.3  # MiniLM cosine under which the closest source sentence is unrelated (measured on the demo)


def source_pieces(item: DetectItem) -> list[tuple[str, Piece]]:
    """(field, sentence) pairs of the grounding; JSON records split on their lines too."""
    out = []
    for field in ("source", "reference", "question"):
        text = getattr(item, field)
        if text:
            out += [(field, p) for p in windowed(sentences(text), text)]
    return out


def support_matrix(items: list[DetectItem], model_path: str | None = None):
    """Per item: (output clauses, source pieces, similarity matrix clauses x sources).
    Encodes every text of the batch in one call, which is what makes it fast."""
    out_pieces = [windowed(clauses(it.output), it.output) for it in items]
    src_pieces = [source_pieces(it) for it in items]
    texts = [p.text for ps in out_pieces for p in ps] + [p.text for ps in src_pieces for _, p in ps]
    emb = encode(texts, model_path)
    n_out = sum(map(len, out_pieces))
    out_emb, src_emb = emb[:n_out], emb[n_out:]
    results, i, j = [], 0, 0
    for outs, srcs in zip(out_pieces, src_pieces):
        a, b = out_emb[i:i + len(outs)], src_emb[j:j + len(srcs)]
        results.append((outs, srcs, a @ b.T if len(outs) and len(srcs) else np.zeros((len(outs), len(srcs)))))
        i, j = i + len(outs), j + len(srcs)
    return results


class SemanticSupport(BaseDetector):
    name = "semantic"

    def __init__(self, threshold: float = 0.45, model_path: str | None = None, batch_items: int = 32):
        super().__init__(threshold=threshold, model_path=model_path, batch_items=batch_items)

    def detect(self, items: list[DetectItem], progress: Progress | None = None) -> list[DetectResult]:
        progress = progress or no_progress
        results, step = [], self.config["batch_items"]
        for k in range(0, len(items), step):
            batch = items[k:k + step]
            for item, (outs, srcs, sim) in zip(batch, support_matrix(batch, self.config["model_path"])):
                results.append(self._spans(item, outs, srcs, sim))
            progress(len(results), len(items), f"{self.name}: {len(results)}/{len(items)}")
        return results

    def _spans(self, item, outs, srcs, sim) -> DetectResult:
        if not srcs:  # nothing to be grounded on: this detector has no opinion
            return result_from_spans([])
        spans = []
        for row, clause in zip(sim, outs):
            best = int(row.argmax())
            support = float(row[best])
            if support < self.config["threshold"]:
                field, ev = srcs[best]
                # the closest sentence is what the clause was compared with; below the floor it is
                # an unrelated sentence, not evidence
                related = support >= EVIDENCE_FLOOR
                evidence = passage(ev.text, ev.start, ev.end, field, "closest sentence",
                                   similarity=round(support, 4)) if related else None
                spans.append(Span(clause.start, clause.end, "baseless", round(1.0 - support, 4), evidence,
                                  note="low semantic support; closest source sentence shown" if related else
                                  f"low semantic support; {NONE_FOUND}"))
        return result_from_spans(spans)
