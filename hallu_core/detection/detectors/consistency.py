"""Sampling consistency (SelfCheckGPT's idea): what the other samples do not say is suspect.

Each output clause is compared with every other sample's sentences (MiniLM cosine); its
consistency is the mean over samples of the best match. Reference-free: no source needed.
"""
from __future__ import annotations

import numpy as np

from hallu_core.detection.detectors.base import (
    BaseDetector, DetectItem, DetectResult, Progress, no_progress, result_from_spans,
)
from hallu_core.detection.detectors.encoder import encode, windowed
from hallu_core.detection.detectors.text import clauses, sentences
from hallu_core.store.types import Span


def clause_consistency(items: list[DetectItem], model_path: str | None = None):
    """Per item: (clauses, per-clause mean best similarity over samples or None without samples)."""
    out_pieces = [windowed(clauses(it.output), it.output) for it in items]
    sample_pieces = [[windowed(sentences(s), s) for s in it.samples] for it in items]
    texts = [p.text for ps in out_pieces for p in ps]
    texts += [p.text for per_item in sample_pieces for ps in per_item for p in ps]
    emb = dict(zip(texts, encode(texts, model_path))) if texts else {}
    results = []
    for outs, samples in zip(out_pieces, sample_pieces):
        samples = [ps for ps in samples if ps]
        if not outs or not samples:
            results.append((outs, None))
            continue
        a = np.stack([emb[p.text] for p in outs])
        best = [(a @ np.stack([emb[p.text] for p in ps]).T).max(axis=1) for ps in samples]
        results.append((outs, np.mean(best, axis=0)))
    return results


class SamplingConsistency(BaseDetector):
    name = "consistency"

    def __init__(self, threshold: float = 0.5, model_path: str | None = None, batch_items: int = 32):
        super().__init__(threshold=threshold, model_path=model_path, batch_items=batch_items)

    def detect(self, items: list[DetectItem], progress: Progress | None = None) -> list[DetectResult]:
        progress = progress or no_progress
        results, step = [], self.config["batch_items"]
        for k in range(0, len(items), step):
            for outs, consistency in clause_consistency(items[k:k + step], self.config["model_path"]):
                spans = [] if consistency is None else [
                    Span(c.start, c.end, "unknown", round(1.0 - float(v), 4),
                         {"consistency": round(float(v), 4), "field": "samples"}, note="few samples agree")
                    for c, v in zip(outs, consistency) if v < self.config["threshold"]]
                results.append(result_from_spans(spans))
            progress(len(results), len(items), f"{self.name}: {len(results)}/{len(items)}")
        return results
