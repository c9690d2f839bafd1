"""The span detector's model side: source and output read together in windows, a token's
probability combined over windows, the encoder loaded with its adapter (span.py is the detector,
span_train.py trains the adapter; both build on this module).

See span.py for the architecture and docs/detectors.md for why windows combine by the minimum.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np


from hallu_core.detection.detectors.base import DetectItem

log = logging.getLogger(__name__)

BUILTIN_SPAN = Path(__file__).with_name("weights") / "span"
BUNDLED = "bundled-minilm"  # the backbone name stored in artifacts: resolved to the installed MiniLM
CONFIG_FILE, ADAPTER_FILE = "span_config.json", "adapter.safetensors"
MIN_CONTEXT = 96  # context tokens every window keeps beside a long output
MODEL_LOCK = threading.Lock()


def backbone_path(backbone: str | None) -> str:
    if backbone in (None, "", BUNDLED):
        from hallu_core.detection.detectors.encoder import default_model_path

        return default_model_path()
    return backbone


def context_text(item: DetectItem) -> str:
    """What the output may lean on, as the classifier reads it: question, then source (a JSON
    record flattened to `key: value` lines: the same facts in far fewer tokens), then reference."""
    source = compact_source(item.source) if item.source else None
    parts = [item.question, source, item.reference]
    return "\n".join(p for p in parts if p and (p != item.question or item.question not in (source or "")))


def compact_source(source: str) -> str:
    try:
        data = json.loads(source)
    except ValueError:
        return source
    if not isinstance(data, (dict, list)):
        return source
    lines: list[str] = []

    def walk(value, key: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key} {k}".strip())
        elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
            for v in value:
                walk(v, key)
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value}")

    walk(data, "")
    return "\n".join(lines)


# -- windows -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    input_ids: list[int]
    token_type_ids: list[int]
    out_first: int  # index (into the output's tokens) of this window's first output token
    out_pos: int  # position of that token in input_ids
    n_out: int


@dataclass(frozen=True)
class Encoded:
    offsets: list[tuple[int, int]]  # character offsets of each output token in the output
    windows: list[Window]
    context_ids: list[int]


def window_starts(n_context: int, budget: int, overlap: int) -> list[int]:
    """Start offsets of context windows of `budget` tokens covering n_context tokens, consecutive
    windows sharing `overlap` tokens; the last one ends exactly at the context's end."""
    if n_context <= budget:
        return [0]
    step = max(1, budget - overlap)
    starts = list(range(0, n_context - budget, step))
    return starts + [n_context - budget]


