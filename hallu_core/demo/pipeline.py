"""`hallu demo`: the whole loop on the synthetic fact world, offline, in a few CPU minutes.

world -> base model (trained from scratch; it knows the `known` people) -> four runs from it:
  known-only      full fine-tune on known facts only
  new-knowledge   the same size, about half new facts (Gekhman et al., 2024)
  lora            the new-knowledge set with a LoRA adapter (mitigation: PEFT)
  distill         the new-knowledge set learnt from the known-only model's token distributions
                  (mitigation: knowledge distillation)
-> generate from every checkpoint: greedy and sampling at two temperatures (decoding as a cause),
   plus greedy with the grounded template (mitigation: the fact card in the prompt)
-> detectors -> oracle labels (annotator "oracle") -> rates per checkpoint, split by whether the
person was known from pretraining, new in fine-tuning, or unseen.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from hallu_core.data import prompts
from hallu_core.demo.base_model import PretrainSettings, build_base_model
from hallu_core.demo.demo_report import demo_figures, demo_findings, oracle_labels, oracle_rates, run_detectors
from hallu_core.demo.world import EVAL_DATASET, World, write_world
from hallu_core.modeling.config import DistillConfig, TrainConfig, default_demo_decodings
from hallu_core.modeling.distill import distill
from hallu_core.modeling.generate import generate_for_checkpoints
from hallu_core.modeling.train import finetune
from hallu_core.store.database import Store
from hallu_core.store.types import Run, content_hash

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
DEMO_DETECTORS = ("lexical", "confidence", "self_contradiction", "default")
RUNS = ("known-only", "new-knowledge", "lora", "distill")


@dataclass(frozen=True)
class DemoSizes:
    """Every knob that trades time for fidelity; tests shrink them."""
    n_known: int = 60
    n_unseen: int = 30
    new_knowledge: float = 0.5  # share of the new-knowledge run's people the base model never saw
    bios_per_entity: int = 3
    eval_size: int = 90
    vocab_size: int = 1024
    n_layer: int = 4
    n_embd: int = 128
    n_positions: int = 192  # a grounded prompt (fact card + question) plus the answer
    pretrain_steps: int = 400
    pretrain_batch: int = 24
    pretrain_budget_s: float = 150.0  # a guard on a loaded machine; normally the steps end first
    finetune_epochs: float = 12.0  # long enough to learn the new facts and overfit them
    finetune_lr: float = 3e-4  # gentle enough that known facts alone leave the base model's knowledge intact
    finetune_batch: int = 16
    lora_lr: float = 1e-3  # an adapter of a few thousand weights takes a larger step
    distill_temperature: float = 2.0
    distill_alpha: float = 0.5
    save_every: int = 24
    temperatures: tuple[float, ...] = (0.7, 1.3)
    max_new_tokens: int = 40
    generate_batch: int = 96
    detectors: tuple[str, ...] = DEMO_DETECTORS


DEFAULT_SIZES = DemoSizes()
TEST_SIZES = DemoSizes(n_known=16, n_unseen=6, eval_size=18, bios_per_entity=1, vocab_size=400, n_layer=1,
                       n_embd=32, pretrain_steps=30, pretrain_batch=8, finetune_epochs=2.0, finetune_batch=8,
                       save_every=4, max_new_tokens=12, detectors=("lexical",))


def stage_progress(progress: Progress, lo: int, hi: int, label: str) -> Progress:
    """Maps a stage's own (done, total) onto its share [lo, hi] of the demo's 100 units."""
    def report(done: int, total: int, message: str = "") -> None:
        frac = done / total if total else 1.0
        text = f"{label}: {message}" if label and message else label or message
        progress(lo + round((hi - lo) * min(1.0, frac)), 100, text)
    return report


def run_demo(store: Store, *, seed: int = 0, workdir: str | Path | None = None, sizes: DemoSizes = DEFAULT_SIZES,
             progress: Progress | None = None) -> dict:
    """Build the demo into `store`; returns the runs, counts, timings, oracle rates and headline figures.

    `workdir` holds the world files and the base model (default: <workspace>/artifacts/demo).
    A rerun reuses the base model and skips existing checkpoints and generations.
    """
    progress = progress or (lambda done, total, message="": None)
    workdir = Path(workdir) if workdir else store.artifacts / "demo"
    timings: dict[str, float] = {}
    started = time.monotonic()

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - started - sum(timings.values()), 1)

    progress(0, 100, "building the fact world")
    tag = _tag(seed, sizes)
    world_dir = workdir / f"world-{tag}"
    world = write_world(world_dir, seed, n_known=sizes.n_known, n_unseen=sizes.n_unseen,
                        new_knowledge=sizes.new_knowledge, bios_per_entity=sizes.bios_per_entity,
                        eval_size=sizes.eval_size)
    store.add_examples(world.eval_examples)
    lap("world")

    base_dir = workdir / f"base-model-{tag}"
    if not (base_dir / "model.safetensors").exists():
        build_base_model(world.corpus, base_dir, vocab_size=sizes.vocab_size, n_layer=sizes.n_layer,
                         n_embd=sizes.n_embd, n_positions=sizes.n_positions, settings=PretrainSettings(
                             steps=sizes.pretrain_steps, batch_size=sizes.pretrain_batch, seed=seed,
                             time_budget_s=sizes.pretrain_budget_s),
                         progress=stage_progress(progress, 2, 35, "base model"))
    lap("base_model")

    runs = _train_runs(store, world, world_dir, base_dir, seed, tag, sizes, stage_progress(progress, 35, 70, "training"))
    lap("train")

    checkpoints = [c for run in runs.values() for c in store.checkpoints(run.id)]
    ids = [c.id for c in checkpoints]
    decodings = default_demo_decodings(sizes.max_new_tokens, sizes.temperatures)
    gen_progress = stage_progress(progress, 70, 88, "generating")
    counts = generate_for_checkpoints(store, ids, examples=world.eval_examples, decodings=decodings,
                                      batch_size=sizes.generate_batch, progress=stage_progress(gen_progress, 0, 75, ""))
    grounded = generate_for_checkpoints(store, ids, examples=world.eval_examples, decodings=decodings[:1],
                                        batch_size=sizes.generate_batch, prompt_template=prompts.GROUNDED,
                                        progress=stage_progress(gen_progress, 75, 100, ""))
    lap("generate")

    generations = [g for c in checkpoints for g in store.generations(checkpoint_id=c.id)]
    detector_report = {}
    for k, run in enumerate(runs.values()):
        lo = 88 + k * 9 // len(runs)
        detector_report[run.name] = run_detectors(store, run.id, sizes.detectors,
                                                  progress=stage_progress(progress, lo, lo + 9 // len(runs), "detecting"))
    lap("detect")

    examples = {e.id: e for e in world.eval_examples}
    labels = oracle_labels(generations, examples, world.vocab)
    store.add_labels(labels)
    flagged = {label.generation_id: bool(label.spans) for label in labels}
    rates = {name: oracle_rates(store.checkpoints(run.id), generations, examples, flagged)
             for name, run in runs.items()}
    lap("oracle")
    progress(100, 100, "demo ready")
    result = {"runs": {name: run.id for name, run in runs.items()}, "rates": rates,
              "figures": demo_figures(rates, generations, examples), "prompts": len(world.eval_examples),
              "decodings": [d.name for d in decodings], "generations": len(generations),
              "generate": {"closed-book": counts, "grounded": grounded}, "detectors": detector_report,
              "seconds": {**timings, "total": round(time.monotonic() - started, 1)},
              "dataset": EVAL_DATASET, "findings": demo_findings(store)}
    log.info("demo done in %.1f s", result["seconds"]["total"])
    return result


def _tag(seed: int, sizes: DemoSizes) -> str:
    """The world's and base model's folder suffix: `s0` with the default world and pretraining, plus a hash of
    whatever differs (another new-knowledge share draws other people: a stored base model must not be reused)."""
    fields = ("n_known", "n_unseen", "new_knowledge", "bios_per_entity", "eval_size", "vocab_size", "n_layer",
              "n_embd", "n_positions", "pretrain_steps", "pretrain_batch")
    changed = {f: getattr(sizes, f) for f in fields if getattr(sizes, f) != getattr(DEFAULT_SIZES, f)}
    return f"s{seed}" + (f"-{content_hash(changed, length=8)}" if changed else "")


def _train_runs(store: Store, world: World, world_dir: Path, base_dir: Path, seed: int, tag: str, sizes: DemoSizes,
                progress: Progress) -> dict[str, Run]:
    """The four runs from the base model, in order (the distilled student's teacher is known-only's last step)."""
    schedule = dict(epochs=sizes.finetune_epochs, batch_size=sizes.finetune_batch, save_every=sizes.save_every,
                    eval_every=sizes.save_every, lr_scheduler="constant", val_fraction=0.1, seed=seed,
                    max_length=128, report_to=("tensorboard",))
    runs: dict[str, Run] = {}
    for k, name in enumerate(RUNS):
        data = "known-only" if name == "known-only" else "new-knowledge"
        records = world.finetune[data]
        status = {r["id"]: r["meta"]["status"] for r in records}
        meta = {"demo": {"seed": seed, "sizes": asdict(sizes), "role": name}, "finetune_status": status,
                "known_records": sum(s == "known" for s in status.values()),
                "new_records": sum(s == "new" for s in status.values())}
        # grouped by person: validation holds people whose facts training never shows
        grouped = [{**r, "group": r["meta"]["entity_id"]} for r in records]
        train_file = store.relpath(world_dir / f"finetune-{data}.jsonl")  # relative: the workspace can move
        stage = stage_progress(progress, k * 100 // len(RUNS), (k + 1) * 100 // len(RUNS), name)
        if name == "distill":
            teacher = store.checkpoints(runs["known-only"].id)[-1].id
            config = DistillConfig(teacher=teacher, student=store.relpath(base_dir), train_file=train_file,
                                   name=f"demo-{tag}-{name}", learning_rate=sizes.finetune_lr,
                                   temperature=sizes.distill_temperature, alpha=sizes.distill_alpha, **schedule)
            runs[name] = distill(store, config, records=grouped, run_meta=meta, progress=stage)
        else:
            lora = name == "lora"
            config = TrainConfig(base_model=store.relpath(base_dir), train_file=train_file, name=f"demo-{tag}-{name}",
                                 method="lora" if lora else "full",
                                 learning_rate=sizes.lora_lr if lora else sizes.finetune_lr, **schedule)
            runs[name] = finetune(store, config, records=grouped, run_meta=meta, progress=stage)
    return runs
