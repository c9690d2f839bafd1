"""Measure every built-in detector on the RAGTruth dev slice (response and span P/R/F1).

Two protocols:

- `--part all` (the default): every row; learned detectors scored by cross-validation over
  whole sources (grouped by `source_id`): each row is predicted by a model that never saw its source.
- `--part tuning|validation|lockbox`: the split in hallu_core/detection/detectors/weights/ragtruth_split.json.
  Scores `lexical`, `record`, `self_contradiction`, `span` and `default` on the whole tuning part, on its validation
  fold (the sources the shipped `span` weights never trained on; see
  scripts/build_span_detector.py), or on the lockbox. `--choose-routes` (tuning or validation
  only) writes default's per-task routes (span source + response rule, routed.py) chosen by nested
  source-grouped CV (weights/default_routes.json, with every setup's CV figures).
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

from hallu_core.detection.detectors import get_detector  # noqa: E402
from hallu_core.detection.detectors.filemode import gold_spans, items_from_records, read_records  # noqa: E402
from hallu_core.detection.detectors.calibrate_fit import group_folds  # noqa: E402
from hallu_core.detection.detectors.learned import BUILTIN, LearnedDetector  # noqa: E402
from hallu_core.detection.detectors.units import build_units  # noqa: E402
from hallu_core.detection.metrics import evaluate  # noqa: E402
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
                "span_p": round(100 * d["span"]["precision"], 1), "span_r": round(100 * d["span"]["recall"], 1),
                "span_union_f1": round(100 * d["span_union"]["f1"], 1)}
    return {"overall": pick(figures["overall"]), **{t: pick(d) for t, d in figures["by_task"].items()}}


# default's candidate routes, per task (routed.py): a span source (members pooled in this order) x a
# response rule x an optional fallback. FAMILIES are the search spaces compared by nested CV.
SPAN_SOURCES = [["lexical"], ["record"], ["record", "lexical"], ["record", "self_contradiction"],
                ["lexical", "self_contradiction"], ["span"], ["record", "span"], ["span", "lexical"]]
GATES = [round(x, 2) for x in np.arange(0.02, 0.51, 0.02)]  # coverage rule: share of the output's characters flagged
SCORE_MINS = [round(x, 2) for x in np.arange(0.05, 0.96, 0.05)]  # score rule: calibrated span score
RULE_DETECTORS_CHEAP = ["lexical", "record", "self_contradiction"]
FAMILIES = {
    "span source + coverage gate (the previous default's space)": {"coverage"},
    "span source + score rule": {"score"},
    "span source + any rule": {"coverage", "score"},
    "span source + any rule + lexical fallback": {"coverage", "score", "all", "fallback"},
    "record + a record-score response rule (a Data2txt gate on record)": {"score", "record only"},
}


def candidate_routes(members: set[str], family: set[str]):
    """Every route of a family whose members were run, simplest first (ties go to the simpler)."""
    only = {"record"} if "record only" in family else None
    for spans in [s for s in SPAN_SOURCES if set(s) <= (only or members)]:
        fallbacks = [[]] + ([["lexical"]] if "fallback" in family and "lexical" in members
                            and "lexical" not in spans else [])
        for fallback in fallbacks:
            rules = [] if fallback else [{"rule": "spans"}]  # a fallback changes nothing under "spans"
            rules += [{"rule": "coverage", "min": g} for g in GATES if "coverage" in family and not fallback]
            rules += [{"rule": "score", "detector": d, "min": t} for d in RULE_DETECTORS_CHEAP if d in (only or members)
                      for t in SCORE_MINS if "score" in family]
            rules += [{"rule": "all"}] if fallback else []
            for rule in rules:
                yield {"spans": spans, "fallback": fallback, "response": rule}


def route_name(route: dict) -> str:
    rule = route["response"]
    text = " + ".join(route["spans"]) + {"spans": "", "all": ", flag all",
                                          "coverage": f", coverage >= {rule.get('min')}",
                                          "score": f", {rule.get('detector')} span >= {rule.get('min')}"}[rule["rule"]]
    return text + (f", else {' + '.join(route['fallback'])}" if route["fallback"] else "")


def route_counts(route: dict, member_results: dict, golds, outputs, idx) -> np.ndarray:
    """Hallu's metric's counts (metrics.py) of a route on rows `idx`: flagged and hallucinated,
    flagged, hallucinated responses; overlapping, predicted and gold characters."""
    from hallu_core.detection.detectors.routed import apply_route
    from hallu_core.detection.metrics import span_counts

    total = np.zeros(6)
    for i in idx:
        pred = apply_route(route, {m: member_results[m][i] for m in route_members_of(route)}, outputs[i]).spans
        total += (bool(pred) and bool(golds[i]), bool(pred), bool(golds[i]), *span_counts(pred, golds[i]))
    return total


def f1s(counts: np.ndarray) -> tuple[float, float]:
    """(response F1, span F1) from route_counts (summed over any rows)."""
    from hallu_core.detection.metrics import prf

    return prf(*counts[:3])["f1"], prf(*counts[3:])["f1"]


def route_figures(route: dict, member_results: dict, golds, outputs, idx) -> tuple[float, float]:
    return f1s(route_counts(route, member_results, golds, outputs, idx))


def route_members_of(route: dict) -> list[str]:
    from hallu_core.detection.detectors.routed import route_members

    return route_members(route)


LEXICAL_ROUTE = {"spans": ["lexical"], "fallback": [], "response": {"rule": "spans"}}


def choose_routes(member_results: dict, golds, tasks, outputs, family: set[str], pooled: bool = False) -> dict:
    """Per task, the family's route with the best mean of response and span F1 among those whose
    span F1 is at least plain lexical's on the same rows (the issue's rule); "" gets lexical.
    `pooled`: the mean of the *overall* response and span F1 instead (the issue's targets are
    overall figures), each task's route re-chosen with the others fixed until none changes."""
    routes, table, options = {"": dict(LEXICAL_ROUTE)}, {}, {}
    for task in sorted(set(tasks)):
        idx = [i for i, t in enumerate(tasks) if t == task]
        floor = route_figures(LEXICAL_ROUTE, member_results, golds, outputs, idx)[1]
        scored = [(route, route_counts(route, member_results, golds, outputs, idx))
                  for route in candidate_routes(set(member_results), family)]
        options[task] = [(r, c) for r, c in scored if f1s(c)[1] >= floor] or \
            [(dict(LEXICAL_ROUTE), route_counts(LEXICAL_ROUTE, member_results, golds, outputs, idx))]  # none holds the floor
        table[task] = {"candidates": len(scored)}

    def mean(counts):
        return round(sum(f1s(counts)) / 2, 4)

    pick = {t: max(opts, key=lambda rc: mean(rc[1])) for t, opts in options.items()}  # first (simplest) of ties
    for _ in range(3 if pooled else 0):
        changed = False
        for task, opts in options.items():
            rest = sum((c for t, (_, c) in pick.items() if t != task), np.zeros(6))
            best = max(opts, key=lambda rc: mean(rest + rc[1]))
            if mean(rest + best[1]) > mean(rest + pick[task][1]):
                pick[task], changed = best, True
        if not changed:
            break
    for task, (route, counts) in pick.items():
        routes[task] = route
        table[task].update(chosen=route_name(route), resp_span_f1=[round(100 * x, 1) for x in f1s(counts)])
    return {"routes": routes, "in_sample": table}


