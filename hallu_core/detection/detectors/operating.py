"""Where a detector's flag means something: per task, whether its response score ranks outputs better
than chance (skill), and the operating threshold on that score at which it flags.

Both are fitted on labels (calibrate_fit.py) and stored with the detector's calibration map
(calibrate.py), so a page can ask `detector_skill(name, task)` before painting a task's outputs. Both
read only how the response score ranks the task's outputs, which the task's monotone calibration map
keeps: they are taken on the raw scores (a threshold is then mapped to the calibrated scale).

- Skill: the ROC AUC of the response score on the task's labeled outputs, with a 95% interval from Hanley &
  McNeil's (1982) standard error; the score has skill on a task when the interval's lower end is
  above 0.5 (a ranking clearly better than chance), measured on at least MIN_PER_CLASS responses of
  each kind.
- Operating threshold: the threshold whose flagged share (responses at or over it that keep a span)
  is closest to the task's labeled rate (ties: the better response F1). A flag count then estimates
  the rate, and a flag says "among the outputs most likely hallucinated" at the rate the labels show.
  Matching the share, rather than hunting the F1-best threshold in a band around it, is the choice
  that survives the ~10-15 hallucinated rows a task has in RAGTruth's tuning data: there F1 is
  noise, and the F1-best threshold followed it (the QA route's out-of-fold flagged share moved from
  26% to 15% with a change of tie-break alone). It
  is chosen for every task labeled with at least MIN_PER_CLASS responses of each kind, skill or not
  (without skill the flags are no better than a draw at the right rate, and skill says so); a task
  with fewer labels, or one the fit never saw (the "" entry), keeps threshold 0: the detector's
  spans as they come.
"""
from __future__ import annotations

import math

import numpy as np

SHARE_TOLERANCE = 0.10  # how far from the rate a route's out-of-fold flagged share may land (bench)
MIN_PER_CLASS = 5
THRESHOLD_RULE = (f"per task: the threshold whose flagged share on the labeled rows is closest to their rate (ties: "
                  f"the better response F1), placed on the raw score's ranking and mapped to the calibrated scale; "
                  f"0 (every response with a span) for a task with under {MIN_PER_CLASS} labeled responses of either "
                  f"kind and for tasks never seen")
Z95 = 1.96


def auc(scores, labels) -> float | None:
    """ROC AUC (ties count half); None without both kinds of label."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels, bool)
    return float(roc_auc_score(y, np.asarray(scores, float))) if 0 < y.sum() < len(y) else None


def auc_low(a: float, n_pos: int, n_neg: int) -> float:
    """Lower end of the AUC's 95% interval (Hanley & McNeil's standard error)."""
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    return a - Z95 * math.sqrt(max(var, 0.0))


def task_skill(scores, labels) -> dict:
    """{"skill", "auc", "auc_low", "n", "positives"} of one task's response scores against its labels."""
    y = np.asarray(labels, bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    a = auc(scores, y)
    out = {"n": len(y), "positives": n_pos, "auc": None if a is None else round(a, 4), "auc_low": None, "skill": False}
    if a is not None and min(n_pos, n_neg) >= MIN_PER_CLASS:
        out["auc_low"] = round(auc_low(a, n_pos, n_neg), 4)
        out["skill"] = out["auc_low"] > 0.5
    return out


def operating_threshold(scores, labels, has_spans) -> float:
    """The threshold whose flagged share is closest to the labeled rate (a response is flagged at t when
    its score >= t and it keeps a span), ties broken by response F1. Thresholds lie halfway between
    neighbouring scores, and of thresholds that flag the same responses the highest is taken (the widest
    margin below the lowest flagged score)."""
    s, y, spans = np.asarray(scores, float), np.asarray(labels, bool), np.asarray(has_spans, bool)
    rate = y.mean()

    def at(t: float) -> tuple[float, float]:
        flagged = (s >= t) & spans
        tp = (flagged & y).sum()
        f1 = 2 * tp / (flagged.sum() + y.sum()) if flagged.sum() + y.sum() else 0.0
        return float(flagged.mean()), float(f1)
    distinct = np.unique(np.round(s, 6))
    candidates = [0.0] + [round(float(t), 6) for t in (distinct[:-1] + distinct[1:]) / 2]
    figures = {t: at(t) for t in candidates}
    return float(max(candidates, key=lambda t: (-round(abs(figures[t][0] - rate), 9), round(figures[t][1], 9), t)))


def skill_of(cal, task: str) -> dict:
    """{"skill": bool, "auc": float | None, "reason": str} of a calibration map (or None) on a task."""
    if cal is None:
        return {"skill": False, "auc": None, "reason": "no calibration map: its scores were never measured on labels"}
    fitted = cal.meta.get("fitted_on", "labels")
    measured = cal.skill.get(task)
    if measured is None:
        return {"skill": False, "auc": None, "reason": f"never measured on task {task!r}; fitted on {fitted}"}
    auc_text = "no AUC" if measured["auc"] is None else f"AUC {measured['auc']:.2f}"
    if measured["skill"]:
        reason = f"{auc_text} (95% interval from {measured['auc_low']:.2f}) on {measured['n']} labeled outputs"
    elif measured["auc_low"] is None:
        reason = (f"{auc_text}: too few labeled outputs of each kind ({measured['positives']} hallucinated of "
                  f"{measured['n']}; {MIN_PER_CLASS} of each needed)")
    else:
        reason = (f"{auc_text}, not clearly above chance (95% interval from {measured['auc_low']:.2f}) on "
                  f"{measured['n']} labeled outputs")
    return {"skill": bool(measured["skill"]), "auc": measured["auc"], "reason": f"{reason}; fitted on {fitted}"}


def detector_skill(detector: str, task: str, directory=None) -> dict:
    """Whether `detector`'s response score ranks `task`'s outputs better than chance, by its calibration
    map (a workspace's `directory` first, else the shipped one): {"skill", "auc", "reason"}."""
    from hallu_core.detection.detectors import calibrate

    for where in ([directory] if directory else []) + [None]:
        cal = calibrate.load(detector, where)
        if cal is not None and (task in cal.skill or where is None):
            return skill_of(cal, task)
    return skill_of(None, task)
