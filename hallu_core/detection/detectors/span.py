"""`span`: a learned cross-encoder token classifier (LettuceDetect's architecture).

Context (question + source) and output are read together as `[CLS] context [SEP] output [SEP]`;
the classifier gives one hallucination probability per output token; spans are runs of
tokens over the threshold, mapped back to character offsets through the tokenizer's offset
mapping and widened to whole words. The output always goes in whole (it is never what
truncation cuts); a context longer than the window is read in overlapping windows, each with
the output, and a token's probability is its MINIMUM over the windows: a token is supported
when any part of the source supports it, and a window that lacks the supporting sentence can
only say "not here" (see docs/detectors.md).

The weights are the bundled MiniLM (or any HF encoder) plus a small LoRA adapter and
classifier head (`weights/span/`), merged into the encoder at load time.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hallu_core.detection.detectors.base import BaseDetector, DetectItem, DetectResult, Progress, no_progress
from hallu_core.store.types import Span

log = logging.getLogger(__name__)
from hallu_core.detection.detectors.span_model import (
    ADAPTER_FILE, BUILTIN_SPAN, BUNDLED, CONFIG_FILE, MODEL_LOCK, combine, context_text, device_name, encode, load_model, read_artifact_config, token_runs, window_probs,
)


class SpanDetector(BaseDetector):
    name = "span"

    def __init__(self, pretrained: str | None = "builtin", model: str | None = None, threshold: float | None = None,
                 max_length: int | None = None, overlap: int | None = None, combine: str | None = None,
                 max_windows: int | None = None, batch_size: int = 16, quantize: bool = True, device: str | None = None):
        super().__init__(pretrained=pretrained, model=model, threshold=threshold, max_length=max_length,
                         overlap=overlap, combine=combine, max_windows=max_windows, batch_size=batch_size,
                         quantize=quantize, device=device)
        if model and (Path(model) / CONFIG_FILE).exists():  # `--model FOLDER` naming a trained adapter
            pretrained, model = model, None
        self.adapter = str(BUILTIN_SPAN) if pretrained == "builtin" else pretrained
        self.artifact = read_artifact_config(self.adapter) if self.adapter else {}
        self.backbone = model or self.artifact.get("backbone", BUNDLED)

    def weights_fingerprint(self):
        """The adapter's bytes and thresholds (shipped weights change without the config changing)."""
        if not self.adapter:
            return None
        if getattr(self, "_fingerprint_of", None) != self.adapter:  # hashed once per adapter, not per batch
            import hashlib

            from hallu_core.store.types import content_hash

            weights = Path(self.adapter) / ADAPTER_FILE
            digest = hashlib.sha256(weights.read_bytes()).hexdigest() if weights.exists() else None
            self._fingerprint_of, self._fingerprint = self.adapter, content_hash(digest, self.artifact.get("thresholds"))
        return self._fingerprint

    @property
    def max_length(self) -> int:
        return int(self.config["max_length"] or self.artifact.get("max_length", 384))

    @property
    def overlap(self) -> int:
        return int(self.config["overlap"] or self.artifact.get("overlap", 64))

    def threshold(self, task: str) -> float:
        if self.config["threshold"] is not None:
            return float(self.config["threshold"])
        thresholds = self.artifact.get("thresholds", {})
        return float(thresholds.get(task, thresholds.get("", 0.5)))

    def _model(self):
        quantize = bool(self.config["quantize"]) and self.artifact.get("quantize_ok", True)
        with MODEL_LOCK:
            return load_model(self.backbone, self.adapter, quantize, device_name(self.config["device"]))

    # -- scoring ---------------------------------------------------------------------------
    def token_scores(self, items: list[DetectItem], progress: Progress | None = None) -> list[tuple[list, np.ndarray]]:
        """(output token offsets, hallucination probability per token) for each item."""
        import torch

        progress = progress or no_progress
        tokenizer, net, _ = self._model()
        max_windows = self.config["max_windows"]
        max_windows = int(self.artifact.get("max_windows", 3) if max_windows is None else max_windows)
        encoded = [encode(tokenizer, context_text(it), it.output, self.max_length, self.overlap, max_windows)
                   for it in items]
        jobs = [(i, w) for i, enc in enumerate(encoded) for w in enc.windows]
        jobs.sort(key=lambda j: len(j[1].input_ids))  # similar lengths pad less
        per_item: list[list] = [[] for _ in items]
        pad = tokenizer.pad_token_id or 0
        size = int(self.config["batch_size"])
        done_items: set[int] = set()
        remaining = [len(enc.windows) for enc in encoded]
        with torch.inference_mode():
            for k in range(0, len(jobs), size):
                batch = jobs[k:k + size]
                probs = window_probs(net, [w for _, w in batch], pad, "token_type_ids" in tokenizer.model_input_names)
                for (i, w), p in zip(batch, probs):
                    per_item[i].append((w.out_first, p[w.out_pos:w.out_pos + w.n_out]))
                    remaining[i] -= 1
                    if not remaining[i]:
                        done_items.add(i)
                progress(len(done_items), len(items), f"{self.name}: {len(done_items)}/{len(items)}")
        out = []
        for enc, windows in zip(encoded, per_item):
            probs = combine(windows, len(enc.offsets), self.config["combine"] or self.artifact.get("combine", "min"))
            out.append((enc.offsets, probs))
        progress(len(items), len(items), f"{self.name}: {len(items)}/{len(items)}")
        return out

    def result(self, item: DetectItem, offsets, probs: np.ndarray, threshold: float | None = None) -> DetectResult:
        threshold = self.threshold(item.task) if threshold is None else threshold
        spans = [Span(s, e, "unknown", round(p, 4), note="span classifier: hallucination probability")
                 for s, e, p in token_runs(item.output, offsets, probs, threshold)]
        return DetectResult(spans, round(float(probs.max()), 4) if len(probs) else 0.0)

    def detect(self, items: list[DetectItem], progress: Progress | None = None) -> list[DetectResult]:
        scores = self.token_scores(items, progress)
        return [self.result(it, offsets, probs) for it, (offsets, probs) in zip(items, scores)]

    # -- training (span_train.py does the work) ---------------------------------------------
    def fit(self, items: list[DetectItem], gold_spans: list[list[Span]], progress: Progress | None = None):
        """Fine-tune from the current weights (the shipped adapter by default) on these labels."""
        from hallu_core.detection.detectors.span_train import TrainConfig, examples_from_items, train

        cfg = TrainConfig(backbone=self.backbone, max_length=self.max_length, overlap=self.overlap,
                          device=self.config["device"])
        trained = train(examples_from_items(items, gold_spans), cfg, init_adapter=self.adapter, progress=progress)
        self._adopt(trained)
        return self

    def _adopt(self, trained) -> None:
        """Take over a training result: (state dict, artifact config), kept in memory until saved."""
        self._trained = trained
        self.artifact = {**self.artifact, **trained.artifact, "thresholds": self.artifact.get("thresholds", {"": 0.5})}
        self.adapter = str(trained.save_to_temp())

    def save(self, directory: str | Path) -> Path:
        from hallu_core.detection.detectors.span_train import write_artifact

        if not getattr(self, "_trained", None):
            raise RuntimeError("nothing trained to save: fit() the span detector first")
        return write_artifact(directory, self._trained.state, self.artifact)

    @classmethod
    def load(cls, directory: str | Path, **config) -> "SpanDetector":
        return cls(pretrained=str(directory), **config)
