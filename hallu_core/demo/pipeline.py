"""`hallu demo`: the whole loop on the synthetic fact world, offline, in a few CPU minutes.

world -> base model (trained from scratch) -> fine-tune (checkpoints) -> generate from
every checkpoint with greedy and sampling -> the detectors that exist -> oracle labels
(annotator "oracle") -> oracle hallucination rate per checkpoint, split by whether the
person was known from pretraining, new in fine-tuning, or unseen.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from hallu_core.config import TrainConfig, default_demo_decodings
from hallu_core.demo.base_model import PretrainSettings, build_base_model
from hallu_core.demo.demo_report import demo_findings, oracle_labels, oracle_rates, run_detectors
from hallu_core.demo.world import EVAL_DATASET, write_world
from hallu_core.generate import generate_for_checkpoints
from hallu_core.store import Store
from hallu_core.train import finetune

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
DEMO_DETECTORS = ("lexical", "confidence", "consistency", "self_contradiction", "semantic", "default")


@dataclass(frozen=True)
class DemoSizes:
    """Every knob that trades time for fidelity; tests shrink them."""
    n_entities: int = 300
    bios_per_entity: int = 8
    eval_size: int = 120
    vocab_size: int = 1024
    n_layer: int = 4
    n_embd: int = 128
    pretrain_steps: int = 360
    pretrain_batch: int = 24
    pretrain_budget_s: float = 120.0  # a guard on a loaded machine; normally the steps end first
    finetune_epochs: float = 6.0  # val loss bottoms out near step 60 and then rises: overfitting
    finetune_lr: float = 1e-3
    finetune_batch: int = 16
    save_every: int = 32
    max_new_tokens: int = 40
    generate_batch: int = 64
    detectors: tuple[str, ...] = DEMO_DETECTORS


TEST_SIZES = DemoSizes(n_entities=60, bios_per_entity=3, eval_size=24, vocab_size=400, n_layer=1, n_embd=32,
                       pretrain_steps=30, pretrain_batch=8, finetune_epochs=2.0, finetune_batch=16, save_every=4,
                       max_new_tokens=12, detectors=("lexical",))


def _stage(progress: Progress, lo: int, hi: int, label: str) -> Progress:
    """Maps a stage's own (done, total) onto its share [lo, hi] of the demo's 100 units."""
    def report(done: int, total: int, message: str = "") -> None:
        frac = done / total if total else 1.0
        progress(lo + round((hi - lo) * min(1.0, frac)), 100, f"{label}: {message}" if message else label)
    return report


def run_demo(store: Store, *, seed: int = 0, workdir: str | Path | None = None, sizes: DemoSizes = DemoSizes(),
             progress: Progress | None = None) -> dict:
    """Build the demo into `store`; returns the run id, counts, timings and oracle rates per checkpoint.

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
    world = write_world(workdir / f"world-s{seed}", seed, n_entities=sizes.n_entities,
                        bios_per_entity=sizes.bios_per_entity, eval_size=sizes.eval_size)
    store.add_examples(world.eval_examples)
    lap("world")

    base_dir = workdir / f"base-model-s{seed}"
    if not (base_dir / "model.safetensors").exists():
        build_base_model(world.corpus, base_dir, vocab_size=sizes.vocab_size, n_layer=sizes.n_layer,
                         n_embd=sizes.n_embd, settings=PretrainSettings(
                             steps=sizes.pretrain_steps, batch_size=sizes.pretrain_batch, seed=seed,
                             time_budget_s=sizes.pretrain_budget_s),
                         progress=_stage(progress, 2, 40, "base model"))
    lap("base_model")

    config = TrainConfig(base_model=str(base_dir), train_file=str(workdir / f"world-s{seed}" / "finetune.jsonl"),
                         name=f"demo-s{seed}", learning_rate=sizes.finetune_lr, epochs=sizes.finetune_epochs,
                         batch_size=sizes.finetune_batch, save_every=sizes.save_every,
                         eval_every=max(1, sizes.save_every // 2),
                         lr_scheduler="constant", val_fraction=0.1, seed=seed, max_length=128, report_to=("tensorboard",))
    status = {r["id"]: r["meta"]["status"] for r in world.finetune}
    run_meta = {"demo": {"seed": seed, "sizes": asdict(sizes)}, "finetune_status": status,
                "known_records": sum(s == "known" for s in status.values()),
                "new_records": sum(s == "new" for s in status.values())}
    # grouped by person: validation holds people whose facts training never shows
    records = [{**r, "group": r["meta"]["entity_id"]} for r in world.finetune]
    run = finetune(store, config, records=records, run_meta=run_meta,
                   progress=_stage(progress, 40, 70, "fine-tuning"))
    lap("finetune")

    checkpoints = store.checkpoints(run.id)
    decodings = default_demo_decodings(sizes.max_new_tokens)
    counts = generate_for_checkpoints(store, [c.id for c in checkpoints], examples=world.eval_examples,
                                      decodings=decodings, batch_size=sizes.generate_batch,
                                      progress=_stage(progress, 70, 88, "generating"))
    lap("generate")

    generations = [g for c in checkpoints for g in store.generations(checkpoint_id=c.id)]
    examples = {e.id: e for e in world.eval_examples}
    detector_report = run_detectors(store, run.id, sizes.detectors, progress=_stage(progress, 88, 97, "detecting"))
    lap("detect")

    store.add_labels(oracle_labels(generations, examples, world.vocab))
    rates = oracle_rates(checkpoints, generations, examples, world.vocab)
    lap("oracle")
    progress(100, 100, "demo ready")
    result = {"run_id": run.id, "checkpoints": rates, "prompts": len(world.eval_examples),
              "decodings": [d.name for d in decodings], "generations": len(generations), "generate": counts,
              "detectors": detector_report, "seconds": {**timings, "total": round(time.monotonic() - started, 1)},
              "dataset": EVAL_DATASET, "findings": demo_findings(store)}
    log.info("demo done in %.1f s", result["seconds"]["total"])
    return result
