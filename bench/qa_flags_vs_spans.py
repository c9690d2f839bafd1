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
        [--cache /tmp/hallu-bench] [--share 0.215]

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
from eval_ragtruth import DATA, cached  # noqa: E402
from hallu_core.detection.detectors.calibrate_fit import group_folds  # noqa: E402
from hallu_core.detection.detectors.filemode import gold_spans, items_from_records, read_records  # noqa: E402
from hallu_core.detection.detectors.learned import LearnedDetector  # noqa: E402
from hallu_core.detection.detectors.span_split import load_split  # noqa: E402
from hallu_core.detection.detectors.units import build_units  # noqa: E402
from hallu_core.detection.metrics import prf, span_counts  # noqa: E402


def out_of_fold(qa: list[tuple], others: list[tuple]) -> list[dict]:
    """Per QA row: the gate probability and the word / clause spans of models that never saw its source."""
    out: list[dict] = [{} for _ in qa]
    for held in group_folds([q[0].source_id for q in qa], 5):
        train = [q for i, q in enumerate(qa) if i not in set(held)] + others
        args = ([t[1] for t in train], [t[2] for t in train], [t[3] for t in train])
        for name, model in (("word", LearnedDetector()), ("clause", LearnedDetector(granularity="clause"))):
            model.fit_units(*args)
            model.operate = False  # as default runs it: spans for every answer, default's threshold decides
            for i, result in zip(held, model.predict_units([qa[i][1] for i in held])):
                out[i][name] = [(s.start, s.end) for s in result.spans]
                out[i].setdefault("gate", result.response_score)
    return out


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
    parser.add_argument("--share", type=float, default=0.215, help="share of each part flagged")
    args = parser.parse_args()
    tuning = set(load_split()["tuning"])
    dev = [r for r in read_records(DATA) if r.source_id in tuning]  # the lockbox is dropped before anything else
    extra = read_records(args.qa_train)
    dev_units = cached(args.cache, f"units:{DATA}:{','.join(r.id for r in dev)}",
                       lambda: build_units(items_from_records(dev)))
    extra_units = cached(args.cache, f"units:{[args.qa_train]}:{len(extra)}",
                         lambda: build_units(items_from_records(extra)))
    qa = [(r, u, gold_spans(r), f"extra:{r.source_id}") for r, u in zip(extra, extra_units)]
    qa += [(r, u, gold_spans(r), r.source_id) for r, u in zip(dev, dev_units) if r.task == "QA"]
    others = [(r, u, gold_spans(r), r.source_id) for r, u in zip(dev, dev_units) if r.task != "QA"]
    rows = out_of_fold(qa, others)
    parts = {"train": range(len(extra)), "tuning": range(len(extra), len(qa))}
    result = {name: figures([rows[i] for i in idx], [[(s.start, s.end) for s in qa[i][2]] for i in idx], args.share)
              for name, idx in parts.items()}
    for name, r in result.items():
        print(f"{name}: {r['rows']} answers, {r['hallucinated']} hallucinated, {r['flagged']} flagged "
              f"({r['flagged_hallucinated']} of them hallucinated); span P / R / F1")
        for key in ("today", "clause_spans", "gold_spans_on_flags", "perfect_flags"):
            print(f"  {key:22s} {r[key]['precision']:5.1f} {r[key]['recall']:5.1f} {r[key]['f1']:5.1f}")
    print(json.dumps({"bench": "qa_flags_vs_spans", "share": args.share, **result}))


if __name__ == "__main__":
    main()
