"""Learning curve of the `span` classifier: span F1 on the lockbox after training on 25 / 50 / 100
tuning rows (+ synthetic perturbations of those rows' faithful answers), with the shipped recipe
(3 passes, thresholds on the validation fold). "all" is the shipped model. Nothing here is used
for any choice. Last stdout line: one JSON object.

    HF_HUB_OFFLINE=1 python bench/span_learning_curve.py [--sizes 25,50,100]

`--qa-train FILE` (RAGTruth train-split QA rows, no source shared with the dev slice) draws the QA
curve instead, on the first N rows of a seeded, source-grouped shuffle of that file, scored on every
QA row of the dev slice's tuning part (the lockbox is not read):
- `learned (QA rows only)` and `span` trained on those N rows alone (no dev row: every tuning QA row
  is unseen), `span` from a fresh adapter in the shipped recipe's first two passes on human rows alone
  (hallucinated rows twice, no synthetic), its QA threshold on QA_THRESHOLD_ROWS held-out rows of the file;
- `learned (+ tuning folds)`: the shipped setup, trained on the other two tuning folds plus the N rows,
  each tuning fold scored by the model that did not see it (N = 0: the tuning part alone); with the
  AUC of its response score and its span F1 at a flagged share equal to the rate.

    HF_HUB_OFFLINE=1 python bench/span_learning_curve.py --qa-train ../shared/data/ragtruth_qa_train.jsonl \
        [--sizes 0,100,200,400] [--no-span]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hallu_core import set_process_defaults  # noqa: E402

set_process_defaults()  # before torch is first imported, as the CLI and jobs do

from hallu_core.detection.detectors.filemode import gold_spans, items_from_records, read_records  # noqa: E402
from hallu_core.detection.detectors import get_detector  # noqa: E402
from hallu_core.detection.detectors.span import SpanDetector  # noqa: E402
from hallu_core.detection.detectors.span_split import load_split, tuning_folds  # noqa: E402
from hallu_core.detection.detectors.span_train import TrainConfig, examples_from_items, train, write_artifact  # noqa: E402
from hallu_core.detection.detectors.synthetic_spans import synthesize  # noqa: E402
from hallu_core.detection.detectors.units import build_units  # noqa: E402
from hallu_core.detection.metrics import evaluate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from build_span_detector import DATA, best_thresholds, raw_rows  # noqa: E402

PASSES = [(8e-4, 0), (1.5e-3, 1), (1.5e-3, 2)]  # (lr, seed) of the shipped recipe
QA_THRESHOLD_ROWS = 100


def tuned_span(examples_for, passes, prefix: str, held_records) -> SpanDetector:
    """The span classifier trained pass by pass (examples_for(lr, seed) gives each pass's examples), its
    thresholds then tuned on `held_records`."""
    adapter = None
    for lr, seed in passes:
        result = train(examples_for(lr, seed), TrainConfig(lr=lr, seed=seed, threads=2), init_adapter=adapter)
        adapter = str(write_artifact(tempfile.mkdtemp(prefix=prefix), result.state, result.artifact))
    detector = SpanDetector(pretrained=adapter)
    held = items_from_records(held_records)
    chosen = best_thresholds(detector, held, [gold_spans(r) for r in held_records], detector.token_scores(held))
    detector.artifact["thresholds"] = chosen["thresholds"]
    return detector


def qa_train_curve(args) -> None:
    from hallu_core.detection.detectors.learned import LearnedDetector

    records = read_records(args.qa_train)
    by_source: dict[str, list] = {}
    for r in records:
        by_source.setdefault(r.source_id, []).append(r)
    sources = sorted(by_source)
    random.Random(0).shuffle(sources)
    shuffled = [r for s in sources for r in by_source[s]]
    held, pool = shuffled[-QA_THRESHOLD_ROWS:], shuffled[:-QA_THRESHOLD_ROWS]
    tuning = set(load_split()["tuning"])
    dev = [r for r in read_records(args.data) if r.task == "QA" and r.source_id in tuning]
    items, golds = items_from_records(dev), [gold_spans(r) for r in dev]
    dev_units = build_units(items)
    tuning_rows = [r for r in read_records(args.data) if r.source_id in tuning]
    tuning_units = build_units(items_from_records(tuning_rows))
    figures = {}
    for n in [int(x) for x in args.sizes.split(",")]:
        subset, started = pool[:n], time.time()
        train_items, train_golds = items_from_records(subset), [gold_spans(r) for r in subset]
        row = {"rows": len(subset), "hallucinated_rows": sum(bool(g) for g in train_golds)}
        row["learned (+ tuning folds)"] = with_tuning_folds(tuning_units, tuning_rows, build_units(train_items),
                                                            train_golds, [r.source_id for r in subset])
        if n:
            learned = LearnedDetector().fit(train_items, train_golds)
            row["learned (QA rows only)"] = scored([r.spans for r in learned.predict_units(dev_units)], golds)
        if n and not args.no_span:
            twice = subset + [r for r in subset if gold_spans(r)]
            examples = examples_from_items(items_from_records(twice), [gold_spans(r) for r in twice])
            detector = tuned_span(lambda lr, seed: examples, PASSES[:2], f"qa-curve{n}-", held)
            row["span"] = scored([p.spans for p in detector.detect(items)], golds)
        row["seconds"] = round(time.time() - started)
        figures[n] = row
        print(json.dumps(row), flush=True)
    floor = scored([p.spans for p in get_detector("lexical").detect(items)], golds)
    print(json.dumps({"scored_on": f"dev tuning part, QA ({len(dev)} rows, {sum(map(bool, golds))} hallucinated)",
                      "lexical": floor, "curve": figures}))


def with_tuning_folds(units, rows, extra_units, extra_golds, extra_groups) -> dict:
    """The shipped setup's QA figures out of fold: each tuning fold's QA rows scored by `learned` trained
    on the other folds plus the extra rows (spans for every row, as default runs it)."""
    from eval_ragtruth import learned_member
    from hallu_core.detection.detectors.operating import auc

    golds = [gold_spans(r) for r in rows]
    results = learned_member(rows, units, golds, (extra_units, extra_golds, [f"x{g}" for g in extra_groups]), False)
    qa = [i for i, r in enumerate(rows) if r.task == "QA"]
    scores, labels = [results[i].response_score for i in qa], [bool(golds[i]) for i in qa]
    cut = sorted(scores, reverse=True)[max(0, sum(labels) - 1)]  # flag the top rate's worth
    return {"auc": round(auc(scores, labels), 3), **scored([results[i].spans if results[i].response_score >= cut
                                                            else [] for i in qa], [golds[i] for i in qa])}


def scored(preds, golds) -> dict:
    """Response and span F1 (percent) and the share of responses flagged."""
    fig = evaluate(preds, golds)["overall"]
    return {"response_f1": round(100 * fig["response"]["f1"], 1), "span_f1": round(100 * fig["span"]["f1"], 1),
            "flagged_share": round(sum(map(bool, preds)) / max(1, len(preds)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--sizes", default="25,50,100")
    parser.add_argument("--qa-train", help="RAGTruth train-split QA rows: draw the QA curve on them (see above)")
    parser.add_argument("--no-span", action="store_true", help="with --qa-train: the learned detector only")
    args = parser.parse_args()
    if args.qa_train:
        return qa_train_curve(args)
    split = load_split()
    rows = [r for r in raw_rows(args.data) if str(r["source_id"]) in set(split["tuning"])]
    val_sources = tuning_folds(rows)[0]
    records = {r.id: r for r in read_records(args.data)}
    pool = sorted((r for r in rows if str(r["source_id"]) not in val_sources), key=lambda r: r["id"])
    random.Random(0).shuffle(pool)
    val = [records[r["id"]] for r in rows if str(r["source_id"]) in val_sources]
    lockbox = [r for r in records.values() if r.source_id in set(split["lockbox"])]
    lb_items, lb_golds = items_from_records(lockbox), [gold_spans(r) for r in lockbox]
    figures = {}
    for n in [int(x) for x in args.sizes.split(",")]:
        started, subset = time.time(), pool[:n]
        human = [records[r["id"]] for r in subset]
        human = human + [r for r in human if gold_spans(r)]
        human_examples = examples_from_items(items_from_records(human), [gold_spans(r) for r in human])
        detector = tuned_span(lambda lr, seed: human_examples + synthesize(subset, seed=seed), PASSES,
                              f"curve{n}-", val)
        preds = detector.detect(lb_items)
        fig = evaluate([p.spans for p in preds], lb_golds, [it.task for it in lb_items])
        figures[n] = {"rows": n, "hallucinated_rows": sum(bool(gold_spans(records[r["id"]])) for r in subset),
                      "span_f1": round(100 * fig["overall"]["span"]["f1"], 1),
                      "by_task": {t: round(100 * d["span"]["f1"], 1) for t, d in fig["by_task"].items()},
                      "seconds": round(time.time() - started)}
        print(json.dumps(figures[n]), flush=True)
    print(json.dumps({"lockbox_rows": len(lockbox), "curve": figures}))


if __name__ == "__main__":
    main()
