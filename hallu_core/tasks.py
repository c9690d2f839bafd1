"""Job functions: what `hallu_core.jobs` runs in a background process.

Each takes (store, args, progress) and returns a small summary dict.
"""
from __future__ import annotations

from pathlib import Path

from .store import Store


def import_job(store: Store, args: dict, progress) -> dict:
    from .io import import_file

    progress(0, 1, f"importing {Path(args['path']).name}")
    summary = import_file(store, args["path"], dataset=args.get("dataset"))
    progress(1, 1, "imported")
    return summary


def demo_job(store: Store, args: dict, progress) -> dict:
    from .demo.pipeline import run_demo

    return run_demo(store, seed=int(args.get("seed", 0)), progress=progress)


def finetune_job(store: Store, args: dict, progress) -> dict:
    from .config import TrainConfig
    from .train import finetune

    run = finetune(store, TrainConfig.from_dict(args["config"]), run_id=args.get("run_id"), progress=progress)
    return {"run_id": run.id, "status": run.status}


def generate_job(store: Store, args: dict, progress) -> dict:
    from .config import GenerateConfig
    from .generate import generate_for_checkpoints

    cfg = GenerateConfig.from_dict(args["config"])
    return generate_for_checkpoints(store, cfg.checkpoints, dataset=cfg.dataset, decodings=cfg.decodings,
                                    batch_size=cfg.batch_size, backend=cfg.backend, progress=progress)


def detect_job(store: Store, args: dict, progress) -> dict:
    """args: {"detectors": [...], "checkpoints": [...] (empty: all), "run_id", "config"}."""
    from .detect import run_detection

    names = args.get("detectors") or [args["detector"]]
    summaries = {}
    for index, name in enumerate(names):
        def stage(done, total, message, index=index):  # one bar over every detector
            progress(index * 1000 + (1000 * done // total if total else 1000), 1000 * len(names), message)

        summaries[name] = run_detection(store, name, run_id=args.get("run_id"),
                                        checkpoint_ids=args.get("checkpoints") or args.get("checkpoint_ids"),
                                        config=args.get("config"), progress=stage)
    return summaries
