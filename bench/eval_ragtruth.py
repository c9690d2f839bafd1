"""Measure every built-in detector on the RAGTruth dev slice (response and span P/R/F1).

Two protocols:

- `--part all` (the default): every row; learned detectors scored by cross-validation over
  whole sources (grouped by `source_id`): each row is predicted by a model that never saw its source.
- `--part tuning|validation|lockbox`: the split in hallu_core/detectors/weights/ragtruth_split.json.
  Scores `lexical`, `record`, `span` and `default` on the whole tuning part, on its validation
  fold (the sources the shipped `span` weights never trained on; see
  scripts/build_span_detector.py), or on the lockbox. `--choose-routes` (tuning or validation
  only) writes default's per-task routes and response gates (weights/default_routes.json).
  Run `lockbox` once, at the end, after every choice is made.

The last stdout line is one JSON object with all figures.

    HF_HUB_OFFLINE=1 python bench/eval_ragtruth.py [--data FILE] [--folds 5] [--save-default]
    HF_HUB_OFFLINE=1 python bench/eval_ragtruth.py --part validation
    HF_HUB_OFFLINE=1 python bench/eval_ragtruth.py --part tuning --no-span --choose-routes
    HF_HUB_OFFLINE=1 python bench/eval_ragtruth.py --part lockbox
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hallu_core.detectors import get_detector  # noqa: E402
from hallu_core.detectors.filemode import gold_spans, items_from_records, read_records  # noqa: E402
from hallu_core.detectors.calibrate_fit import group_folds  # noqa: E402
from hallu_core.detectors.learned import BUILTIN, LearnedDetector  # noqa: E402
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
    for test in group_folds(groups, outer_folds):
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


# candidate routes for default, per task: member lists (routed.MEMBERS), pooled in this order
CANDIDATES = [["span"], ["lexical"], ["record"], ["record", "span"], ["record", "lexical"], ["span", "lexical"]]
GATES = [round(x, 2) for x in np.arange(0.0, 0.51, 0.02)]  # share of the output's characters flagged


def choose_routes(member_results: dict, golds, tasks, out_texts) -> dict:
    """Per task, the candidate members and gate (spans kept only when they cover at least that share
    of the output) with the best mean of response and span F1, among those whose span F1 is at
    least plain lexical's on the same rows (the issue's rule). "" (tasks not measured) gets lexical."""
    from hallu_core.detectors.routed import gated, pool

    routes, gates, table = {"": ["lexical"]}, {}, {}
    for task in sorted(set(tasks)):
        idx = [i for i, t in enumerate(tasks) if t == task]
        scores = {}
        for cand in [c for c in CANDIDATES if all(m in member_results for m in c)]:
            pooled = [pool([member_results[m][i] for m in cand]) for i in idx]
            for gate in GATES:
                fig = evaluate([gated(r, gate, out_texts[i]).spans for r, i in zip(pooled, idx)],
                               [golds[i] for i in idx])["overall"]
                scores[" + ".join(cand), gate] = (fig["response"]["f1"], fig["span"]["f1"])
        floor = scores["lexical", 0.0][1]
        allowed = {k: v for k, v in scores.items() if v[1] >= floor}
        best = max(allowed, key=lambda k: (round((allowed[k][0] + allowed[k][1]) / 2, 4), -len(k[0]), -k[1]))
        routes[task], gates[task] = best[0].split(" + "), best[1]
        table[task] = {k: [round(100 * v[0], 1), round(100 * v[1], 1)] for k, v in scores.items()
                       if k[1] == 0.0 or k == best}
        table[task] = {f"{k[0]} (gate {k[1]})": v for k, v in table[task].items()}
    return {"routes": routes, "gates": gates, "candidates_resp_span_f1": table}


def routes_cv(members: dict, golds, tasks, items, rows) -> dict:
    """default's figures with its routes and gates chosen by 3-fold CV over these rows' sources
    (each fold scored with the choice made on the other two)."""
    from hallu_core.detectors.routed import gated, pool
    from hallu_core.detectors.span_split import tuning_folds

    raw = [{"source_id": r.source_id, "task_type": r.task} for r in rows]
    preds = [None] * len(rows)
    for held in tuning_folds(raw):
        train = [i for i, r in enumerate(rows) if r.source_id not in held]
        chosen = choose_routes({m: [v[i] for i in train] for m, v in members.items()}, [golds[i] for i in train],
                               [tasks[i] for i in train], [items[i].output for i in train])
        for i, r in enumerate(rows):
            if r.source_id in held:
                route = chosen["routes"].get(r.task, chosen["routes"][""])
                preds[i] = gated(pool([members[m][i] for m in route]), chosen["gates"].get(r.task, 0.0), items[i].output).spans
    return summary(evaluate(preds, golds, tasks))


def add_span(members: dict, golds, tasks, out_texts) -> dict:
    """On the validation fold (rows `span` never trained on): per task, a candidate with `span`
    (ungated) replaces the current route when it has the better mean of response and span F1 and
    a span F1 at least lexical's. Rewrites weights/default_routes.json."""
    from hallu_core.detectors.routed import ROUTES_FILE, gated, pool

    saved = json.loads(ROUTES_FILE.read_text())
    report = {}
    for task in sorted(set(tasks)):
        idx = [i for i, t in enumerate(tasks) if t == task]

        def figures(cand, gate):
            preds = [gated(pool([members[m][i] for m in cand]), gate, out_texts[i]).spans for i in idx]
            fig = evaluate(preds, [golds[i] for i in idx])["overall"]
            return fig["response"]["f1"], fig["span"]["f1"]

        current = figures(saved["routes"].get(task, saved["routes"][""]), saved["gates"].get(task, 0.0))
        floor = figures(["lexical"], 0.0)[1]
        # no gate is fitted here: the validation fold holds 2-13 hallucinated rows per task, too few
        challengers = {(" + ".join(c), 0.0): figures(c, 0.0) for c in CANDIDATES if "span" in c}
        allowed = {k: v for k, v in challengers.items() if v[1] >= floor}
        best = max(allowed, key=lambda k: (sum(allowed[k]) / 2, -k[1]), default=None)
        won = best is not None and sum(allowed[best]) / 2 > sum(current) / 2
        report[task] = {"current": [round(100 * x, 1) for x in current], "best_with_span": best and
                        [best[0], best[1], *[round(100 * x, 1) for x in allowed[best]]], "replaced": won}
        if won:
            saved["routes"][task], saved["gates"][task] = best[0].split(" + "), best[1]
    saved["span_challenge_on_validation_fold"] = report
    ROUTES_FILE.write_text(json.dumps(saved, indent=1) + "\n")
    return report


