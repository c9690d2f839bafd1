"""Fine-tuning data: prompt/completion records, the train/val split, tokenization and batching.

The loss is on completion tokens only: prompt positions get label -100, so the model
learns to answer, not to repeat questions. Each completion ends with the tokenizer's EOS (or, for a
chat model, the template's end-of-turn text) so a fine-tuned model learns where to stop.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from hallu_core.modeling.chat import ChatFormat
from hallu_core.modeling.config import ConfigError, TrainConfig
from hallu_core.store.database import Store

IGNORE = -100


def load_records(store: Store, config: TrainConfig) -> list[dict]:
    """{"prompt", "completion"} records from the config's train_file or workspace dataset."""
    if config.train_file:
        path = Path(config.train_file).expanduser()
        if store.abspath(str(path)).is_file():  # a relative path is the workspace's first (the form it stores)
            path = store.abspath(str(path))
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}: not JSON: {exc}") from exc
            if not isinstance(record.get("prompt"), str) or not isinstance(record.get("completion"), str):
                raise ConfigError(f"{path}:{number}: needs string fields prompt and completion")
            records.append(record)
    else:
        # a workspace dataset: the reference is the completion to learn
        records = [{"id": e.id, "prompt": e.prompt, "completion": " " + e.reference.lstrip(), "meta": e.meta}
                   for e in store.examples(config.dataset) if e.reference]
    if not records:
        raise ConfigError(f"no training records in {config.train_file or 'dataset ' + repr(config.dataset)}")
    return records


def split_records(records: list[dict], val_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Seeded split; about `val_fraction` of the records (at least one when asked for) go to validation.

    Records sharing a "group" value (e.g. the person a fact is about) land on the same
    side, so validation measures facts the model was not trained on: that is what lets
    overfitting show as a rising val loss.
    """
    groups: dict[object, list[dict]] = {}
    for index, record in enumerate(records):
        groups.setdefault(record.get("group", ("record", index)), []).append(record)
    order = list(groups.values())
    random.Random(f"hallu-split:{seed}").shuffle(order)
    want = 0 if val_fraction <= 0 or len(order) < 2 else max(1, round(len(records) * val_fraction))
    val: list[dict] = []
    while order and len(val) < want and len(order) > 1:
        val.extend(order.pop())
    return [r for group in order for r in group], val


def tokenize_records(tokenizer, records: list[dict], max_length: int, chat: ChatFormat | None = None) -> list[dict]:
    """Prompt and completion tokenized apart, exactly as generation sees the prompt.

    Raw: the completion closed by EOS. Chat (`chat.py`): the prompt as a user turn up to the assistant's,
    the completion as the answer closed by the template's end-of-turn text; the loss stays on the answer."""
    if not records:
        return []
    if chat is None:
        prompts = tokenizer([r["prompt"] for r in records])["input_ids"]
        completions = [list(ids) + [tokenizer.eos_token_id] for ids in
                       tokenizer([r["completion"] for r in records], add_special_tokens=False)["input_ids"]]
    else:
        prompts = tokenizer([chat.prompt(r["prompt"]) for r in records], add_special_tokens=False)["input_ids"]
        end = chat.end_of_turn
        completions = tokenizer([r["completion"].strip() + end for r in records], add_special_tokens=False)["input_ids"]
    out = []
    for prompt_ids, completion_ids in zip(prompts, completions):
        input_ids = (list(prompt_ids) + list(completion_ids))[:max_length]
        labels = ([IGNORE] * len(prompt_ids) + list(completion_ids))[:max_length]
        if any(label != IGNORE for label in labels):  # a prompt longer than max_length teaches nothing
            out.append({"input_ids": input_ids, "labels": labels})
    return out


class CompletionCollator:
    """Right-pads a batch; padded positions are masked out of attention and loss."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        input_ids, labels, mask = [], [], []
        for f in features:
            pad = width - len(f["input_ids"])
            input_ids.append(f["input_ids"] + [self.pad_token_id] * pad)
            labels.append(f["labels"] + [IGNORE] * pad)
            mask.append([1] * len(f["input_ids"]) + [0] * pad)
        return {"input_ids": torch.tensor(input_ids), "labels": torch.tensor(labels),
                "attention_mask": torch.tensor(mask)}
