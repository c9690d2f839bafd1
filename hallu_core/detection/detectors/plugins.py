"""Plug-in detectors that run the field's own packages on a published model (hub id or local folder).

- `LettuceDetector`: LettuceDetect's token classifier through the `lettucedetect` package (extra
  `hallu[lettuce]`), so the model reads what it was trained on: the passages numbered inside
  LettuceDetect's QA or summary prompt, and a context too long for the model split into chunks of
  whole passages (each answer token keeps its highest probability over the chunks).
- `NLIDetector`: an NLI model through sentence-transformers' `CrossEncoder` scores each output
  sentence (hypothesis) against the grounding (premise); low entailment is flagged, a confident
  contradiction is a `conflict`.
"""
from __future__ import annotations

import logging
import os
import re
from functools import lru_cache

from hallu_core.detection.detectors.base import BaseDetector, DetectItem, DetectResult, result_from_spans
from hallu_core.detection.detectors.text import sentences
from hallu_core.store.types import Span

log = logging.getLogger(__name__)

# Outputs that restate the whole source rather than answer a question get LettuceDetect's summary
# prompt (question=None). lettucedetect has no prompt of its own for RAGTruth's Data2txt, and an
# overview of a record is a restatement, not the brief answer its QA prompt asks for.
RESTATING_TASKS = {"summary", "data2txt"}
PASSAGE_MARK = re.compile(r"^passage \d+:[ \t]*", re.IGNORECASE | re.MULTILINE)


def _offline(model: str) -> bool:
    return os.environ.get("HF_HUB_OFFLINE") == "1" or os.path.isdir(model)


def lettuce_inputs(item: DetectItem) -> tuple[list[str], str | None]:
    """(context passages, question) for lettucedetect's `predict`, as its README passes them."""
    extra = [item.reference] if item.reference else []
    if item.task.lower() in RESTATING_TASKS or not item.question:
        return ([item.source] if item.source else []) + extra, None
    return _passages(item.source, item.question) + extra, item.question


def _passages(source: str | None, question: str) -> list[str]:
    """A QA source's `passage N:` blocks (RAGTruth's layout) as separate passages, else the source whole."""
    if not source:
        return []
    head, *blocks = PASSAGE_MARK.split(source)
    if not blocks:
        return [source]
    # RAGTruth heads the blocks with "Question: ... Passages:": the question goes in on its own
    keep_head = head.strip() and question not in head
    return [p.strip() for p in ([head] if keep_head else []) + blocks if p.strip()]


@lru_cache(maxsize=2)
def _lettuce(model: str, max_length: int, lang: str):
    try:
        from lettucedetect.detectors.transformer import TransformerDetector
    except ImportError as e:
        raise ImportError("the `lettuce` detector runs the lettucedetect package: "
                          "pip install 'hallu[lettuce]'") from e
    log.info("loading LettuceDetect model %s", model)
    return TransformerDetector(model_path=model, max_length=max_length, lang=lang, local_files_only=_offline(model))


class LettuceDetector(BaseDetector):
    name = "lettuce"

    def __init__(self, model: str = "KRLabsOrg/lettucedect-base-modernbert-en-v1", threshold: float = 0.5,
                 max_length: int = 4096, lang: str = "en"):
        super().__init__(model=model, threshold=threshold, max_length=max_length, lang=lang)

    def detect_one(self, item: DetectItem) -> DetectResult:
        answer = item.output.lstrip()  # lettucedetect counts offsets from the answer's first token
        if not answer:
            return result_from_spans([])
        lead = len(item.output) - len(answer)
        context, question = lettuce_inputs(item)
        lettuce = _lettuce(self.config["model"], self.config["max_length"], self.config["lang"])
        # a token is flagged at probability >= 0.5 (argmax); `threshold` drops weaker spans on top
        found = lettuce.predict(context, answer, question, output_format="spans",
                                min_confidence=self.config["threshold"])
        return result_from_spans([Span(lead + s["start"], lead + s["end"], "unknown", round(s["confidence"], 4),
                                       note="LettuceDetect token classifier") for s in found])


def _context(item: DetectItem) -> str:
    return "\n".join(t for t in (item.question, item.source, item.reference) if t) or " "


@lru_cache(maxsize=2)
def _cross_encoder(model: str, max_length: int):
    from sentence_transformers import CrossEncoder

    log.info("loading NLI cross-encoder %s", model)
    return CrossEncoder(model, max_length=max_length, local_files_only=_offline(model))


class NLIDetector(BaseDetector):
    name = "nli"

    def __init__(self, model: str = "cross-encoder/nli-deberta-v3-small", threshold: float = 0.5,
                 max_length: int = 512):
        super().__init__(model=model, threshold=threshold, max_length=max_length)

    def detect_one(self, item: DetectItem) -> DetectResult:
        hypotheses = sentences(item.output)
        if not hypotheses:
            return result_from_spans([])
        encoder = _cross_encoder(self.config["model"], self.config["max_length"])
        labels = {v.lower(): int(k) for k, v in encoder.config.id2label.items()}
        # cross-encoder NLI models name their labels; unnamed ones follow MNLI's order
        entail, contra = labels.get("entailment", 1), labels.get("contradiction", 0)
        probs = encoder.predict([(_context(item), h.text) for h in hypotheses], apply_softmax=True,
                                show_progress_bar=False).tolist()
        spans = []
        for hyp, p in zip(hypotheses, probs):
            if p[entail] < self.config["threshold"]:
                kind = "conflict" if p[contra] == max(p) else "baseless"
                spans.append(Span(hyp.start, hyp.end, kind, round(1 - p[entail], 4),
                                  {"entailment": round(p[entail], 4), "contradiction": round(p[contra], 4),
                                   "field": "source"}, note="not entailed by the source"))
        return result_from_spans(spans)
