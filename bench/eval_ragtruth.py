"""Measure every built-in detector on the RAGTruth dev slice (response and span P/R/F1).

Two protocols:

- `--part all` (the default): every row; learned detectors scored by cross-validation over
  whole sources (grouped by `source_id`): each row is predicted by a model that never saw its source.
- `--part tuning|validation|lockbox`: the split in hallu_core/detection/detectors/weights/ragtruth_split.json.
  Scores `lexical`, `record`, `self_contradiction`, `span` (as default's members run them: calibrated, every
  span kept) and `default` on the whole tuning part, on its validation fold (the sources the shipped `span`
  weights never trained on; see scripts/build_span_detector.py), or on the lockbox: response and span
  P/R/F1, flagged and true share, AUC and Brier of the response score, per task.
  `--choose-routes` (tuning only) trains the built-in `learned` weights on the tuning part plus
  `--train-extra` rows, chooses default's per-task routes out of fold at their operating points
  (bench/default_choice.py) and writes them (weights/default_routes.json) with default's calibration
  map (operating thresholds included). Run `lockbox` once, at the end, after every choice is made.

The last stdout line is one JSON object with all figures.

    HF_HUB_OFFLINE=1 python bench/eval_ragtruth.py [--data FILE] [--folds 5]
    HF_HUB_OFFLINE=1 python bench/eval_ragtruth.py --part tuning --no-span --choose-routes \
        --train-extra ../shared/data/ragtruth_qa_train.jsonl [--cache /tmp/hallu-bench]
    HF_HUB_OFFLINE=1 python bench/eval_ragtruth.py --part lockbox --no-span
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hallu_core import set_process_defaults  # noqa: E402

set_process_defaults()  # before torch is first imported, as the CLI and jobs do

from hallu_core.detection.detectors import get_detector  # noqa: E402
from hallu_core.detection.detectors.filemode import gold_spans, items_from_records, read_records  # noqa: E402
from hallu_core.detection.detectors.calibrate_fit import group_folds  # noqa: E402
from hallu_core.detection.detectors.learned import BUILTIN, LearnedDetector  # noqa: E402
from hallu_core.detection.detectors.units import build_units  # noqa: E402
from hallu_core.detection.metrics import evaluate  # noqa: E402
from hallu_core.detection.detectors.base import DetectResult  # noqa: E402
from hallu_core.store.types import Span  # noqa: E402

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
                "span_p": round(100 * d["span"]["precision"], 1), "span_r": round(100 * d["span"]["recall"], 1)}
    return {"overall": pick(figures["overall"]), **{t: pick(d) for t, d in figures["by_task"].items()}}


SPAN_SOURCES = [["lexical"], ["record"], ["record", "lexical"], ["record", "self_contradiction"],
                ["lexical", "self_contradiction"], ["span"], ["record", "span"], ["span", "lexical"]]


def route_counts(route: dict, member_results: dict, golds, outputs, idx) -> np.ndarray:
    """Hallu's metric's counts (metrics.py) of a route on rows `idx`: flagged and hallucinated,
    flagged, hallucinated responses; overlapping, predicted and gold characters."""
    from hallu_core.detection.detectors.routed import apply_route, route_members
    from hallu_core.detection.metrics import span_counts

    total = np.zeros(6)
    for i in idx:
        pred = apply_route(route, {m: member_results[m][i] for m in route_members(route)}, outputs[i]).spans
        total += (bool(pred) and bool(golds[i]), bool(pred), bool(golds[i]), *span_counts(pred, golds[i]))
    return total


def route_figures(route: dict, member_results: dict, golds, outputs, idx) -> tuple[float, float]:
    """(response F1, span F1) of a route on rows `idx`."""
    from hallu_core.detection.metrics import prf

    counts = route_counts(route, member_results, golds, outputs, idx)
    return prf(*counts[:3])["f1"], prf(*counts[3:])["f1"]


def cached(cache: Path | None, key: str, compute):
    """compute(), kept under `cache` by `key` (a pickle: bench-local, never shipped)."""
    import hashlib
    import pickle

    if cache is None:
        return compute()
    path = Path(cache) / (hashlib.sha256(key.encode()).hexdigest()[:16] + ".pkl")
    if path.exists():
        return pickle.loads(path.read_bytes())
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(value))
    return value


def dev_units(cache: Path | None, data, rows, items) -> list:
    """The word features of these rows of the dev file `data` (kept in `cache` by their ids)."""
    return cached(cache, f"units:{data}:{','.join(r.id for r in rows)}", lambda: build_units(items))


def extra_rows(cache: Path | None, paths: list[str]) -> tuple[list, tuple]:
    """The rows of extra training files, and `learned_member`'s `extra` for them: (units, golds, groups)."""
    extra = [r for path in paths for r in read_records(path)]
    units = cached(cache, f"units:{paths}:{len(extra)}", lambda: build_units(items_from_records(extra)))
    return extra, (units, [gold_spans(r) for r in extra], [f"extra:{r.source_id}" for r in extra])


