"""Batched vs one-prompt-at-a-time generation: same model, same prompts, greedy decoding.

    HF_HUB_OFFLINE=1 python bench/generate.py [--model DIR] [--prompts 64] [--batch-size 32] [--max-new-tokens 32]

Without --model it builds the demo-sized GPT-2 (~0.9M parameters, random weights
trained for a few steps: speed does not depend on what the weights know) on the demo
corpus. Timings include the teacher-forced re-scoring that yields logprob and entropy.
Last stdout line: one JSON object of the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from hallu_core.modeling.config import DecodingConfig  # noqa: E402
from hallu_core.demo.base_model import build_model, train_tokenizer  # noqa: E402
from hallu_core.demo.world import build_world  # noqa: E402
from hallu_core.modeling.generate import generate_texts  # noqa: E402
from hallu_core.modeling.generate_backends import HFBackend  # noqa: E402


def demo_model(folder: Path) -> Path:
    world = build_world(0)
    tokenizer = train_tokenizer(world.corpus, 1024)
    model = build_model(tokenizer, n_layer=4, n_embd=128)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def timed(backend, prompts, decoding, batch_size, repeats) -> tuple[float, int]:
    best, tokens = float("inf"), 0
    for _ in range(repeats):
        started = time.perf_counter()
        outputs = generate_texts(backend, prompts, decoding, batch_size=batch_size)
        best = min(best, time.perf_counter() - started)
        tokens = sum(len(o[0].tokens) for o in outputs)
    return best, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="an HF model folder or id (default: the demo-sized model)")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="best of N for each mode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        location = args.model or demo_model(Path(tmp) / "model")
        backend = HFBackend.load(location)
        prompts = [e.prompt for e in build_world(0, eval_size=max(args.prompts, 3)).eval_examples][: args.prompts]
        # min_new_tokens-free greedy; the same prompts either way, so both modes do the same work
        decoding = DecodingConfig(strategy="greedy", max_new_tokens=args.max_new_tokens)
        backend.generate(prompts[:2], decoding)  # warm-up
        batched_s, batched_tokens = timed(backend, prompts, decoding, args.batch_size, args.repeats)
        single_s, single_tokens = timed(backend, prompts, decoding, 1, args.repeats)
    figures = {
        "model": str(args.model or "demo-gpt2-0.9M"), "device": str(backend.loaded.device),
        "threads": torch.get_num_threads(), "prompts": len(prompts), "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens, "batched_s": round(batched_s, 3), "single_s": round(single_s, 3),
        "batched_tokens_per_s": round(batched_tokens / batched_s, 1),
        "single_tokens_per_s": round(single_tokens / single_s, 1),
        "speedup": round(single_s / batched_s, 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
