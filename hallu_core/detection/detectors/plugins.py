"""Plug-in detectors backed by a Hugging Face model, by hub id or local folder.

- `TokenClassifierDetector`: LettuceDetect's format. Context (question + source) and answer
  go in as a sentence pair; label 1 of each answer token is its hallucination probability;
  flagged tokens merge into character spans through the tokenizer's offset mapping.
- `NLIDetector`: an NLI cross-encoder scores each output sentence (hypothesis) against the
  source (premise); low entailment is flagged, a confident contradiction is a `conflict`.
"""
from __future__ import annotations

import logging
import os
from functools import lru_cache

from hallu_core.detection.detectors.base import (
    BaseDetector, DetectItem, DetectResult, Progress, no_progress, result_from_spans,
)
from hallu_core.detection.detectors.text import sentences
from hallu_core.store.types import Span

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _load(model: str, kind: str):
    """(tokenizer, model) on the CPU or CUDA, loaded once per process."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.path.isdir(model)
    auto = AutoModelForTokenClassification if kind == "token" else AutoModelForSequenceClassification
    tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=offline)
    net = auto.from_pretrained(model, local_files_only=offline).eval()
    if torch.cuda.is_available():
        net = net.to("cuda")
    log.info("loaded %s detector model %s", kind, model)
    return tokenizer, net


def _context(item: DetectItem) -> str:
    return "\n".join(t for t in (item.question, item.source, item.reference) if t) or " "


class TokenClassifierDetector(BaseDetector):
    name = "lettuce"

    def __init__(self, model: str = "KRLabsOrg/lettucedect-base-modernbert-en-v1", threshold: float = 0.5,
                 max_length: int = 4096):
        super().__init__(model=model, threshold=threshold, max_length=max_length)

    def detect(self, items: list[DetectItem], progress: Progress | None = None) -> list[DetectResult]:
        progress = progress or no_progress
        tokenizer, net = _load(self.config["model"], "token")
        results = []
        for k, item in enumerate(items):
            results.append(self._detect_one(item, tokenizer, net))
            progress(k + 1, len(items), f"{self.name}: {k + 1}/{len(items)}")
        return results

    def _detect_one(self, item: DetectItem, tokenizer, net) -> DetectResult:
        import torch

        if not item.output.strip():
            return result_from_spans([])
        enc = tokenizer(_context(item), item.output, truncation="only_first", max_length=self.config["max_length"],
                        return_offsets_mapping=True, return_tensors="pt")
        offsets, segment = enc.pop("offset_mapping")[0].tolist(), enc.sequence_ids(0)
        with torch.no_grad():
            probs = net(**{k: v.to(net.device) for k, v in enc.items()}).logits[0].softmax(-1)[:, 1].tolist()
        spans: list[Span] = []
        for (start, end), seq, prob in zip(offsets, segment, probs):
            if seq != 1 or end <= start or prob < self.config["threshold"]:
                continue
            if spans and not item.output[spans[-1].end:start].strip():  # touching tokens: one span
                prev = spans.pop()
                start, prob = prev.start, max(prev.score, prob)
            spans.append(Span(start, end, "unknown", round(prob, 4), note="token classifier"))
        return result_from_spans(spans)


class NLIDetector(BaseDetector):
    name = "nli"

    def __init__(self, model: str = "cross-encoder/nli-deberta-v3-small", threshold: float = 0.5,
                 max_length: int = 512):
        super().__init__(model=model, threshold=threshold, max_length=max_length)

    def detect(self, items: list[DetectItem], progress: Progress | None = None) -> list[DetectResult]:
        progress = progress or no_progress
        tokenizer, net = _load(self.config["model"], "sequence")
        labels = {v.lower(): int(k) for k, v in net.config.id2label.items()}
        # cross-encoder NLI models name their labels; unnamed ones follow MNLI's order
        entail, contra = labels.get("entailment", 1), labels.get("contradiction", 0)
        results = []
        for k, item in enumerate(items):
            results.append(self._detect_one(item, tokenizer, net, entail, contra))
            progress(k + 1, len(items), f"{self.name}: {k + 1}/{len(items)}")
        return results

    def _detect_one(self, item, tokenizer, net, entail: int, contra: int) -> DetectResult:
        import torch

        hypotheses = sentences(item.output)
        if not hypotheses:
            return result_from_spans([])
        enc = tokenizer([_context(item)] * len(hypotheses), [h.text for h in hypotheses], truncation="only_first",
                        max_length=self.config["max_length"], padding=True, return_tensors="pt")
        with torch.no_grad():
            probs = net(**{k: v.to(net.device) for k, v in enc.items()}).logits.softmax(-1).tolist()
        spans = []
        for hyp, p in zip(hypotheses, probs):
            if p[entail] < self.config["threshold"]:
                kind = "conflict" if p[contra] == max(p) else "baseless"
                spans.append(Span(hyp.start, hyp.end, kind, round(1 - p[entail], 4),
                                  {"entailment": round(p[entail], 4), "contradiction": round(p[contra], 4),
                                   "field": "source"}, note="not entailed by the source"))
        return result_from_spans(spans)
