"""Training the `span` detector: a LoRA adapter + classifier head over an encoder, CPU or CUDA.

Each example is (context, output, gold character spans). An output token is labelled 1 when it
overlaps a gold span; context and special tokens carry no label. A context longer than the window
is cut as at inference, and each output chunk is trained on the window that shares the most
tokens with it (the window most likely to hold the support: the one `min` combination trusts).
Batches are bucketed by length (less padding); the loss weighs hallucinated tokens up
(`pos_weight`) because they are a few percent of output tokens.
"""
from __future__ import annotations

import json
import logging
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, StrictInt, StrictStr

from hallu_core.detection.detectors.base import DetectItem, Progress, no_progress
from hallu_core.detection.detectors.span_model import (
    ADAPTER_FILE, BUNDLED, CONFIG_FILE, attach_adapter, backbone_path, context_text, encode, read_artifact_config,
)
from hallu_core.store.types import Span
from hallu_core.validated import Config, number

log = logging.getLogger(__name__)
LORA_DEFAULT = {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": ["query", "key", "value", "dense"]}


@dataclass(frozen=True)
class TrainExample:
    context: str
    output: str
    spans: tuple[tuple[int, int], ...]
    task: str = ""
    origin: str = "human"  # human | synthetic:<perturbation> | faithful


class TrainConfig(Config):
    """How `train` fits the adapter; saved whole as the artifact's "recipe". Each description says what a
    field allows (the error's words and the JSON schema's)."""
    backbone: StrictStr = Field(BUNDLED, min_length=1, description="an HF encoder id or a local folder")
    max_length: StrictInt = Field(384, gt=0, description="a positive integer (tokens per window)")
    overlap: StrictInt = Field(64, ge=0, description="a non-negative integer (tokens two windows share)")
    epochs: StrictInt = Field(2, gt=0, description="a positive integer")
    lr: number(ge=0) = Field(5e-4, description="a non-negative number")
    batch_size: StrictInt = Field(8, gt=0, description="a positive integer")
    pos_weight: number(gt=0) = Field(2.0, description="a positive number (the hallucinated tokens' loss weight)")
    warmup: number(ge=0, le=1) = Field(0.1, description="a number in [0, 1] (share of the steps)")
    seed: StrictInt = Field(0, description="an integer")
    device: StrictStr | None = Field(None, description="null (CUDA when available) or a torch device")
    threads: StrictInt | None = Field(None, ge=0, description="null or a number of CPU threads")
    lora: dict = Field(default_factory=lambda: dict(LORA_DEFAULT), description="peft LoRA settings (r, alpha, ...)")


@dataclass
class TrainResult:
    state: dict  # the adapter's tensors (LoRA matrices + classifier head)
    artifact: dict  # span_config.json's content
    losses: list[float]

    def save_to_temp(self) -> Path:
        return write_artifact(tempfile.mkdtemp(prefix="hallu-span-"), self.state, self.artifact)


def examples_from_items(items: list[DetectItem], golds: list[list[Span]], origin: str = "human") -> list[TrainExample]:
    return [TrainExample(context_text(it), it.output, tuple((s.start, s.end) for s in gold), it.task, origin)
            for it, gold in zip(items, golds)]


def features(tokenizer, ex: TrainExample, max_length: int, overlap: int) -> list[tuple[list, list, list]]:
    """(input_ids, token_type_ids, labels) per output chunk, on the chunk's best-supported window."""
    enc = encode(tokenizer, ex.context, ex.output, max_length, overlap)
    token_labels = [int(any(s < ge and gs < e for gs, ge in ex.spans)) if e > s else -100 for s, e in enc.offsets]
    best: dict[int, tuple[int, object]] = {}
    for w in enc.windows:
        out_ids = set(w.input_ids[w.out_pos:w.out_pos + w.n_out])
        shared = len(out_ids & set(w.input_ids[1:w.out_pos - 1]))
        if w.out_first not in best or shared > best[w.out_first][0]:
            best[w.out_first] = (shared, w)
    rows = []
    for _, w in best.values():
        labels = [-100] * len(w.input_ids)
        labels[w.out_pos:w.out_pos + w.n_out] = token_labels[w.out_first:w.out_first + w.n_out]
        rows.append((w.input_ids, w.token_type_ids, labels))
    return rows


def _batches(rows: list, size: int, rng: random.Random) -> list[list]:
    """Length-bucketed batches in a shuffled order (similar lengths together pad less)."""
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i][0]), rng.random()))
    batches = [order[k:k + size] for k in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def _tensors(rows: list, idx: list[int], pad: int, use_types: bool):
    import torch

    width = max(len(rows[i][0]) for i in idx)
    ids = torch.full((len(idx), width), pad, dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for r, i in enumerate(idx):
        n = len(rows[i][0])
        ids[r, :n], types[r, :n], labels[r, :n] = torch.tensor(rows[i][0]), torch.tensor(rows[i][1]), torch.tensor(rows[i][2])
        mask[r, :n] = 1
    inputs = {"input_ids": ids, "attention_mask": mask, **({"token_type_ids": types} if use_types else {})}
    return inputs, labels


def train(examples: list[TrainExample], cfg: TrainConfig, init_adapter: str | None = None,
          progress: Progress | None = None, epoch_dir: str | Path | None = None, show_bar: bool = False) -> TrainResult:
    """Train the adapter; with `epoch_dir`, each epoch's weights are also written to epoch_dir/epoch<N>."""
    import torch
    from peft import get_peft_model_state_dict
    from tqdm import tqdm
    from transformers import AutoModelForTokenClassification, AutoTokenizer, get_linear_schedule_with_warmup

    progress = progress or no_progress
    if not examples:
        raise ValueError("no training examples")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
    path = backbone_path(cfg.backbone)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    net = AutoModelForTokenClassification.from_pretrained(path, num_labels=2, local_files_only=True)
    lora = read_artifact_config(init_adapter)["lora"] if init_adapter else cfg.lora
    model = attach_adapter(net, lora, Path(init_adapter) / ADAPTER_FILE if init_adapter else None).to(device)
    rows = [r for ex in examples for r in features(tokenizer, ex, cfg.max_length, cfg.overlap)]
    use_types = "token_type_ids" in tokenizer.model_input_names
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    steps = cfg.epochs * -(-len(rows) // cfg.batch_size)
    schedule = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup * steps), steps)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, cfg.pos_weight], device=device), ignore_index=-100)
    losses, step, started = [], 0, time.time()
    bar = tqdm(total=steps, desc="train span detector", unit="batch", disable=not show_bar)
    artifact = {"backbone": cfg.backbone, "max_length": cfg.max_length, "overlap": cfg.overlap, "combine": "min",
                "lora": lora, "recipe": {**cfg.model_dump(), "examples": len(examples), "windows": len(rows),
                                         "init_adapter": bool(init_adapter)}}
    model.train()
    for epoch in range(cfg.epochs):
        for idx in _batches(rows, cfg.batch_size, rng):
            inputs, labels = _tensors(rows, idx, tokenizer.pad_token_id or 0, use_types)
            logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits
            loss = loss_fn(logits.reshape(-1, 2), labels.to(device).reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}", epoch=epoch + 1)
            progress(step, steps, f"training span detector: epoch {epoch + 1}/{cfg.epochs}, "
                                  f"loss {sum(losses[-20:]) / len(losses[-20:]):.3f}")
        if epoch_dir is not None:
            state = {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(model).items()}
            write_artifact(Path(epoch_dir) / f"epoch{epoch + 1}", state, {**artifact, "epochs_done": epoch + 1})
        log.info("span detector epoch %d/%d: mean loss %.4f (%.0f s)", epoch + 1, cfg.epochs,
                 sum(losses[-len(rows):]) / max(1, len(losses[-len(rows):])), time.time() - started)
    bar.close()
    state = {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(model).items()}
    return TrainResult(state, {**artifact, "epochs_done": cfg.epochs}, losses)


def write_artifact(directory: str | Path, state: dict, artifact: dict) -> Path:
    """adapter.safetensors + span_config.json in `directory` (written whole, then renamed in)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (ADAPTER_FILE + ".tmp")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
    tmp.chmod(0o644)  # shipped as package data: readable by every user
    tmp.replace(directory / ADAPTER_FILE)
    cfg_tmp = directory / (CONFIG_FILE + ".tmp")
    cfg_tmp.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    cfg_tmp.replace(directory / CONFIG_FILE)
    return directory


def read_labeled_jsonl(path: str | Path) -> list[TrainExample]:
    """Training examples from a RAGTruth-schema JSONL (validated as by `hallu import`)."""
    from hallu_core.detection.detectors.filemode import gold_spans, items_from_records, read_records

    records = read_records(path)
    return examples_from_items(items_from_records(records), [gold_spans(r) for r in records])
