"""Rebuild the shipped `span` detector (hallu_core/detection/detectors/weights/span/) end to end.

1. rows of the dev slice's tuning part only (weights/ragtruth_split.json; the lockbox is never read);
2. the tuning sources in 3 folds: folds 1-2 train, fold 0 validates (thresholds, epoch);
3. training examples: the train folds' human rows (hallucinated rows twice) + synthetic
   perturbations of their faithful answers and source excerpts (synthetic_spans.py);
4. LoRA adapter + head trained over the bundled MiniLM, one artifact per epoch;
5. per-task thresholds = the best span F1 on the validation fold; written with the adapter.

    HF_HUB_OFFLINE=1 python scripts/build_span_detector.py [--epochs 1] [--synthetic 450] [--work DIR]

Token scores of the validation rows are cached in --work for bench/eval_ragtruth.py's choices.
"""
from __future__ import annotations

import argparse
import json
import logging
import pickle
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hallu_core import set_process_defaults  # noqa: E402

set_process_defaults()  # before torch is first imported, as the CLI and jobs do

import numpy as np  # noqa: E402

from hallu_core.detection.detectors.filemode import gold_spans, items_from_records, read_records  # noqa: E402
from hallu_core.detection.detectors.span import SpanDetector  # noqa: E402
from hallu_core.detection.detectors.span_model import BUILTIN_SPAN  # noqa: E402
from hallu_core.detection.detectors.span_split import load_split, tuning_folds  # noqa: E402
from hallu_core.detection.detectors.span_train import TrainConfig, examples_from_items, train, write_artifact  # noqa: E402
from hallu_core.detection.detectors.synthetic_spans import synthesize  # noqa: E402
from hallu_core.detection.metrics import span_prf  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared/data/ragtruth_dev.jsonl"
GRID = [0.01, 0.02, 0.03, 0.04] + [round(x, 2) for x in np.arange(0.05, 0.96, 0.05)]


def raw_rows(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def best_thresholds(detector, items, golds, scores) -> dict:
    """Per task: the threshold with the best span F1 on these rows (ties: the higher threshold)."""
    out, figures = {}, {}
    for task in sorted({it.task for it in items}) + [""]:
        idx = [i for i, it in enumerate(items) if it.task == task or task == ""]
        f1 = {t: span_prf([detector.result(items[i], *scores[i], threshold=t).spans for i in idx],
                          [golds[i] for i in idx])["f1"] for t in GRID}
        best = max(GRID, key=lambda t: (round(f1[t], 4), t))
        out[task], figures[task] = best, round(f1[best], 4)
    return {"thresholds": out, "val_span_f1": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--synthetic", type=int, default=450, help="synthetic examples kept (0 = none)")
    parser.add_argument("--lr", type=float, default=8e-4)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default="/tmp/hallu-span-build")
    parser.add_argument("--stage", choices=["all", "train", "thresholds"], default="all")
    parser.add_argument("--init", default=None, help="continue training from this adapter folder (e.g. a previous --work's epoch1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    tuning = set(load_split()["tuning"])
    rows = [r for r in raw_rows(args.data) if str(r["source_id"]) in tuning]
    val_sources = tuning_folds(rows)[0]
    records = {r.id: r for r in read_records(args.data)}
    train_rows = [r for r in rows if str(r["source_id"]) not in val_sources]
    val_records = [records[r["id"]] for r in rows if str(r["source_id"]) in val_sources]
    if args.stage in ("all", "train"):
        human = [records[r["id"]] for r in train_rows]
        human = human + [r for r in human if gold_spans(r)]  # hallucinated rows twice: they are the scarce signal
        examples = examples_from_items(items_from_records(human), [gold_spans(r) for r in human])
        synthetic = synthesize(train_rows, seed=args.seed)
        random.Random(args.seed).shuffle(synthetic)
        examples += synthetic[:args.synthetic]
        cfg = TrainConfig(max_length=args.max_length, epochs=args.epochs, lr=args.lr, seed=args.seed,
                          threads=args.threads, batch_size=8)
        started = time.time()
        result = train(examples, cfg, init_adapter=args.init, epoch_dir=work, show_bar=True)
        meta = {"human_rows": len(train_rows), "human_examples": len(human), "synthetic_examples": min(args.synthetic, len(synthetic)),
                "synthetic_generated": len(synthetic), "train_sources": len({r["source_id"] for r in train_rows}),
                "val_sources": len(val_sources), "seconds": round(time.time() - started), "final_loss": result.losses[-1],
                "lr": args.lr, "epochs": args.epochs, "continued_from": args.init}
        (work / "train_meta.json").write_text(json.dumps(meta, indent=1))
        print(json.dumps(meta))
    if args.stage in ("all", "thresholds"):
        meta = json.loads((work / "train_meta.json").read_text())
        epoch_dirs = sorted(work.glob("epoch*"))
        items, golds = items_from_records(val_records), [gold_spans(r) for r in val_records]
        choices = {}
        for folder in epoch_dirs:
            detector = SpanDetector(pretrained=str(folder))
            scores = detector.token_scores(items)
            (work / f"val_scores_{folder.name}.pkl").write_bytes(pickle.dumps({"ids": [it.id for it in items], "scores": scores}))
            choices[folder.name] = best_thresholds(detector, items, golds, scores)
            print(folder.name, json.dumps(choices[folder.name]))
        best = max(choices, key=lambda e: choices[e]["val_span_f1"][""])
        artifact = json.loads((work / best / "span_config.json").read_text())
        artifact.update(thresholds=choices[best]["thresholds"], max_windows=3, validation={
            "epoch": best, "val_rows": len(items), "val_span_f1_by_task": choices[best]["val_span_f1"], **meta})
        from safetensors.torch import load_file

        if BUILTIN_SPAN.exists():
            shutil.rmtree(BUILTIN_SPAN)
        write_artifact(BUILTIN_SPAN, load_file(str(work / best / "adapter.safetensors")), artifact)
        print(json.dumps({"shipped": str(BUILTIN_SPAN), "epoch": best, **choices[best]}))


if __name__ == "__main__":
    main()
