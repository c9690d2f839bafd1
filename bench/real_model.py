"""SmolLM2-135M-Instruct through Hallu's own paths: conversion, generation tokens/s, LoRA throughput, memory.

    .venv/bin/python bench/real_model.py [--models DIR] [--batches 1 8 32] [--new-tokens 32] [--lora-steps 6]

Generation is timed on two workloads, chat-formatted, greedy: the capital-city questions of the fact table
(short answers: a batch runs on while most of its rows have stopped) and paragraph prompts (every row uses
its new tokens), through
`HFBackend.generate` (what `hallu generate` runs: per-token logprobs and offsets included) and through plain
`model.generate` on the same prompts; tokens count what each output kept, up to its end-of-turn token.
Conversion is timed into a fresh folder unless --models holds a converted model already. The last line is
one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from hallu_core.demo.facts import fact_set  # noqa: E402
from hallu_core.modeling.chat import chat_format  # noqa: E402
from hallu_core.modeling.config import DecodingConfig, TrainConfig  # noqa: E402
from hallu_core.modeling.generate_backends import HFBackend  # noqa: E402
from hallu_core.modeling.model_sources import local_model  # noqa: E402
from hallu_core.store.database import Store  # noqa: E402

NAME = "smollm2-135m-instruct"


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def time_generation(backend: HFBackend, questions: list[str], batch: int, new_tokens: int) -> dict:
    """Hallu's path and plain transformers on the same `batch` prompts (one warm-up pass first)."""
    prompts = questions[:batch]
    decoding = DecodingConfig(max_new_tokens=new_tokens)
    backend.generate(prompts[:1], DecodingConfig(max_new_tokens=4))
    started = time.perf_counter()
    outputs = backend.generate(prompts, decoding)
    hallu_s = time.perf_counter() - started
    hallu_tokens = sum(len(o[0].tokens) for o in outputs)

    tokenizer, model = backend.loaded.tokenizer, backend.loaded.model
    encoded = tokenizer([backend.chat.prompt(p) for p in prompts], return_tensors="pt", padding=True,
                        add_special_tokens=False)
    eos = backend.chat.end_of_turn_ids()
    started = time.perf_counter()
    with torch.inference_mode():
        rows = model.generate(**encoded, max_new_tokens=new_tokens, do_sample=False, eos_token_id=eos,
                              pad_token_id=tokenizer.pad_token_id)[:, encoded["input_ids"].shape[1]:].tolist()
    plain_s = time.perf_counter() - started
    plain_tokens = sum(next((i for i, t in enumerate(r) if t in eos), len(r)) for r in rows)
    return {"batch": batch, "hallu_tokens_per_s": round(hallu_tokens / hallu_s, 1), "hallu_s": round(hallu_s, 2),
            "plain_tokens_per_s": round(plain_tokens / plain_s, 1), "plain_s": round(plain_s, 2),
            "tokens": hallu_tokens, "same_texts": [o[0].text for o in outputs] == [
                tokenizer.decode(r[:next((i for i, t in enumerate(r) if t in eos), len(r))], skip_special_tokens=True)
                for r in rows]}


def time_lora(workspace: Path, location: str, steps: int) -> dict:
    """LoRA fine-tuning through `finetune` on capital records, batch 8: example passes per second."""
    from hallu_core.modeling.train import finetune

    facts = [f for f in fact_set() if f.relation == "capital"][:64]
    records = [{"prompt": f.question, "completion": f.sentence} for f in facts]
    workspace.mkdir(parents=True, exist_ok=True)
    data = workspace / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    config = TrainConfig(base_model=location, train_file=str(data), method="lora", max_steps=steps, batch_size=8,
                         save_every=steps, eval_every=steps, val_fraction=0.0, report_to=(), learning_rate=1e-3)
    store = Store(workspace)
    started = time.perf_counter()
    finetune(store, config)
    seconds = time.perf_counter() - started
    return {"steps": steps, "batch": 8, "seconds": round(seconds, 1), "s_per_step": round(seconds / steps, 2),
            "example_passes_per_s": round(steps * 8 / seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="a models folder (reused if it holds a converted model)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--lora-steps", type=int, default=6)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="hallu-bench-"))
    os.environ["HALLU_MODELS_DIR"] = args.models or str(scratch / "models")
    started = time.perf_counter()
    location = local_model(NAME, scratch / "ws")
    convert_s = round(time.perf_counter() - started, 1)
    backend = HFBackend.load(location)
    backend.chat = chat_format(backend.loaded.tokenizer)
    capitals = [f for f in fact_set() if f.relation == "capital"]
    workloads = {  # short: one-sentence answers that stop early; long: paragraphs that use every new token
        "short": [f.question for f in capitals],
        "long": [f"Write a paragraph about the history of {f.subject}." for f in capitals]}
    generation = [{"prompts": name, **time_generation(backend, questions, b, args.new_tokens)}
                  for name, questions in workloads.items() for b in args.batches]
    for row in generation:
        print(row, file=sys.stderr)
    ratios = {}
    for name in workloads:
        by_batch = {g["batch"]: g["hallu_tokens_per_s"] for g in generation if g["prompts"] == name}
        ratios[name] = round(by_batch[32] / by_batch[1], 2) if 1 in by_batch and 32 in by_batch else None
    lora = time_lora(scratch / "lora-ws", location, args.lora_steps)
    print(lora, file=sys.stderr)
    print(json.dumps({"convert_s": convert_s, "generation": generation,
                      "batch32_over_batch1": ratios, "lora": lora, "peak_rss_mb": peak_mb(), "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