def split_protocol(args, rows) -> None:
    from hallu_core.detectors.routed import ROUTES_FILE, load_gates, load_routes
    from hallu_core.detectors.span_split import load_split, tuning_folds

    split = load_split()
    if args.part == "lockbox":
        keep = set(split["lockbox"])
    elif args.part == "tuning":
        keep = set(split["tuning"])
    else:
        raw = [{"source_id": r.source_id, "task_type": r.task} for r in rows]
        keep = tuning_folds(raw, split=split)[0]  # the validation fold: `span` never trained on it
    rows = [r for r in rows if r.source_id in keep]
    items, golds, tasks = items_from_records(rows), [gold_spans(r) for r in rows], [r.task for r in rows]
    members, timings = {}, {}
    names = ("lexical", "record") if args.no_span else ("lexical", "record", "span")
    for name in names:
        start = time.perf_counter()
        members[name] = get_detector(name).detect(items)
        timings[name] = round(time.perf_counter() - start, 1)
    out = {"part": args.part, "rows": len(rows), "sources": len(keep), "seconds": timings}
    if args.choose_routes:
        if args.part == "lockbox":
            raise SystemExit("--choose-routes never reads the lockbox")
        chosen = choose_routes(members, golds, tasks, [it.output for it in items])
        out["default_cv"] = cv = routes_cv(members, golds, tasks, items, rows)
        lexical = summary(evaluate([p.spans for p in members["lexical"]], golds, tasks))
        for task in chosen["gates"]:  # the choice must keep the rule out of fold too, else plain lexical
            if cv[task]["span_f1"] < lexical[task]["span_f1"]:
                chosen["routes"][task], chosen["gates"][task] = ["lexical"], 0.0
                chosen.setdefault("fell_back_to_lexical_by_cv", []).append(task)
        ROUTES_FILE.write_text(json.dumps({"chosen_on": f"{args.part} part of the dev-slice split (bench/eval_ragtruth.py "
                                                          f"--part {args.part} --choose-routes)", **chosen}, indent=1) + "\n")
        out["chosen"] = chosen
    if args.add_span:
        if args.part != "validation" or "span" not in members:
            raise SystemExit("--add-span compares span candidates on the validation fold only")
        out["span_challenge"] = add_span(members, golds, tasks, [it.output for it in items])
    routes, gates = load_routes(), load_gates()
    results = {name: summary(evaluate([p.spans for p in preds], golds, tasks)) for name, preds in members.items()}
    if args.no_span and any("span" in routes.get(t, routes[""]) for t in tasks):
        print("default routes use span: left out with --no-span")
    else:  # the registered detector itself (its own calibration map, when one fits, included)
        start = time.perf_counter()
        default = get_detector("default").detect(items)
        timings["default"] = round(time.perf_counter() - start, 1)
        results["default"] = summary(evaluate([d.spans for d in default], golds, tasks))
    results["flag-everything"] = summary(evaluate([[Span(0, len(i.output))] if i.output else [] for i in items], golds, tasks))
    print(f"{args.part}: {len(rows)} rows, {len(keep)} sources; routes {routes}, gates {gates}")
    print(f"{'detector':16s} {'task':9s} resp P/R/F1        span P/R/F1")
    for name, by_task in results.items():
        for task, d in by_task.items():
            print(f"{name:16s} {task:9s} {d['response_p']:5.1f} {d['response_r']:5.1f} {d['response_f1']:5.1f}   "
                  f"{d['span_p']:5.1f} {d['span_r']:5.1f} {d['span_f1']:5.1f}")
    print(json.dumps({**out, "routes": routes, "gates": gates, "results": results}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--save-default", action="store_true", help="train on all rows, write the built-in weights")
    parser.add_argument("--part", choices=["all", "tuning", "validation", "lockbox"], default="all")
    parser.add_argument("--no-span", action="store_true", help="leave the span classifier out (it is the slow one)")
    parser.add_argument("--add-span", action="store_true",
                        help="with --part validation: let span candidates replace default's routes where they win")
    parser.add_argument("--choose-routes", action="store_true", help="with --part tuning: write default's routes")
    args = parser.parse_args()
    rows = read_records(args.data)
    if args.part != "all":
        return split_protocol(args, rows)
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
    variants = {"learned (clause spans)": {"granularity": "clause"}, "learned": {}, "learned (shipped config)": _default_config()}
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
