"""Fitting a detector's calibration map from its raw results and labels, measured out of fold.

Shared by scripts/fit_calibration.py (the shipped maps, RAGTruth tuning part) and the
per-workspace refit (workspace_calibration.py, a workspace's own labels). With folds grouped
by source / example, maps fitted on the other folds score each held-out fold: the Brier score
and expected calibration error (ECE) reported are out of fold, and so is the threshold picked
(the calibrated span threshold with the best pooled span F1 that costs no task span F1, kept
only where it adds two points of span F1 over reporting every span). Each task's skill and operating
threshold on the response score (operating.py) are taken on the raw scores of every row, with the
spans kept out of fold (a monotone map keeps the ranking they read). Where the raw scores
measure at least as well calibrated as a fitted map, the map is the identity (and says so).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np

from hallu_core.detection.detectors import calibrate, operating
from hallu_core.detection.metrics import response_prf, span_prf

GRID = [round(float(t), 2) for t in np.arange(0.0, 0.96, 0.05)]
MIN_TASK_SPANS = 60  # a task gets its own span map only with this many spans (else the pooled one)
MIN_TASK_RESPONSES = 40  # ... and its own response map with this many responses
MIN_SPANS = 5
MIN_THRESHOLD_GAIN = 0.02  # out-of-fold span F1 a threshold must add over reporting every span
TASK_TOLERANCE = 0.005  # ... while no task loses more span F1 than this
IDENTITY_NOTE = "raw scores measured calibrated (out-of-fold Brier no worse than a fitted map's)"


def ece(pred, target, bins: int = 10) -> float:
    """Expected calibration error: |mean prediction - mean target| per equal-width bin, weighted."""
    pred, target = np.asarray(pred, float), np.asarray(target, float)
    if not len(pred):
        return float("nan")
    idx = np.minimum((pred * bins).astype(int), bins - 1)
    return float(sum(abs(pred[idx == b].mean() - target[idx == b].mean()) * (idx == b).sum()
                     for b in range(bins) if (idx == b).any()) / len(pred))


def quality(pred, target) -> dict:
    pred, target = np.asarray(pred, float), np.asarray(target, float)
    if not len(pred):
        return {"brier": None, "ece": None}
    return {"brier": round(float(np.mean((pred - target) ** 2)), 4), "ece": round(ece(pred, target), 4)}


def group_folds(groups: list[str], k: int) -> list[list[int]]:
    """k folds of indices, whole groups at a time, balanced by size."""
    members = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    folds = [[] for _ in range(max(2, min(k, len(members))))]
    for g in sorted(members, key=lambda g: (-len(members[g]), g)):
        min(folds, key=len).extend(members[g])
    return [f for f in folds if f]


def operating_points(tasks, scores, labels, keeps_span, golds, kept_spans) -> tuple[dict, dict, dict]:
    """(response thresholds, skill, figures at the thresholds) per task on raw response scores (operating.py:
    both read only the ranking, which a task's monotone map keeps); "" (tasks never seen) and tasks with
    too few labels of a kind get threshold 0."""
    scores, labels, keeps_span = np.asarray(scores, float), np.asarray(labels, bool), np.asarray(keeps_span, bool)
    thresholds, skill, at = {"": 0.0}, {}, {}
    for task in sorted(set(tasks)):
        idx = [i for i, t in enumerate(tasks) if t == task]
        skill[task] = operating.task_skill(scores[idx], labels[idx])
        labeled = skill[task]["auc_low"] is not None  # enough of each kind to place a threshold
        thresholds[task] = operating.operating_threshold(scores[idx], labels[idx], keeps_span[idx]) if labeled else 0.0
        flagged = [bool(scores[i] >= thresholds[task] and keeps_span[i]) for i in idx]
        at[task] = {"flagged_share": round(float(np.mean(flagged)), 4), "true_share": round(float(labels[idx].mean()), 4),
                    "response_f1": round(response_prf(flagged, labels[idx])["f1"], 4),
                    "span_f1": round(span_prf([kept_spans[i] if f else [] for i, f in zip(idx, flagged)],
                                              [golds[i] for i in idx])["f1"], 4)}
    return thresholds, skill, at


def fit_maps(span_rows, resp_rows, name: str, fingerprint: str, threshold: float = 0.0,
             meta: dict | None = None) -> calibrate.DetectorCalibration:
    """span_rows: (raw score, target, task); resp_rows: (raw score, label, task)."""
    def per_task(rows, minimum):
        tasks = sorted({r[2] for r in rows})
        if len(tasks) < 2:
            return {}
        out = {}
        for task in tasks:
            mine = [r for r in rows if r[2] == task]
            if len(mine) >= minimum:
                out[task] = calibrate.fit([r[0] for r in mine], [r[1] for r in mine])
        return out
    return calibrate.DetectorCalibration(
        name, fingerprint, calibrate.fit([r[0] for r in span_rows], [r[1] for r in span_rows]),
        calibrate.fit([r[0] for r in resp_rows], [r[1] for r in resp_rows]), threshold,
        per_task(span_rows, MIN_TASK_SPANS), per_task(resp_rows, MIN_TASK_RESPONSES), meta or {})


def fit_detector(name: str, fingerprint: str, tasks: list[str], results: list, golds: list[list],
                 groups: list[str], fitted_on: str,
                 folds: int = 5) -> tuple[calibrate.DetectorCalibration | None, dict]:
    """(map, report) from raw `results` of one detector against gold spans; map None when too few spans."""
    spans = [(i, s, calibrate.span_target(s, golds[i])) for i, r in enumerate(results) for s in r.spans]
    report = {"responses": len(results), "spans": len(spans),
              "spans_by_task": {t: sum(1 for i, _, _ in spans if tasks[i] == t) for t in sorted(set(tasks))}}
    if len(spans) < MIN_SPANS or len({bool(g) for g in golds}) < 2:
        report["skipped"] = (f"fewer than {MIN_SPANS} spans, or labels of one kind only: "
                             "nothing to calibrate span scores on")
        return None, report
    oof_span, oof_resp = np.zeros(len(spans)), np.zeros(len(results))
    for test in group_folds(groups, folds):
        held = set(test)
        cal = fit_maps([(s.score, t, tasks[i]) for i, s, t in spans if i not in held],
                       [(results[i].response_score, bool(golds[i]), tasks[i])
                        for i in range(len(results)) if i not in held],
                       name, "")
        for k, (i, s, _) in enumerate(spans):
            if i in held:
                oof_span[k] = cal.span_map(tasks[i]).apply(s.score)
        for i in test:
            oof_resp[i] = cal.response_map(tasks[i]).apply(results[i].response_score)
    raw_span, span_t = np.array([s.score for _, s, _ in spans]), np.array([t for _, _, t in spans])
    raw_resp, resp_label = np.array([r.response_score for r in results]), np.array([bool(g) for g in golds], float)
    report.update(span_raw=quality(np.clip(raw_span, 0, 1), span_t), span_calibrated_oof=quality(oof_span, span_t),
                  response_raw=quality(np.clip(raw_resp, 0, 1), resp_label),
                  response_calibrated_oof=quality(oof_resp, resp_label))
    identity = {part: report[f"{part}_raw"]["brier"] <= report[f"{part}_calibrated_oof"]["brier"]
                for part in ("span", "response")}
    # response scores may differ in kind by task (default's come from a different member per task): judged per task
    raw_by_task = {t: bool(np.mean((np.clip(raw_resp[m], 0, 1) - resp_label[m]) ** 2)
                           <= np.mean((oof_resp[m] - resp_label[m]) ** 2))
                   for t in sorted(set(tasks)) for m in [np.array(tasks) == t]}
    if identity["span"]:
        oof_span = np.clip(raw_span, 0, 1)

    def at(threshold: float) -> dict:
        kept = [[] for _ in results]
        for k, (i, s, _) in enumerate(spans):
            if oof_span[k] >= threshold:
                kept[i].append(s)
        by_task = {t: span_prf([kept[i] for i in range(len(results)) if tasks[i] == t],
                               [golds[i] for i in range(len(results)) if tasks[i] == t])["f1"] for t in set(tasks)}
        return {"span_f1": round(span_prf(kept, golds)["f1"], 4),
                "response_f1": round(response_prf([bool(k) for k in kept], [bool(g) for g in golds])["f1"], 4),
                "span_f1_by_task": {t: round(f, 4) for t, f in sorted(by_task.items())}}
    curve = {t: at(t) for t in GRID}
    # one threshold serves every task: it may not cost any task span F1 (a pooled gain can come from the
    # task with the most characters while blanking the others), and must pay MIN_THRESHOLD_GAIN overall
    fair = [t for t in GRID if all(curve[t]["span_f1_by_task"][task] >= f - TASK_TOLERANCE
                                   for task, f in curve[0.0]["span_f1_by_task"].items())]
    best = max(fair, key=lambda t: (curve[t]["span_f1"], curve[t]["response_f1"], -t))
    if curve[best]["span_f1"] < curve[0.0]["span_f1"] + MIN_THRESHOLD_GAIN:
        best = 0.0
    report.update(identity=identity, response_identity_by_task=raw_by_task, threshold=best,
                  at_threshold_oof=curve[best], at_zero_oof=curve[0.0])
    kept: list[list] = [[] for _ in results]  # each response's spans out of fold at the span threshold
    for k, (i, s, _) in enumerate(spans):
        if oof_span[k] >= best:
            kept[i].append(s)
    keeps_span = np.array([bool(k) for k in kept], bool)
    # on the raw scores: skill and a share-matching threshold read the ranking only, which the final
    # (monotone) map keeps; pooled out-of-fold scores would mix each fold's map into the ranking
    raw_thresholds, skill, report["at_response_thresholds"] = operating_points(
        tasks, raw_resp, resp_label, keeps_span, golds, kept)
    report["skill"] = skill
    meta = {"fitted_on": fitted_on,
            "span_target": "share of the span's characters inside a gold span",
            "response_target": "the response has a gold span",
            "threshold_rule": (f"calibrated span threshold with the best out-of-fold pooled span F1 ({folds} grouped "
                               f"folds) among those costing no task over {TASK_TOLERANCE} span F1; 0 unless it "
                               f"adds {MIN_THRESHOLD_GAIN} span F1"),
            "out_of_fold": {k: report[k] for k in ("span_raw", "span_calibrated_oof", "response_raw",
                                                  "response_calibrated_oof", "at_threshold_oof")},
            "response_threshold_rule": operating.THRESHOLD_RULE,
            "at_response_thresholds": report["at_response_thresholds"],
            "identity": {**{part: IDENTITY_NOTE for part, same in identity.items() if same},
                         **{f"response ({t})": IDENTITY_NOTE for t, same in raw_by_task.items() if same}},
            "n_spans": len(spans), "n_responses": len(results)}
    cal = fit_maps([(s.score, t, tasks[i]) for i, s, t in spans],
                   [(r.response_score, bool(g), task) for r, g, task in zip(results, golds, tasks)],
                   name, fingerprint, float(best), meta)
    if identity["span"]:
        cal = replace(cal, span=calibrate.Calibrator("identity", n=len(spans)), span_by_task={})
    identity_map = calibrate.Calibrator("identity", n=len(results))
    cal = replace(cal, response=identity_map if identity["response"] else cal.response,
                  response_by_task={t: identity_map if raw else cal.response_map(t) for t, raw in raw_by_task.items()},
                  skill=skill)
    response_thresholds = {t: 0.0 if t == "" or not raw else round(float(cal.response_map(t).apply(raw)), 6)
                           for t, raw in raw_thresholds.items()}  # the raw threshold on the calibrated scale
    report["response_thresholds"] = response_thresholds
    return replace(cal, response_thresholds=response_thresholds), report
