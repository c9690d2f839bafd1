"""Measure every built-in detector on the RAGTruth dev slice (response and span P/R/F1).

Learned detectors are scored by cross-validation over whole sources (grouped by
`source_id`): each row is predicted by a model that never saw its source. The last
stdout line is one JSON object with all figures.

    HF_HUB_OFFLINE=1 python bench/eval_ragtruth.py [--data FILE] [--folds 5] [--save-default]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hallu_core.detectors import get_detector  # noqa: E402
from hallu_core.detectors.filemode import gold_spans, items_from_records, read_records  # noqa: E402
from hallu_core.detectors.learned import BUILTIN, LearnedDetector, _group_folds  # noqa: E402
from hallu_core.detectors.units import build_units  # noqa: E402
from hallu_core.metrics import evaluate  # noqa: E402
from hallu_core.types import Span  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared/data/ragtruth_dev.jsonl"
RULE_DETECTORS = ["lexical", "semantic", "confidence", "consistency", "self_contradiction", "record"]
ANCHORS = {"lettucedetect-large (published, test)": (79.22, 58.93),
           "fine-tuned Llama-2-13B (published, test)": (78.7, 52.7),
           "GPT-4-turbo prompt (published, test)": (63.4, 28.3)}


def cross_validated(units, golds, rows, outer_folds: int, **config):
    """Out-of-fold predictions: each fold's rows predicted by a model trained on the rest."""
    groups = [r.source_id for r in rows]
    predictions = [None] * len(rows)
    for test in _group_folds(groups, outer_folds):
        train = sorted(set(range(len(rows))) - set(test))
        model = LearnedDetector(**config).fit_units([units[i] for i in train], [golds[i] for i in train],
                                                    [groups[i] for i in train])
        for i, result in zip(test, model.predict_units([units[i] for i in test])):
            predictions[i] = result
    return predictions


def _default_config() -> dict:
    """The built-in weights' training config (the class defaults when they are stale or absent)."""
    try:
        return {k: v for k, v in LearnedDetector(pretrained="builtin").config.items() if k != "pretrained"}
    except (FileNotFoundError, KeyError, ValueError):
        return {}


def summary(figures: dict) -> dict:
    def pick(d):
        return {"response_f1": round(100 * d["response"]["f1"], 1), "span_f1": round(100 * d["span"]["f1"], 1),
                "response_p": round(100 * d["response"]["precision"], 1), "response_r": round(100 * d["response"]["recall"], 1),
                "span_p": round(100 * d["span"]["precision"], 1), "span_r": round(100 * d["span"]["recall"], 1),
                "span_union_f1": round(100 * d["span_union"]["f1"], 1)}
    return {"overall": pick(figures["overall"]), **{t: pick(d) for t, d in figures["by_task"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--save-default", action="store_true", help="train on all rows, write the built-in weights")
    args = parser.parse_args()
    rows = read_records(args.data)
    items, golds, tasks = items_from_records(rows), [gold_spans(r) for r in rows], [r.task for r in rows]
    results, timings = {}, {}
    results["flag-everything"] = summary(evaluate([[Span(0, len(i.output))] if i.output else [] for i in items], golds, tasks))
    for name in RULE_DETECTORS:
        start = time.perf_counter()
        preds = get_detector(name).detect(items)
        timings[name] = round(time.perf_counter() - start, 1)
        results[name] = summary(evaluate([p.spans for p in preds], golds, tasks))
    start = time.perf_counter()
    units = build_units(items)
    timings["features"] = round(time.perf_counter() - start, 1)
    variants = {"learned (clause spans)": {"granularity": "clause"}, "learned": {}, "default": _default_config()}
    for name, config in variants.items():
        preds = cross_validated(units, golds, rows, args.folds, **config)
        results[name] = summary(evaluate([p.spans for p in preds], golds, tasks))
    if args.save_default:
        groups = [r.source_id for r in rows]
        path = LearnedDetector().fit_units(units, golds, groups).save(BUILTIN)
        path.rename(BUILTIN / "default.json")
    print(f"{'detector':22s} {'task':9s} resp P/R/F1        span P/R/F1       span-union F1")
    for name, by_task in results.items():
        for task, d in by_task.items():
            print(f"{name:22s} {task:9s} {d['response_p']:5.1f} {d['response_r']:5.1f} {d['response_f1']:5.1f}   "
                  f"{d['span_p']:5.1f} {d['span_r']:5.1f} {d['span_f1']:5.1f}   {d['span_union_f1']:5.1f}")
    for name, (rf, sf) in ANCHORS.items():
        print(f"{name:40s} response F1 {rf} / span F1 {sf}")
    print(json.dumps({"data": str(args.data), "rows": len(rows), "folds": args.folds, "results": results,
                      "anchors": ANCHORS, "seconds": timings}))


if __name__ == "__main__":
    main()
