"""Job functions: what `hallu_core.jobs.runner` runs in a background process.

Each takes (store, args, progress) and returns a small summary dict.
"""
from __future__ import annotations

from pathlib import Path

from hallu_core.store.database import Store


def import_job(store: Store, args: dict, progress) -> dict:
    from hallu_core.data.io import import_file

    progress(0, 1, f"importing {Path(args['path']).name}")
    summary = import_file(store, args["path"], dataset=args.get("dataset"))
    progress(1, 1, "imported")
    return summary


def demo_job(store: Store, args: dict, progress) -> dict:
    from hallu_core.demo.pipeline import run_demo

    return run_demo(store, seed=int(args.get("seed", 0)), progress=progress)


def finetune_job(store: Store, args: dict, progress) -> dict:
    from hallu_core.modeling.config import TrainConfig
    from hallu_core.modeling.train import finetune

    run = finetune(store, TrainConfig.from_dict(args["config"]), run_id=args.get("run_id"), progress=progress)
    return {"run_id": run.id, "status": run.status}


def distill_job(store: Store, args: dict, progress) -> dict:
    from hallu_core.modeling.config import DistillConfig
    from hallu_core.modeling.distill import distill

    run = distill(store, DistillConfig.from_dict(args["config"]), run_id=args.get("run_id"), progress=progress)
    return {"run_id": run.id, "status": run.status}


def generate_job(store: Store, args: dict, progress) -> dict:
    from hallu_core.modeling.config import GenerateConfig
    from hallu_core.modeling.generate import generate_from_config

    result = generate_from_config(store, GenerateConfig.from_dict(args["config"]), progress=progress)
    made, existed = result.get("generated", 0), result.get("skipped", 0)
    if made == 0 and existed:  # say so, rather than end on a bare "done 0/0"
        progress(1, 1, f"nothing to do: all {existed:,} generations already existed")
    else:
        progress(1, 1, f"generated {made:,}" + (f"; {existed:,} already existed and were kept" if existed else "")
                 + (f"; {result['empty']:,} are EMPTY (no text: a chat model prompted without its template, or "
                    "max_new_tokens too low?)" if result.get("empty") else ""))
    return result


def detect_job(store: Store, args: dict, progress) -> dict:
    """args: {"detectors": [...], "checkpoints": [...] (empty: all), "run_id", "config"}."""
    from hallu_core.detection.detect import run_detection
    from hallu_core.rates.tracking import log_rates_after_detection

    names = args.get("detectors") or [args["detector"]]
    summaries = {}
    for index, name in enumerate(names):
        def stage(done, total, message, index=index):  # one bar over every detector
            progress(index * 1000 + (1000 * done // total if total else 1000), 1000 * len(names), message)

        checkpoint_ids = args.get("checkpoints") or args.get("checkpoint_ids")
        summaries[name] = run_detection(store, name, run_id=args.get("run_id"), checkpoint_ids=checkpoint_ids,
                                        config=args.get("config"), progress=stage)
        log_rates_after_detection(store, name, args.get("run_id"), checkpoint_ids)
    return summaries
