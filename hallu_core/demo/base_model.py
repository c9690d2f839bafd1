"""A tiny GPT-2-shaped model and byte-level BPE tokenizer trained from scratch.

It stands in for a pretrained LM in the demo: trained in-process on the demo corpus in
well under a minute on 2 CPU cores, then saved as an ordinary HF model folder
(config.json, model.safetensors, tokenizer files) that every other part of Hallu loads
like any HF model. Tests use the same builders to make models of a few thousand
parameters in seconds.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

log = logging.getLogger(__name__)
EOS = "<|endoftext|>"
PAD = "<|pad|>"
Progress = Callable[[int, int, str], None]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """Byte-level BPE (GPT-2's scheme: any string encodes, nothing is ever unknown)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=[EOS, PAD],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    # a distinct pad token keeps padding apart from the EOS the model must learn to emit
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, bos_token=EOS, pad_token=PAD,
                                   unk_token=None, clean_up_tokenization_spaces=False)


def build_model(tokenizer: PreTrainedTokenizerFast, *, n_layer: int = 4, n_embd: int = 128, n_head: int = 4,
                n_positions: int = 128, dropout: float = 0.0, seed: int = 0) -> GPT2LMHeadModel:
    """A randomly initialised GPT-2 (tied embeddings) sized for the tokenizer."""
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
                        n_head=n_head, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    model = GPT2LMHeadModel(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def pack_blocks(tokenizer, texts: list[str], block: int) -> torch.Tensor:
    """Documents joined by EOS and cut into equal blocks: no padding wasted in pretraining."""
    ids: list[int] = []
    for encoded in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        ids.extend(encoded)
        ids.append(tokenizer.eos_token_id)
    if len(ids) < block:  # a tiny test corpus: repeat it to fill one block
        ids = ids * math.ceil(block / len(ids))
    n_blocks = len(ids) // block
    return torch.tensor(ids[: n_blocks * block], dtype=torch.long).view(n_blocks, block)


@dataclass(frozen=True)
class PretrainSettings:
    steps: int = 600
    batch_size: int = 32
    block: int = 64
    learning_rate: float = 3e-3
    warmup: int = 30
    seed: int = 0
    time_budget_s: float | None = None  # stop early (at a step boundary) when this is spent


def pretrain(model, tokenizer, texts: list[str], settings: PretrainSettings = PretrainSettings(),
             progress: Progress | None = None) -> list[float]:
    """Plain next-token training loop (a Trainer adds nothing for a 1-minute run); returns the losses."""
    progress = progress or (lambda done, total, message="": None)
    blocks = pack_blocks(tokenizer, texts, settings.block)
    generator = torch.Generator().manual_seed(settings.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.01)

    def lr_at(step: int) -> float:  # linear warmup, cosine decay to 10%
        if step < settings.warmup:
            return (step + 1) / settings.warmup
        frac = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    model.train()
    losses: list[float] = []
    started = time.monotonic()
    for step in range(settings.steps):
        batch = blocks[torch.randint(len(blocks), (settings.batch_size,), generator=generator)]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if step % 20 == 0 or step == settings.steps - 1:
            progress(step + 1, settings.steps, f"pretraining base model: loss {loss.item():.3f}")
        if settings.time_budget_s and time.monotonic() - started > settings.time_budget_s:
            log.info("pretraining stopped at step %d: time budget spent", step + 1)
            break
    model.eval()
    return losses


def build_base_model(texts: list[str], out_dir: str | Path, *, vocab_size: int = 1024, n_layer: int = 4,
                     n_embd: int = 128, n_head: int = 4, n_positions: int = 128,
                     settings: PretrainSettings = PretrainSettings(), progress: Progress | None = None) -> dict:
    """Tokenizer + model trained on `texts` and saved to `out_dir`; returns a summary."""
    started = time.monotonic()
    tokenizer = train_tokenizer(texts, vocab_size)
    model = build_model(tokenizer, n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_positions=n_positions,
                        seed=settings.seed)
    losses = pretrain(model, tokenizer, texts, settings, progress)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    summary = {"path": str(out_dir), "parameters": sum(p.numel() for p in model.parameters()),
               "vocab_size": len(tokenizer), "steps": len(losses), "final_loss": sum(losses[-20:]) / len(losses[-20:]),
               "seconds": round(time.monotonic() - started, 1)}
    log.info("base model: %s", summary)
    return summary


TINY_CORPUS = [
    "Ada Lindqvist was born in Lindor in 1931. She is a pilot at Kestrel Press.",
    "Bo Varesh is a chemist. He was born in Oskalo in 1950 and works at Thistle Works.",
    "Question: In which city was Ada Lindqvist born?\nAnswer: Ada Lindqvist was born in Lindor.",
    "Café owners in Zürich say naïve things — 東京 and emoji 🙂 too.",
]


def make_tiny_model(out_dir: str | Path, *, seed: int = 0, pretrain_steps: int = 0, texts: list[str] | None = None,
                    n_embd: int = 32, n_layer: int = 1) -> Path:
    """A model of a few tens of thousands of parameters saved as an HF folder: for tests (seconds)."""
    texts = texts or TINY_CORPUS * 4
    tokenizer = train_tokenizer(texts, vocab_size=300)
    model = build_model(tokenizer, n_layer=n_layer, n_embd=n_embd, n_head=2, n_positions=96, seed=seed)
    if pretrain_steps:
        pretrain(model, tokenizer, texts, PretrainSettings(steps=pretrain_steps, batch_size=4, block=32, warmup=2,
                                                           seed=seed))
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
