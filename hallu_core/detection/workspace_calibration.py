"""Calibration refitted on a workspace's own labels (a background job, kind "calibrate").

The shipped maps are fitted on real RAG outputs (RAGTruth); another domain has other base
rates and other score meanings (on the demo world they measured worse than the raw scores,
docs/detectors.md). A refit re-runs the detector with raw scores on every output the chosen
annotator marked done, fits its maps there (figures out of fold, folds grouped by example),
stores them in the workspace (`artifacts/calibration/<detector>.json`, preferred over the
shipped map by every detection run in this workspace) and re-detects the workspace with them.
Tasks the labels do not cover keep the shipped maps.
"""
from __future__ import annotations

import json
import logging
from dataclasses import replace

from hallu_core.detection import label_training
from hallu_core.detection.detect import map_dir  # noqa: F401  (where the maps live; callers read it here too)
from hallu_core.detection.detectors import calibrate
from hallu_core.store.database import Store

log = logging.getLogger(__name__)
JOB_KIND = "calibrate"
MIN_LABELS = 20


def effective_map(store: Store | None, detector: str) -> calibrate.DetectorCalibration | None:
    """The map a detection run in this workspace uses: the workspace's own (refit on its labels), else the
    shipped one; a map that cannot be read is logged and skipped (None: no map, spans as they come)."""
    for where in ([map_dir(store)] if store is not None else []) + [None]:
        try:
            cal = calibrate.load(detector, where)
        except ValueError as exc:
            log.warning("%s", exc)
            continue
        if cal is not None:
            return cal
    return None


def own_threshold(store: Store | None, detector: str) -> float | None:
    """The span threshold a detection run in this workspace uses (effective_map's)."""
    cal = effective_map(store, detector)
    return None if cal is None else cal.threshold


def calibrated_on(store: Store, detector: str) -> str | None:
    """The annotator whose labels this workspace's map of `detector` was refit on (None: the shipped map)."""
    try:
        cal = calibrate.load(detector, map_dir(store))
    except ValueError:
        return None
    return None if cal is None else cal.meta.get("annotator")


def flag_thresholds(store: Store | None, detector: str) -> dict:
    """What a flag of `detector` takes in this workspace: {"span": a span's calibrated score at least this,
    "response": {task: the response score at least this ("" for other tasks)}} (effective_map's; no map:
    spans as they come)."""
    cal = effective_map(store, detector)
    if cal is None:
        return {"span": 0.0, "response": {}}
    return {"span": cal.threshold, "response": dict(cal.response_thresholds)}


def detector_skill(store: Store | None, detector: str, task: str) -> dict:
    """{"skill", "auc", "reason"}: whether the detector's flags mean something on this task's outputs
    (the workspace's map first, else the shipped one; operating.py)."""
    from hallu_core.detection.detectors.operating import detector_skill as skill

    return skill(detector, task, map_dir(store) if store is not None else None)


def readiness(store: Store, annotator: str) -> str | None:
    """Why a refit on this annotator's labels cannot work yet (None: it can)."""
    return label_training.readiness(store, annotator, MIN_LABELS)


def refit(store: Store, detector_name: str, annotator: str, progress=None, redetect: bool = True) -> dict:
    """Fit `detector_name`'s map on `annotator`'s done labels, save it in the workspace, re-detect."""
    from hallu_core.detection.detect import run_detection
    from hallu_core.detection.detectors.calibrate_fit import fit_detector
    from hallu_core.detection.detectors.registry import get_detector
    from hallu_core.detection.label_training import training_set

    progress = progress or (lambda *a: None)
    why = readiness(store, annotator)
    if why:
        raise ValueError(f"cannot calibrate {detector_name} on these labels: {why}")
    items, golds, groups = training_set(store, annotator)
    detector = get_detector(detector_name)
    detector.use_calibration = False
    results = detector.detect(items, lambda d, t, m: progress(d, 2 * t, f"raw scores: {m}"))
    cal, report = fit_detector(detector_name, detector.fingerprint(), [it.task for it in items], results, golds,
                               groups, f"workspace labels of {annotator!r} ({len(items)} outputs)")
    if cal is None:
        raise ValueError(f"cannot calibrate {detector_name} on {annotator!r}'s labels: {report['skipped']}")
    cal = keep_shipped_for_unseen_tasks(cal, calibrate.load(detector_name), {it.task for it in items})
    cal = replace(cal, meta={**cal.meta, "annotator": annotator})  # whose labels: figures on them are in-sample
    path = calibrate.save(cal, map_dir(store))
    log.info("calibrated %s on %s's labels: %s", detector_name, annotator, json.dumps(report))
    summary = {"detector": detector_name, "annotator": annotator, "map": str(path), **report}
    if redetect:
        summary["redetected"] = run_detection(
            store, detector_name, progress=lambda d, t, m: progress(t + d, 2 * t, f"re-detecting: {m}"))
    return summary


def keep_shipped_for_unseen_tasks(cal: calibrate.DetectorCalibration, shipped: calibrate.DetectorCalibration | None,
                                  seen: set[str]) -> calibrate.DetectorCalibration:
    """The refit maps for the tasks the labels cover; the shipped maps for every other task (a workspace
    holding demo bios and imported RAGTruth rows keeps RAGTruth's maps for the RAGTruth tasks)."""
    if shipped is None or shipped.fingerprint != cal.fingerprint:
        return cal
    return replace(
        cal, span=shipped.span, response=shipped.response,
        span_by_task={**shipped.span_by_task, **{t: cal.span_map(t) for t in seen}},
        response_by_task={**shipped.response_by_task, **{t: cal.response_map(t) for t in seen}},
        response_thresholds={**shipped.response_thresholds, **{t: cal.response_threshold(t) for t in seen}},
        skill={**shipped.skill, **{t: cal.skill[t] for t in seen if t in cal.skill}},
        meta={**cal.meta, "other_tasks": f"the shipped map's ({shipped.meta.get('fitted_on', 'shipped')})"})


def calibrate_job(store: Store, args: dict, progress) -> dict:
    """args: {"detector", "annotator"}."""
    return refit(store, args["detector"], args["annotator"], progress)