def learned_member(rows, units, golds, extra: tuple, save: bool, folds: list[set[str]] | None = None,
                   **config) -> list:
    """`learned_builtin`'s results on the rows, each fold (default: the tuning folds; sets of source ids)
    scored by a model (LearnedDetector(**config)) trained on the other folds plus the extra rows (`extra`:
    their units, golds, groups); with `save`, the model trained on every row plus the extra rows becomes
    the built-in weights."""
    from default_choice import folds_of

    x_units, x_golds, x_groups = extra
    out = [None] * len(rows)
    for held in folds or folds_of(rows):
        train = [i for i, r in enumerate(rows) if r.source_id not in held]
        model = LearnedDetector(**config).fit_units([units[i] for i in train] + x_units,
                                                    [golds[i] for i in train] + x_golds,
                                                    [rows[i].source_id for i in train] + x_groups)
        test = [i for i, r in enumerate(rows) if r.source_id in held]
        model.operate = False  # as default runs it: word spans for every output
        for i, result in zip(test, model.predict_units([units[i] for i in test])):
            out[i] = result
    if save:
        model = LearnedDetector(**config).fit_units(units + x_units, golds + x_golds,
                                                    [r.source_id for r in rows] + x_groups)
        model.save(BUILTIN).rename(BUILTIN / "default.json")
    return out


def add_span(members: dict, golds, tasks, outputs) -> dict:
    """On the validation fold (rows `span` never trained on): per task, a route with `span` in its
    span source (rule "spans": no rule is fitted on 2-13 hallucinated rows) replaces the current
    route when it has the better mean of response and span F1 and a span F1 at least lexical's.
    Rewrites weights/default_routes.json."""
    import default_choice

    from hallu_core.detection.detectors.routed import ROUTES_FILE, load_routes

    saved, routes = json.loads(ROUTES_FILE.read_text()), load_routes()
    report = {}
    for task in sorted(set(tasks)):
        idx = [i for i, t in enumerate(tasks) if t == task]
        current = route_figures(routes.get(task, routes[""]), members, golds, outputs, idx)
        floor = route_figures(routes[""], members, golds, outputs, idx)[1]
        challengers = [{"spans": s, "fallback": [], "response": {"rule": "spans"}} for s in SPAN_SOURCES if "span" in s]
        scored = [(r, route_figures(r, members, golds, outputs, idx)) for r in challengers]
        allowed = [(r, f) for r, f in scored if f[1] >= floor]
        best = max(allowed, key=lambda rf: sum(rf[1]) / 2, default=None)
        won = bool(best is not None and sum(best[1]) / 2 > sum(current) / 2)
        report[task] = {"current": [round(100 * x, 1) for x in current], "best_with_span": best and
                        [default_choice.route_name(best[0]), *[round(100 * x, 1) for x in best[1]]], "replaced": won}
        if won:
            saved["routes"][task] = best[0]
    saved["span_challenge_on_validation_fold"] = report
    ROUTES_FILE.write_text(json.dumps(saved, indent=1) + "\n")
    return report


