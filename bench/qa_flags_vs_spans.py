"""Where `default`'s QA span F1 is lost: which answers it flags, or where it puts the spans.

Grouped 5-fold cross-validation (by source) over the RAGTruth train-split QA rows plus the tuning part's
QA answers (the lockbox is never read), each fold's `learned` model trained on the other folds plus the
tuning part's other tasks, as the shipped weights are. Flags: the top share of each part by the gate's
probability (the QA rate of the tuning part, 21.5%, as `default`'s operating threshold flags). Per part,
character-level span P/R/F1 of: today's flags with today's word spans; today's flags with clause spans;
today's flags with the gold spans (the ceiling of span placement); perfect flags with today's spans (the
ceiling of flagging). The train rows (148 hallucinated) are the larger sample; the tuning rows (14) are
what the held-out figures resemble.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/qa_flags_vs_spans.py --qa-train ../shared/data/ragtruth_qa_train.jsonl \
        [--cache /tmp/hallu-bench] [--share SHARE]

The last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from hallu_core import set_process_defaults  # noqa: E402

set_process_defaults()
from eval_ragtruth import DATA, dev_units, extra_rows, learned_member  # noqa: E402
from hallu_core.detection.detectors.calibrate_fit import group_folds  # noqa: E402
from hallu_core.detection.detectors.filemode import gold_spans, items_from_records, read_records  # noqa: E402
from hallu_core.detection.detectors.span_split import load_split  # noqa: E402
from hallu_core.detection.metrics import prf, span_counts  # noqa: E402


def out_of_fold(qa: list, units: list, golds: list, others: tuple) -> list[dict]:
    """Per QA row: the gate probability and the word / clause spans of models that never saw its source
    (5 folds grouped by source; `others`: learned_member's extra rows, always trained on)."""
    folds = [{qa[i].source_id for i in fold} for fold in group_folds([r.source_id for r in qa], 5)]
    word, clause = (learned_member(qa, units, golds, others, False, folds=folds, **config)
                    for config in ({}, {"granularity": "clause"}))
    return [{"gate": w.response_score, "word": [(s.start, s.end) for s in w.spans],
             "clause": [(s.start, s.end) for s in c.spans]} for w, c in zip(word, clause)]


def figures(rows: list[dict], golds: list[list], share: float) -> dict:
    flagged = set(sorted(range(len(rows)), key=lambda i: -rows[i]["gate"])[:round(share * len(rows))])
    hallucinated = {i for i, g in enumerate(golds) if g}

    def f1(spans_of) -> dict:
        totals = np.sum([span_counts(spans_of(i), golds[i]) for i in range(len(rows))], axis=0)
        return {k: round(100 * v, 1) for k, v in prf(*totals).items()}

    return {"rows": len(rows), "hallucinated": len(hallucinated), "flagged": len(flagged),
            "flagged_hallucinated": len(flagged & hallucinated),
            "today": f1(lambda i: rows[i]["word"] if i in flagged else []),
            "clause_spans": f1(lambda i: rows[i]["clause"] if i in flagged else []),
            "gold_spans_on_flags": f1(lambda i: golds[i] if i in flagged else []),
            "perfect_flags": f1(lambda i: rows[i]["word"] if i in hallucinated else [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qa-train", required=True, help="RAGTruth train-split QA rows (training only)")
    parser.add_argument("--cache", type=Path, help="keep computed word features here (eval_ragtruth.py's keys)")
    parser.add_argument("--share", type=float, help="share of each part flagged (default: the tuning part's QA rate)")
    args = parser.parse_args()
    tuning = set(load_split()["tuning"])
    dev = [r for r in read_records(DATA) if r.source_id in tuning]  # the lockbox is dropped before anything else
    dev_unit = dev_units(args.cache, DATA, dev, items_from_records(dev))
    extra, (extra_unit, extra_golds, _) = extra_rows(args.cache, [args.qa_train])
    is_qa = [r.task == "QA" for r in dev]
    qa = extra + [r for r, q in zip(dev, is_qa) if q]
    golds = extra_golds + [gold_spans(r) for r, q in zip(dev, is_qa) if q]
    others = [i for i, q in enumerate(is_qa) if not q]
    rows = out_of_fold(qa, extra_unit + [u for u, q in zip(dev_unit, is_qa) if q], golds,
                       ([dev_unit[i] for i in others], [gold_spans(dev[i]) for i in others],
                        [dev[i].source_id for i in others]))
    tuning_qa = golds[len(extra):]
    share = args.share if args.share is not None else sum(map(bool, tuning_qa)) / len(tuning_qa)
    parts = {"train": range(len(extra)), "tuning": range(len(extra), len(qa))}
    result = {name: figures([rows[i] for i in idx], [[(s.start, s.end) for s in golds[i]] for i in idx], share)
              for name, idx in parts.items()}
    for name, r in result.items():
        print(f"{name}: {r['rows']} answers, {r['hallucinated']} hallucinated, {r['flagged']} flagged "
              f"({r['flagged_hallucinated']} of them hallucinated); span P / R / F1")
        for key in ("today", "clause_spans", "gold_spans_on_flags", "perfect_flags"):
            print(f"  {key:22s} {r[key]['precision']:5.1f} {r[key]['recall']:5.1f} {r[key]['f1']:5.1f}")
    print(json.dumps({"bench": "qa_flags_vs_spans", "share": round(share, 3), **result}))


if __name__ == "__main__":
    main()
