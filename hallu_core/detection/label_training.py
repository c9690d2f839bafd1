"""(Re)train the learned detector on the workspace's labels, with a cross-validated score.

Run as a background job (`train_detector_job`, job kind "train-detector"). Folds are
grouped by example, so outputs of one prompt never sit on both sides of a split.
The cross-validated figures and the final model (trained on every label) are written
to `artifacts/detectors/<detector>/`; `last_training` reads them back for the page.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from hallu_core.detection import metrics
from hallu_core.store.database import Store

log = logging.getLogger(__name__)
JOB_KIND = "train-detector"
MIN_LABELS = 6


def model_dir(store: Store, detector: str = "learned") -> Path:
    return store.artifacts / "detectors" / detector


def last_training(store: Store, detector: str = "learned") -> dict | None:
    path = model_dir(store, detector) / "cv.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def training_set(store: Store, annotator: str) -> tuple[list, list, list[str]]:
    """(detect items, gold span lists, example ids) of every generation the annotator marked done."""
    from hallu_core.detection.detect import detect_items

    labels = [lab for lab in store.labels(annotator=annotator) if lab.status == "done"]
    gens = [store.get_generation(lab.generation_id) for lab in labels]
    keep = [(g, lab) for g, lab in zip(gens, labels) if g is not None]
    items = detect_items(store, [g for g, _ in keep])
    return items, [list(lab.spans) for _, lab in keep], [g.example_id for g, _ in keep]


def readiness(store: Store, annotator: str, minimum: int = MIN_LABELS) -> str | None:
    """Why fitting on this annotator's labels cannot work yet (None: it can); checked before a job starts."""
    # the store's per-checkpoint counts of each annotator's done labels (judged) and those with spans (flagged)
    total, positives = store.query("SELECT COALESCE(SUM(judged), 0), COALESCE(SUM(flagged), 0) FROM source_summary "
                                   "WHERE source_kind = 'labels' AND source = ?", (annotator,))[0]
    if total < minimum or positives == 0 or positives == total:
        return (f"need at least {minimum} done labels by {annotator!r} with both hallucinated and clean "
                f"outputs; found {total} ({positives} with spans)")
    return None


def grouped_folds(groups: list[str], k: int) -> list[list[int]]:
    """Indices split into k folds, each group (example) inside one fold, sizes balanced."""
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    folds: list[list[int]] = [[] for _ in range(k)]
    for members in sorted(by_group.values(), key=len, reverse=True):
        min(folds, key=len).extend(members)
    return [sorted(f) for f in folds if f]


def train_detector_job(store: Store, args: dict, progress) -> dict:
    from hallu_core.detection.detectors.registry import get_detector

    annotator, name = args.get("annotator") or "gold", args.get("detector") or "learned"
    items, golds, groups = training_set(store, annotator)
    positives = sum(bool(g) for g in golds)
    if len(items) < MIN_LABELS or positives == 0 or positives == len(golds):
        raise ValueError(f"need at least {MIN_LABELS} done labels by {annotator!r} with both hallucinated and "
                         f"clean outputs; found {len(items)} ({positives} with spans)")
    folds = grouped_folds(groups, max(2, min(int(args.get("folds", 5)), len(set(groups)))))
    steps = len(folds) + 1
    preds: list = [None] * len(items)
    for n, test in enumerate(folds):
        progress(n, steps, f"cross-validation fold {n + 1}/{len(folds)}")
        held = set(test)
        train = [i for i in range(len(items)) if i not in held]
        detector = get_detector(name)
        detector.fit([items[i] for i in train], [golds[i] for i in train])
        for i, result in zip(test, detector.detect([items[i] for i in test])):
            preds[i] = result.spans
    cv = metrics.evaluate(preds, golds, [it.task for it in items])
    progress(len(folds), steps, "training on every label")
    detector = get_detector(name)
    detector.fit(items, golds)
    out = model_dir(store, name)
    out.mkdir(parents=True, exist_ok=True)
    saved = None
    if hasattr(detector, "save"):
        detector.save(out / "model")
        saved = str(out / "model")
    summary = {"detector": name, "annotator": annotator, "labels": len(items), "positives": positives,
               "folds": len(folds), "cv": cv["overall"], "cv_by_task": cv["by_task"], "model": saved,
               "trained_at": time.time()}
    (out / "cv.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    if saved:  # the labels make detection better: rerun the retrained model over the workspace
        from hallu_core.detection.detect import run_detection, workspace_detector

        config = {"pretrained": saved}
        store.delete_detections(name, workspace_detector(store, name, **config).config_hash)  # same config, new weights
        summary["detected"] = run_detection(store, name, config=config)["detected"]
    progress(steps, steps, f"cross-validated response F1 {cv['overall']['response']['f1']:.3f}, "
                           f"span F1 {cv['overall']['span']['f1']:.3f}")
    log.info("trained %s on %d labels of %s", name, len(items), annotator)
    return {k: summary.get(k) for k in ("detector", "annotator", "labels", "folds", "detected")}
