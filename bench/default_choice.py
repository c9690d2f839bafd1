"""`default`'s routes and calibration map, chosen on the dev slice's tuning part (bench/eval_ragtruth.py
--part tuning --choose-routes; the lockbox is never read here).

A route (routed.py) names a span source and where the response score comes from; default's calibration
map (calibrate.py) turns that score into a probability and holds each task's operating threshold
(operating.py): a response under it keeps no span. So a candidate route is judged *at its operating
point*, out of fold: the tuning part's 3 source folds (span_split.tuning_folds) each get the map fitted
on the other two (cross-fitting), and every trained member (`learned_builtin`) scores each fold with a
model trained on the other folds plus the extra training rows (`--train-extra`: RAGTruth train-split
QA rows). Per task the candidate with the best mean of response and span F1 is chosen among those
whose out-of-fold flagged share is within operating.SHARE_TOLERANCE of the task's rate and whose span
F1 is at least ungated `lexical`'s (DESIGN.md's floor), and whose response score shows skill on the
task (operating.task_skill) where any candidate's does: the flags must come from the score that is
calibrated and that the rate estimator reads. The choice is made on these same figures, so
they are optimistic for the chosen routes: the lockbox is the guard.
"""
from __future__ import annotations

import numpy as np

from hallu_core.detection.detectors.calibrate_fit import fit_detector
from hallu_core.detection.detectors.operating import SHARE_TOLERANCE, task_skill
from hallu_core.detection.detectors.routed import (
    against_peers,
    apply_route,
    parse_route,
    route_members,
)
from hallu_core.detection.detectors.span_split import tuning_folds
from hallu_core.detection.metrics import evaluate

# (span source, response score): simplest first, ties go to the earlier one
CANDIDATES = [(["lexical"], None), (["lexical"], "coverage"), (["record"], "record"), (["record", "lexical"], "record"),
              (["learned_builtin"], "learned_builtin"), (["lexical"], "learned_builtin"),
              (["learned_builtin"], "coverage"), (["record", "learned_builtin"], "record")]


def route_name(route: dict) -> str:
    rule = route["response"]
    text = " + ".join(route["spans"]) + {"spans": "", "all": ", flag all",
                                          "coverage": f", coverage >= {rule.get('min')}",
                                          "score": f", {rule.get('detector')} span >= {rule.get('min')}"}[rule["rule"]]
    text += f", else {' + '.join(route['fallback'])}" if route["fallback"] else ""
    text += f"; score: {route['score']}" if route.get("score") else ""
    return text + (" against peers' median" if route.get("relative_to_peers") else "")


def candidate_routes(members: set[str], peer_scores: bool = False) -> list[dict]:
    """CANDIDATES as routes; with `peer_scores`, each also scoring against its peers' median (peers.py)."""
    options = [{}, {"relative_to_peers": True}] if peer_scores else [{}]
    routes = [parse_route("", {"spans": spans, **({"score": score} if score else {}), **option})
              for option in options for spans, score in CANDIDATES]
    return [r for r in routes if set(route_members(r)) <= members]


def peers_of(rows) -> list[list[int]]:
    """Each row's peers: the other rows of its source (the samples file mode gives it: filemode.py)."""
    by_source: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_source.setdefault(r.source_id, []).append(i)
    return [[j for j in by_source[r.source_id] if j != i] for i, r in enumerate(rows)]


def route_results(route: dict, members: dict, outputs: list[str], peers: list[list[int]]) -> list:
    """default's raw (uncalibrated) results under one route for every row (`peers`: peers_of the rows)."""
    names = route_members(route)
    raw = [apply_route(route, {m: members[m][i] for m in names}, out) for i, out in enumerate(outputs)]
    return [against_peers(route, r, [raw[j] for j in peers[i]]) for i, r in enumerate(raw)]


def folds_of(rows) -> list[set[str]]:
    return tuning_folds([{"source_id": r.source_id, "task_type": r.task} for r in rows])


def cross_fitted(results: list, golds, tasks, rows, fingerprint: str = "") -> list:
    """Each fold's results through default's map fitted on the other folds (uncalibrated where none fits)."""
    out = list(results)
    for held in folds_of(rows):
        train = [i for i, r in enumerate(rows) if r.source_id not in held]
        cal, _ = fit_detector("default", fingerprint, [tasks[i] for i in train], [results[i] for i in train],
                              [golds[i] for i in train], [rows[i].source_id for i in train], "fold")
        test = [i for i, r in enumerate(rows) if r.source_id in held]
        if cal is not None:
            for i, r in zip(test, cal.apply([results[i] for i in test], [tasks[i] for i in test])):
                out[i] = r
    return out


