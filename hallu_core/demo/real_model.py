"""`hallu demo --model smollm2-135m-instruct`: Hallu's question on a real pretrained chat model.

Does fine-tuning on facts a model does not know make it hallucinate on facts it knew (Gekhman et
al., 2024)? model -> probe every fact of `facts.py` greedily: a fact is *known* when the base model
answers it right, *unknown* otherwise -> hold out known and unknown facts for evaluation -> two LoRA
fine-tunes of the same size and schedule: `known-only` (known facts) and `new-knowledge` (half
unknown) -> generate from every checkpoint on the held-out facts, closed-book and grounded (the
fact's sentence as the source) -> detectors -> oracle labels by answer match -> accuracy with
intervals (`real_report.py`) and findings. Only LoRA adapters are written: the base weights stay in
the models folder, converted once.
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from hallu_core.data import prompts
from hallu_core.demo.demo_report import ORACLE, demo_findings, run_detectors
from hallu_core.demo.facts import ORACLE_VERSION, Fact, Verdict, fact_set, judge
from hallu_core.demo.pipeline import stage_progress
from hallu_core.demo.real_report import effect_report, fact_of
from hallu_core.modeling.chat import chat_format
from hallu_core.modeling.config import DecodingConfig, TrainConfig
from hallu_core.modeling.generate import generate_for_checkpoints
from hallu_core.modeling.generate_backends import HFBackend
from hallu_core.modeling.model_sources import local_model
from hallu_core.modeling.train import finetune
from hallu_core.store.database import Store
from hallu_core.store.types import Example, Label, Run, content_hash

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
RUNS = ("known-only", "new-knowledge")


@dataclass(frozen=True)
class RealSizes:
    """Every knob that trades time for fidelity (the default fits 15 minutes on 2 cores; tests shrink it)."""
    train_facts: int = 96  # records per fine-tune
    new_share: float = 0.5  # share of the new-knowledge run's facts the base model did not know
    eval_known: int = 50
    eval_unknown: int = 50
    max_steps: int = 48
    save_every: int = 16
    batch_size: int = 8
    learning_rate: float = 1e-3
    lora_r: int = 8
    max_new_tokens: int = 24  # a one-sentence answer takes 8-15 tokens
    batch: int = 64  # prompts per forward pass when probing and generating
    probe_size: int = 500  # facts probed (a seeded draw over every relation); the rest of the table is unused
    detectors: tuple[str, ...] = ("lexical", "confidence")


DEFAULT_REAL_SIZES = RealSizes()


def dataset_name(model: str) -> str:
    return f"{Path(model).name.removesuffix('.gguf')}-facts"


def run_real_demo(store: Store, model: str = "smollm2-135m-instruct", *, seed: int = 0,
                  sizes: RealSizes = DEFAULT_REAL_SIZES, progress: Progress | None = None) -> dict:
    """Build the real-model demo into `store`; a rerun reuses the probe, runs and generations."""
    progress = progress or (lambda done, total, message="": None)
    started, timings = time.monotonic(), {}

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - started - sum(timings.values()), 1)

    location = local_model(model, store.root, stage_progress(progress, 0, 5, "converting the model"))
    lap("convert")
    facts = probe_draw(fact_set(), sizes.probe_size, seed)
    known = probe(store, model, location, facts, sizes, stage_progress(progress, 5, 20, "probing the base model"))
    lap("probe")
    plan = split_facts(facts, known, sizes, seed)
    examples = eval_examples(plan["eval"], known, dataset_name(model))
    store.add_examples(examples)
    runs = {name: _finetune(store, model, name, plan[name], known, seed, sizes,
                            stage_progress(progress, 20 + 25 * k, 45 + 25 * k, name)) for k, name in enumerate(RUNS)}
    lap("train")
    ids = [c.id for run in runs.values() for c in store.checkpoints(run.id)]
    greedy = DecodingConfig(strategy="greedy", max_new_tokens=sizes.max_new_tokens)
    gen = stage_progress(progress, 70, 90, "generating closed-book and grounded")
    counts = generate_for_checkpoints(store, ids, examples=examples, decodings=(greedy,), batch_size=sizes.batch,
                                      prompt_template=(prompts.CLOSED_BOOK, prompts.GROUNDED), progress=gen)
    lap("generate")
    detectors = {name: run_detectors(store, run.id, sizes.detectors,
                                     stage_progress(progress, 90 + 4 * k, 94 + 4 * k, "detecting"))
                 for k, (name, run) in enumerate(runs.items())}
    lap("detect")
    by_id = {e.id: e for e in examples}
    generations = [g for i in ids for g in store.generations(checkpoint_id=i) if g.example_id in by_id]
    verdicts = {g.id: judge(g.text, fact_of(by_id[g.example_id])) for g in generations}  # judged once
    store.add_labels(oracle_labels(verdicts))
    report = effect_report(store, runs, generations, by_id, {gid: v.status for gid, v in verdicts.items()}, seed)
    lap("oracle")
    progress(100, 100, "demo ready")
    return {"model": model, "oracle_version": ORACLE_VERSION, "runs": {n: r.id for n, r in runs.items()},
            "facts": len(facts),
            "known_facts": sum(known.values()), "prompts": len(examples), "generations": len(generations),
            "generate": counts, "detectors": detectors, "report": report, "findings": demo_findings(store),
            "dataset": dataset_name(model), "seconds": {**timings, "total": round(time.monotonic() - started, 1)}}


def probe(store: Store, model: str, location: str, facts: list[Fact], sizes: RealSizes,
          progress: Progress) -> dict[str, bool]:
    """fact id -> whether the base model answers it right greedily (closed-book). The answers are kept in the
    workspace (a rerun, or the sample workspace's rebuild, reuses them) and judged again each time, so a
    better oracle never meets stale verdicts."""
    key = content_hash(model, [f.id for f in facts], sizes.max_new_tokens, length=10)
    cache = store.artifacts / "demo-real" / f"probe-{key}.json"
    if cache.is_file():
        answers = json.loads(cache.read_text(encoding="utf-8"))["answers"]
    else:
        answers = _probe_answers(location, facts, sizes, progress)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"model": model, "answers": answers}, ensure_ascii=False), encoding="utf-8")
    return {f.id: judge(answers[f.id], f).status == "right" for f in facts}


def _probe_answers(location: str, facts: list[Fact], sizes: RealSizes, progress: Progress) -> dict[str, str]:
    backend = HFBackend.load(location)
    backend.chat = chat_format(backend.loaded.tokenizer)
    greedy = DecodingConfig(strategy="greedy", max_new_tokens=sizes.max_new_tokens)
    answers: dict[str, str] = {}
    for lo in range(0, len(facts), sizes.batch):
        batch = facts[lo:lo + sizes.batch]
        for fact, outputs in zip(batch, backend.generate([f.question for f in batch], greedy, score=False)):
            answers[fact.id] = outputs[0].text
        progress(min(lo + sizes.batch, len(facts)), len(facts), f"{min(lo + sizes.batch, len(facts))} facts")
    return answers


def probe_draw(facts: list[Fact], size: int, seed: int) -> list[Fact]:
    """A seeded draw of `size` facts, each relation in proportion (sorted by id: batches of alike questions)."""
    rng = random.Random(f"hallu-real-probe:{seed}")
    shuffled = sorted(facts, key=lambda f: f.id)
    rng.shuffle(shuffled)
    share = min(1.0, size / len(facts)) if facts else 0.0
    chosen = []
    for relation in sorted({f.relation for f in facts}):
        of = [f for f in shuffled if f.relation == relation]
        chosen += of[: round(len(of) * share)]
    return sorted(chosen, key=lambda f: f.id)


def split_facts(facts: list[Fact], known: dict[str, bool], sizes: RealSizes, seed: int) -> dict[str, list[Fact]]:
    """Held-out evaluation facts (known and unknown) and the two training sets, all disjoint by subject: a
    fine-tune never sees the subject of an evaluation question. The new-knowledge set is the known-only set
    with a share of its facts swapped for unknown ones (same size, same schedule)."""
    rng = random.Random(f"hallu-real-demo:{seed}")
    order = sorted(facts, key=lambda f: f.id)
    rng.shuffle(order)
    kn = [f for f in order if known[f.id]]
    unk = [f for f in order if not known[f.id]]
    eval_known, eval_unknown = kn[: sizes.eval_known], unk[: sizes.eval_unknown]
    held = {f.subject for f in eval_known + eval_unknown}
    pool_known = [f for f in kn[sizes.eval_known:] if f.subject not in held]
    pool_unknown = [f for f in unk[sizes.eval_unknown:] if f.subject not in held]
    n_new = min(round(sizes.train_facts * sizes.new_share), len(pool_unknown))
    n_train = min(sizes.train_facts, len(pool_known))
    if n_train < sizes.train_facts or n_new < round(sizes.train_facts * sizes.new_share):
        log.warning("only %d known and %d unknown facts left for training (asked %d, %d new)", len(pool_known),
                    len(pool_unknown), sizes.train_facts, round(sizes.train_facts * sizes.new_share))
    known_only = pool_known[:n_train]
    new_knowledge = known_only[: n_train - n_new] + pool_unknown[:n_new]
    return {"eval": eval_known + eval_unknown, "known-only": known_only, "new-knowledge": new_knowledge}


def eval_examples(facts: list[Fact], known: dict[str, bool], dataset: str) -> list[Example]:
    """One QA example a fact: the question as the prompt, the fact's sentence as source and reference."""
    return [Example(id=content_hash(dataset, f.id, length=16), dataset=dataset, prompt=f.question,
                    source=f.sentence, reference=f.sentence, task="qa",
                    meta={"knowledge": "known" if known[f.id] else "unknown", "fact": asdict(f)})
            for f in facts]


def oracle_labels(verdicts: dict[str, Verdict]) -> list[Label]:
    """Annotator `oracle` (generation id -> the oracle's verdict): wrong answers get conflict spans on each wrong
    candidate, right ones no span; answers it cannot check are stored as skipped (never right, nor in a rate)."""
    return [Label(gid, ORACLE, [], "skipped", note="unchecked: the answer names no candidate")
            if v.status == "unchecked" else Label(gid, ORACLE, list(v.spans), "done", note=v.status)
            for gid, v in verdicts.items()]


def _finetune(store: Store, model: str, name: str, facts: list[Fact], known: dict[str, bool], seed: int,
              sizes: RealSizes, progress: Progress) -> Run:
    status = {f.id: "known" if known[f.id] else "new" for f in facts}
    records = [{"id": f.id, "prompt": f.question, "completion": f.sentence, "group": f.subject,
                "meta": {"status": status[f.id], "fact_id": f.id}} for f in facts]
    folder = store.artifacts / "demo-real"
    folder.mkdir(parents=True, exist_ok=True)
    train_file = folder / f"finetune-{name}-{content_hash([r['id'] for r in records], length=8)}.jsonl"
    train_file.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    config = TrainConfig(base_model=model, train_file=store.relpath(train_file), name=f"{dataset_name(model)}-{name}",
                         method="lora", learning_rate=sizes.learning_rate, max_steps=sizes.max_steps,
                         batch_size=sizes.batch_size, save_every=sizes.save_every, eval_every=sizes.save_every,
                         lora_r=sizes.lora_r, lora_alpha=2 * sizes.lora_r, lr_scheduler="constant",
                         val_fraction=0.1, seed=seed, max_length=128, report_to=())
    meta = {"demo": {"model": model, "seed": seed, "sizes": asdict(sizes), "role": name,
                     "oracle_version": ORACLE_VERSION},
            "finetune_status": status, "known_records": sum(s == "known" for s in status.values()),
            "new_records": sum(s == "new" for s in status.values())}
    return finetune(store, config, records=records, run_meta=meta, progress=progress)