def split_protocol(args, rows) -> None:
    import default_choice

    from hallu_core.detection.detectors import calibrate
    from hallu_core.detection.detectors.routed import ROUTES_FILE, load_routes, route_members
    from hallu_core.detection.detectors.span_split import load_split, tuning_folds

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
    outputs = [it.output for it in items]
    members, timings = {}, {}
    names = ("lexical", "record", "self_contradiction") + (() if args.no_span else ("span",))
    for name in names:
        start = time.perf_counter()
        detector = get_detector(name)
        detector.operate = False  # as default's members run: calibrated, every span kept
        members[name] = detector.detect(items)
        timings[name] = round(time.perf_counter() - start, 1)
    out = {"part": args.part, "rows": len(rows), "sources": len(keep), "seconds": timings}
    if args.choose_routes:
        if args.part != "tuning":
            raise SystemExit("--choose-routes reads the tuning part only (never the lockbox)")
        units = dev_units(args.cache, args.data, rows, items)
        _, extra = extra_rows(args.cache, args.train_extra)
        start = time.perf_counter()
        members["learned_builtin"] = learned_member(rows, units, golds, extra, True)
        timings["learned (3 folds + the shipped fit)"] = round(time.perf_counter() - start, 1)
        chosen = default_choice.choose(members, golds, tasks, outputs, rows, args.peer_scores)
        ROUTES_FILE.write_text(json.dumps({
            "chosen_on": f"tuning part of the dev-slice split, out of fold at each route's operating point "
                         f"(bench/eval_ragtruth.py --part tuning --choose-routes; extra training rows: "
                         f"{[Path(p).name for p in args.train_extra]})",
            "routes": chosen["routes"], "picked": chosen["picked"], "cv_of_chosen": chosen["cv_of_chosen"]},
            indent=1) + "\n")
        routes = load_routes()
        cal, report = default_choice.fit_shipped_map({t: routes.get(t, routes[""]) for t in set(tasks)}, members,
                                                     golds, tasks, outputs, rows, get_detector("default").fingerprint())
        out["default_map"] = {"written": str(calibrate.save(cal)), **report}
        out["chosen"] = chosen
    if args.add_span:
        if args.part != "validation" or "span" not in members:
            raise SystemExit("--add-span compares span candidates on the validation fold only")
        out["span_challenge"] = add_span(members, golds, tasks, outputs)
    routes = load_routes()
    results = {name: default_choice.figures(preds, golds, tasks) for name, preds in members.items()}
    if args.no_span and any("span" in route_members(routes.get(t, routes[""])) for t in tasks):
        print("default routes use span: left out with --no-span")
    else:  # the registered detector itself, its calibration map and operating thresholds included
        start = time.perf_counter()
        default = get_detector("default").detect(items)
        timings["default"] = round(time.perf_counter() - start, 1)
        results["default" + (" (in sample)" if args.part == "tuning" else "")] = \
            default_choice.figures(default, golds, tasks)
    if args.choose_routes:
        results["default, out of fold (3 tuning folds)"] = out["chosen"]["cv_of_chosen"]
    results["flag-everything"] = default_choice.figures(
        [DetectResult([Span(0, len(o))] if o else [], 1.0) for o in outputs], golds, tasks)
    print(f"{args.part}: {len(rows)} rows, {len(keep)} sources; routes "
          + "; ".join(f"{t or '(other)'}: {default_choice.route_name(r)}" for t, r in routes.items()))
    default_choice.print_figures(results)
    print(json.dumps({**out, "routes": routes, "results": results}, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--part", choices=["all", "tuning", "validation", "lockbox"], default="all")
    parser.add_argument("--no-span", action="store_true", help="leave the span classifier out (it is the slow one)")
    parser.add_argument("--add-span", action="store_true",
                        help="with --part validation: let span candidates replace default's routes where they win")
    parser.add_argument("--choose-routes", action="store_true",
                        help="with --part tuning: train the built-in learned weights, write default's routes and map")
    parser.add_argument("--train-extra", action="append", default=[],
                        help="labeled rows added to every training set, never scored (RAGTruth train split)")
    parser.add_argument("--cache", type=Path, help="keep computed word features here between runs")
    parser.add_argument("--peer-scores", action="store_true",
                        help="with --choose-routes: candidates may also score a response against its peers' median")
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
    print(f"{'detector':22s} {'task':9s} resp P/R/F1        span P/R/F1")
    for name, by_task in results.items():
        for task, d in by_task.items():
            print(f"{name:22s} {task:9s} {d['response_p']:5.1f} {d['response_r']:5.1f} {d['response_f1']:5.1f}   "
                  f"{d['span_p']:5.1f} {d['span_r']:5.1f} {d['span_f1']:5.1f}")
    for name, (rf, sf) in ANCHORS.items():
        print(f"{name:40s} response F1 {rf} / span F1 {sf}")
    print(json.dumps({"data": str(args.data), "rows": len(rows), "folds": args.folds, "results": results,
                      "anchors": ANCHORS, "seconds": timings}))


if __name__ == "__main__":
    main()