def encode(tokenizer, context: str, output: str, max_length: int, overlap: int, max_windows: int = 0) -> Encoded:
    """Windows pairing context slices with the whole output (in chunks only when the output
    alone would not leave MIN_CONTEXT tokens of context). With `max_windows`, only the windows
    sharing the most tokens with the output are kept per output chunk (the others are the ones
    least likely to hold support, and reading them dominates the cost on long sources)."""
    out = tokenizer(output, add_special_tokens=False, return_offsets_mapping=True)
    ctx_ids = tokenizer(context, add_special_tokens=False)["input_ids"] if context else []
    out_ids, offsets = out["input_ids"], [tuple(o) for o in out["offset_mapping"]]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    chunk = max(1, max_length - 3 - min(MIN_CONTEXT, max_length // 4, len(ctx_ids)))
    windows = []
    for first in range(0, len(out_ids), chunk):
        piece = out_ids[first:first + chunk]
        budget = max_length - 3 - len(piece)
        starts = window_starts(len(ctx_ids), budget, overlap)
        if max_windows and len(starts) > max_windows:
            wanted = set(piece)
            starts = sorted(sorted(starts, key=lambda s: -len(wanted & set(ctx_ids[s:s + budget])))[:max_windows])
        for s in starts:
            ctx = ctx_ids[s:s + budget]
            ids = [cls, *ctx, sep, *piece, sep]
            windows.append(Window(ids, [0] * (len(ctx) + 2) + [1] * (len(piece) + 1), first, len(ctx) + 2, len(piece)))
    return Encoded(offsets, windows, ctx_ids)


def combine(per_window: list[tuple[int, np.ndarray]], n_tokens: int, how: str = "min") -> np.ndarray:
    """One probability per output token from every window that read it (`min` or `mean`)."""
    if how not in ("min", "mean"):
        raise ValueError(f"window combination must be 'min' or 'mean', got {how!r}")
    acc = np.full(n_tokens, np.inf if how == "min" else 0.0)
    count = np.zeros(n_tokens)
    for first, probs in per_window:
        sl = slice(first, first + len(probs))
        acc[sl] = np.minimum(acc[sl], probs) if how == "min" else acc[sl] + probs
        count[sl] += 1
    if how == "mean":
        acc = acc / np.maximum(count, 1)
    acc[count == 0] = 0.0
    return acc


def token_runs(text: str, offsets: list[tuple[int, int]], probs: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """(start, end, max prob) of runs of tokens at or over the threshold, widened to whole words
    (a span never cuts a word) and merged when only spaces or punctuation separate them."""
    runs: list[list] = []
    for (s, e), p in zip(offsets, probs):
        if e <= s or p < threshold or not any(c.isalnum() for c in text[s:e]):
            continue  # punctuation alone never starts or ends a span (it may sit inside one)
        while s > 0 and text[s - 1].isalnum():
            s -= 1
        while e < len(text) and text[e].isalnum():
            e += 1
        if runs and (s <= runs[-1][1] or not any(c.isalnum() for c in text[runs[-1][1]:s])):
            runs[-1][1] = max(runs[-1][1], e)
            runs[-1][2] = max(runs[-1][2], float(p))
        else:
            runs.append([s, e, float(p)])
    return [(s, e, p) for s, e, p in runs]


# -- the model ---------------------------------------------------------------------------
@lru_cache(maxsize=4)
def load_model(backbone: str, adapter: str | None, quantize: bool, device: str):
    """(tokenizer, network, artifact config): the backbone with the adapter merged in, eval mode,
    loaded once per process. int8 dynamic quantisation of the Linear layers on CPU when asked."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    path = backbone_path(backbone)
    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.path.isdir(path)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=offline)
    net = AutoModelForTokenClassification.from_pretrained(path, num_labels=2, local_files_only=offline)
    artifact = {}
    if adapter:
        artifact = read_artifact_config(adapter)
        net = attach_adapter(net, artifact["lora"], Path(adapter) / ADAPTER_FILE).merge_and_unload()
    net = net.eval().to(device)
    if quantize and device == "cpu":
        net = torch.ao.quantization.quantize_dynamic(net, {torch.nn.Linear}, dtype=torch.qint8)
    log.info("span detector: backbone %s, adapter %s, int8 %s, %s", path, adapter, quantize, device)
    return tokenizer, net, artifact


def read_artifact_config(folder: str | Path) -> dict:
    path = Path(folder) / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"no trained span detector at {folder} (missing {CONFIG_FILE})")
    return json.loads(path.read_text(encoding="utf-8"))


def lora_config(spec: dict):
    from peft import LoraConfig, TaskType

    return LoraConfig(task_type=TaskType.TOKEN_CLS, r=spec["r"], lora_alpha=spec["alpha"], lora_dropout=spec.get("dropout", 0.0),
                      target_modules=spec["target_modules"], modules_to_save=["classifier"])


def attach_adapter(net, spec: dict, weights: Path | None = None):
    """The network wrapped with a LoRA adapter (+ trainable head), loaded from `weights` when given."""
    from peft import get_peft_model, set_peft_model_state_dict

    model = get_peft_model(net, lora_config(spec))
    if weights is not None:
        from safetensors.torch import load_file

        result = set_peft_model_state_dict(model, load_file(str(weights)))
        missing = [k for k in getattr(result, "unexpected_keys", []) if "lora" in k or "classifier" in k]
        if missing:
            raise ValueError(f"{weights} does not fit this backbone: {missing[:3]}")
    return model


def device_name(device: str | None = None) -> str:
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def window_probs(net, windows: list[Window], pad: int, use_types: bool = True) -> list[np.ndarray]:
    """Label-1 probability at every position of each window (one padded forward pass)."""
    import torch

    width = max(len(w.input_ids) for w in windows)
    ids = torch.full((len(windows), width), pad, dtype=torch.long)
    types = torch.zeros((len(windows), width), dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for r, w in enumerate(windows):
        ids[r, :len(w.input_ids)] = torch.tensor(w.input_ids)
        types[r, :len(w.input_ids)] = torch.tensor(w.token_type_ids)
        mask[r, :len(w.input_ids)] = 1
    device = next(net.parameters()).device
    inputs = {"input_ids": ids, "attention_mask": mask, **({"token_type_ids": types} if use_types else {})}
    logits = net(**{k: v.to(device) for k, v in inputs.items()}).logits
    probs = logits.float().softmax(-1)[..., 1].cpu().numpy()
    return [probs[r] for r in range(len(windows))]