def routes_cv(members: dict, golds, tasks, outputs, rows, family: set[str], pooled: bool = False) -> dict:
    """default's figures with its routes chosen by 3-fold CV over these rows' sources (each fold
    scored with the routes chosen on the other two), plus what each fold chose."""
    from hallu_core.detection.detectors.routed import apply_route
    from hallu_core.detection.detectors.span_split import tuning_folds

    raw = [{"source_id": r.source_id, "task_type": r.task} for r in rows]
    preds, chosen_per_fold = [None] * len(rows), []
    for held in tuning_folds(raw):
        train = [i for i, r in enumerate(rows) if r.source_id not in held]
        chosen = choose_routes({m: [v[i] for i in train] for m, v in members.items()}, [golds[i] for i in train],
                               [tasks[i] for i in train], [outputs[i] for i in train], family, pooled)["routes"]
        chosen_per_fold.append({t: route_name(r) for t, r in chosen.items() if t})
        for i, r in enumerate(rows):
            if r.source_id in held:
                route = chosen.get(r.task, chosen[""])
                preds[i] = apply_route(route, {m: members[m][i] for m in route_members_of(route)}, outputs[i]).spans
    return {"figures": summary(evaluate(preds, golds, tasks)), "chosen_per_fold": chosen_per_fold, "preds": preds}


