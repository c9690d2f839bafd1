"""Do the shipped (RAGTruth-fitted) calibration maps describe another workspace's domain?

For each detector, on a workspace's stored detections (made with raw scores) and one
annotator's done labels: Brier score and ECE of the raw scores, of the shipped map applied to
them, and of a map refitted on the workspace's own labels (out of fold, 5 folds grouped by
example). Last stdout line: one JSON object.

    HF_HUB_OFFLINE=1 python scripts/calibration_transfer.py WORKSPACE [--annotator oracle] [--detectors ...]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hallu_core import set_process_defaults  # noqa: E402

set_process_defaults()  # before torch is first imported, as the CLI and jobs do

from hallu_core.detection import evaluation as labeled  # noqa: E402
from hallu_core.detection.detectors import calibrate  # noqa: E402
from hallu_core.detection.detectors.calibrate_fit import group_folds, quality  # noqa: E402
from hallu_core.store.database import Store  # noqa: E402


def measure(store: Store, detector: str, annotator: str) -> dict:
    pairs = labeled.labeled_pairs(store, detector, annotator)
    shipped = calibrate.load(detector)
    if not pairs or shipped is None:
        return {"skipped": "no labeled detections" if not pairs else "no shipped map"}
    if any(s.raw_score is not None for p in pairs for s in p["pred"]):
        return {"skipped": "stored detections are already calibrated: measure on raw ones"}
    spans = [(k, s, calibrate.span_target(s, p["gold"]), p["task"]) for k, p in enumerate(pairs) for s in p["pred"]]
    target = np.array([t for _, _, t, _ in spans])
    label = np.array([bool(p["gold"]) for p in pairs], float)
    examples = {r[0]: r[1] for r in store.query("SELECT id, example_id FROM generations")}
    oof_span, oof_resp = np.zeros(len(spans)), np.zeros(len(pairs))
    for test in group_folds([examples[p["generation_id"]] for p in pairs], 5):
        held = set(test)
        span_map = calibrate.fit([s.score for k, s, _, _ in spans if k not in held],
                                 [t for k, _, t, _ in spans if k not in held])
        resp_map = calibrate.fit([p["response_score"] for k, p in enumerate(pairs) if k not in held],
                                 [bool(p["gold"]) for k, p in enumerate(pairs) if k not in held])
        for j, (k, s, _, _) in enumerate(spans):
            if k in held:
                oof_span[j] = span_map.apply(s.score)
        for k in test:
            oof_resp[k] = resp_map.apply(pairs[k]["response_score"])
    return {"outputs": len(pairs), "spans": len(spans), "tasks": sorted({p["task"] for p in pairs}),
            "span": {"raw": quality(np.clip([s.score for _, s, _, _ in spans], 0, 1), target),
                     "shipped_map": quality([shipped.span_map(t).apply(s.score) for _, s, _, t in spans], target),
                     "workspace_refit_oof": quality(oof_span, target), "mean_target": round(float(target.mean()), 3)},
            "response": {"raw": quality(np.clip([p["response_score"] for p in pairs], 0, 1), label),
                         "shipped_map": quality([shipped.response_map(p["task"]).apply(p["response_score"])
                                                 for p in pairs], label),
                         "workspace_refit_oof": quality(oof_resp, label), "base_rate": round(float(label.mean()), 3)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace")
    parser.add_argument("--annotator", default="oracle")
    parser.add_argument("--detectors", nargs="+", default=["lexical", "semantic", "consistency"])
    args = parser.parse_args()
    store = Store(args.workspace)
    print(json.dumps({d: measure(store, d, args.annotator) for d in args.detectors}))


if __name__ == "__main__":
    main()