def figures(results: list, golds, tasks, ranking: list | None = None) -> dict:
    """Per task and overall: response and span P/R/F1, flagged and true share, Brier of the response
    score, and the AUC of `ranking`'s response scores (by default the results'; cross-fitted results
    pass their raw scores: each fold's own map would mix into a pooled ranking). Percent where a
    share or F1."""
    fig = evaluate([r.spans for r in results], golds, tasks)
    out = {}
    for task, d in [("overall", fig["overall"]), *fig["by_task"].items()]:
        idx = [i for i, t in enumerate(tasks) if task in ("overall", t)]
        score, label = np.array([results[i].response_score for i in idx]), np.array([bool(golds[i]) for i in idx])
        ranked = ranking if ranking and task != "overall" else results  # raw scores of different tasks do not mix
        skill = task_skill([ranked[i].response_score for i in idx], label)
        out[task] = {"response_f1": round(100 * d["response"]["f1"], 1), "span_f1": round(100 * d["span"]["f1"], 1),
                     "response_p": round(100 * d["response"]["precision"], 1),
                     "response_r": round(100 * d["response"]["recall"], 1),
                     "span_p": round(100 * d["span"]["precision"], 1), "span_r": round(100 * d["span"]["recall"], 1),
                     "flagged_share": round(100 * float(np.mean([bool(results[i].spans) for i in idx])), 1),
                     "true_share": round(100 * float(label.mean()), 1),
                     "auc": None if skill["auc"] is None else round(skill["auc"], 3), "skill": skill["skill"],
                     "brier": round(float(np.mean((np.clip(score, 0, 1) - label) ** 2)), 3)}
    return out


def choose(members: dict, golds, tasks, outputs, rows, peer_scores: bool = False) -> dict:
    """Routes per task (see the module docstring), with every candidate's out-of-fold figures
    (`peer_scores`: the candidates scored against their peers too)."""
    floor, peers = figures(members["lexical"], golds, tasks), peers_of(rows)
    table, oof = {}, {}
    for route in candidate_routes(set(members), peer_scores):
        name = route_name(route)
        raw = route_results(route, members, outputs, peers)
        oof[name] = (route, cross_fitted(raw, golds, tasks, rows), raw)
        table[name] = figures(oof[name][1], golds, tasks, raw)
    routes, picked = {}, {}
    def allowed(f: dict, task: str) -> bool:
        return abs(f["flagged_share"] - f["true_share"]) <= 100 * SHARE_TOLERANCE and \
            f["span_f1"] >= floor[task]["span_f1"] and (f["skill"] or not any(t[task]["skill"] for t in table.values()))
    for task in sorted(set(tasks)):
        names = [n for n in table if allowed(table[n][task], task)] or [route_name(candidate_routes(set(members))[0])]
        picked[task] = max(names, key=lambda n: (table[n][task]["response_f1"] + table[n][task]["span_f1"]) / 2)
        routes[task] = oof[picked[task]][0]
    routes[""] = candidate_routes(set(members))[0]  # tasks without tuning data: plain lexical
    chosen = [oof[picked[t]][1][i] for i, t in enumerate(tasks)]
    ranking = [oof[picked[t]][2][i] for i, t in enumerate(tasks)]
    return {"routes": routes, "picked": picked, "cv_of_chosen": figures(chosen, golds, tasks, ranking),
            "cv_by_candidate": table, "lexical_floor": floor}


def routed(route_of_task: dict, members: dict, outputs: list[str], tasks, peers: list[list[int]]) -> list:
    """Each row's raw result under its task's route."""
    by_task = {t: route_results(route, members, outputs, peers) for t, route in route_of_task.items()}
    return [by_task[t][i] for i, t in enumerate(tasks)]


def print_figures(results: dict) -> None:
    """{name: {task: figures}} as a table, one line per name and task."""
    print(f"{'detector':38s} {'task':9s} resp P/R/F1        span P/R/F1        flagged/true share  AUC    Brier")
    for name, by_task in results.items():
        for task, d in by_task.items():
            print(f"{name:38s} {task:9s} {d['response_p']:5.1f} {d['response_r']:5.1f} {d['response_f1']:5.1f}   "
                  f"{d['span_p']:5.1f} {d['span_r']:5.1f} {d['span_f1']:5.1f}   {d['flagged_share']:5.1f} / "
                  f"{d['true_share']:5.1f}    {d['auc'] if d['auc'] is not None else '-':5}  {d['brier']}")


def fit_shipped_map(route_of_task: dict, members: dict, golds, tasks, outputs, rows, fingerprint: str):
    """default's map for the chosen routes, fitted on every tuning row's out-of-fold member results."""
    results = routed(route_of_task, members, outputs, tasks, peers_of(rows))
    fitted_on = f"RAGTruth dev slice, tuning part ({len({r.source_id for r in rows})} sources, {len(rows)} responses)"
    return fit_detector("default", fingerprint, tasks, results, golds, [r.source_id for r in rows], fitted_on)