def choose_by_cv(members: dict, golds, tasks, outputs, rows) -> dict:
    """Nested-CV predictions of each search setup (family x objective) and of plain lexical; then
    the per-task assignment of setups whose pooled out-of-fold predictions have the best mean of
    *overall* response and span F1 (the issue's targets), each task's CV span F1 at least lexical's
    (the issue's rule; a task no setup holds it for gets plain lexical). Ties go to plain lexical,
    then to the earlier (smaller) setup. Each task's route is its setup refitted on all rows."""
    import itertools

    from hallu_core.detection.metrics import span_counts

    setups = {f"{name}; {'pooled' if pooled else 'per-task'} objective": (fam, pooled)
              for name, fam in FAMILIES.items() for pooled in (False, True)}
    oof = {"plain lexical": [p.spans for p in members["lexical"]]}
    report = {name: routes_cv(members, golds, tasks, outputs, rows, *setup) for name, setup in setups.items()}
    oof.update({n: r["preds"] for n, r in report.items()})
    names, task_list = list(oof), sorted(set(tasks))
    counts = {(n, t): sum((np.array((bool(p) and bool(golds[i]), bool(p), bool(golds[i]), *span_counts(p, golds[i])))
                           for i, p in enumerate(oof[n]) if tasks[i] == t), np.zeros(6)) for n in names for t in task_list}
    allowed = {t: [n for n in names if f1s(counts[n, t])[1] >= f1s(counts["plain lexical", t])[1]] for t in task_list}
    best = max(itertools.product(*(allowed[t] for t in task_list)),
               key=lambda combo: round(sum(f1s(sum(counts[n, t] for n, t in zip(combo, task_list)))) / 2, 4))
    picked = dict(zip(task_list, best))
    routes, refits = {"": dict(LEXICAL_ROUTE)}, {}
    for task, setup in picked.items():
        if setup == "plain lexical":
            routes[task] = dict(LEXICAL_ROUTE)
            continue
        if setup not in refits:
            refits[setup] = choose_routes(members, golds, tasks, outputs, *setups[setup])
        routes[task] = refits[setup]["routes"][task]
    cv_chosen = [next(p for n, p in zip(names, col) if n == picked.get(tasks[i], "plain lexical"))
                 for i, col in enumerate(zip(*oof.values()))]
    return {"setup_by_task": picked, "routes": routes,
            "cv_of_chosen_setups": summary(evaluate(cv_chosen, golds, tasks)),
            "in_sample": {t: [round(100 * x, 1) for x in route_figures(r, members, golds, outputs,
                                                                       [i for i, x in enumerate(tasks) if x == t])]
                          for t, r in routes.items() if t},
            "cv_resp_span_f1": {n: {"overall": [round(100 * x, 1) for x in f1s(sum(counts[n, t] for t in task_list))],
                                    **{t: [round(100 * x, 1) for x in f1s(counts[n, t])] for t in task_list}}
                                for n in names},
            "cv_chosen_per_fold": {n: r["chosen_per_fold"] for n, r in report.items()}}


def add_span(members: dict, golds, tasks, outputs) -> dict:
    """On the validation fold (rows `span` never trained on): per task, a route with `span` in its
    span source (rule "spans": no rule is fitted on 2-13 hallucinated rows) replaces the current
    route when it has the better mean of response and span F1 and a span F1 at least lexical's.
    Rewrites weights/default_routes.json."""
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
                        [route_name(best[0]), *[round(100 * x, 1) for x in best[1]]], "replaced": won}
        if won:
            saved["routes"][task] = best[0]
    saved["span_challenge_on_validation_fold"] = report
    ROUTES_FILE.write_text(json.dumps(saved, indent=1) + "\n")
    return report


def split_protocol(args, rows) -> None:
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
    members, timings = {}, {}
    names = ("lexical", "record", "self_contradiction") + (() if args.no_span else ("span",))
    for name in names:
        start = time.perf_counter()
        members[name] = get_detector(name).detect(items)
        timings[name] = round(time.perf_counter() - start, 1)
    out = {"part": args.part, "rows": len(rows), "sources": len(keep), "seconds": timings}
    if args.choose_routes:
        if args.part == "lockbox":
            raise SystemExit("--choose-routes never reads the lockbox")
        chosen = choose_by_cv(members, golds, tasks, [it.output for it in items], rows)
        ROUTES_FILE.write_text(json.dumps({"chosen_on": f"{args.part} part of the dev-slice split (bench/eval_ragtruth.py "
                                                          f"--part {args.part} --choose-routes)", **chosen}, indent=1) + "\n")
        out["chosen"] = chosen
    if args.add_span:
        if args.part != "validation" or "span" not in members:
            raise SystemExit("--add-span compares span candidates on the validation fold only")
        out["span_challenge"] = add_span(members, golds, tasks, [it.output for it in items])
    routes = load_routes()
    results = {name: summary(evaluate([p.spans for p in preds], golds, tasks)) for name, preds in members.items()}
    if args.no_span and any("span" in route_members(routes.get(t, routes[""])) for t in tasks):
        print("default routes use span: left out with --no-span")
    else:  # the registered detector itself (its own calibration map, when one fits, included)
        start = time.perf_counter()
        default = get_detector("default").detect(items)
        timings["default"] = round(time.perf_counter() - start, 1)
        results["default"] = summary(evaluate([d.spans for d in default], golds, tasks))
    results["flag-everything"] = summary(evaluate([[Span(0, len(i.output))] if i.output else [] for i in items], golds, tasks))
    print(f"{args.part}: {len(rows)} rows, {len(keep)} sources; routes "
          + "; ".join(f"{t or '(other)'}: {route_name(r)}" for t, r in routes.items()))
    print(f"{'detector':16s} {'task':9s} resp P/R/F1        span P/R/F1")
    for name, by_task in results.items():
        for task, d in by_task.items():
            print(f"{name:16s} {task:9s} {d['response_p']:5.1f} {d['response_r']:5.1f} {d['response_f1']:5.1f}   "
                  f"{d['span_p']:5.1f} {d['span_r']:5.1f} {d['span_f1']:5.1f}")
    print(json.dumps({**out, "routes": routes, "results": results}))


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
