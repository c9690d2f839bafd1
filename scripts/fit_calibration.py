"""Fit each detector's calibration map on the RAGTruth dev slice's tuning part (never the lockbox).

Runs every named detector with raw scores on the tuning rows and fits its maps with
`hallu_core.detection.detectors.calibrate_fit.fit_detector` (5 folds grouped by source: the Brier / ECE
figures, the threshold and each task's operating threshold and skill are out of fold), then writes
the map refitted on the whole tuning part to hallu_core/detection/detectors/weights/calibration/<name>.json. Last stdout line: one JSON
object with every figure.

    HF_HUB_OFFLINE=1 python scripts/fit_calibration.py [--detectors lexical record ...] [--dry-run]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hallu_core import set_process_defaults  # noqa: E402

set_process_defaults()  # before torch is first imported, as the CLI and jobs do

from hallu_core.detection.detectors import calibrate  # noqa: E402
from hallu_core.detection.detectors.calibrate_fit import fit_detector  # noqa: E402
from hallu_core.detection.detectors.filemode import gold_spans, items_from_records, read_records  # noqa: E402
from hallu_core.detection.detectors.registry import available_detectors, get_detector  # noqa: E402
from hallu_core.detection.detectors.span_split import load_split  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "sample_data/ragtruth_dev.jsonl"
DEFAULT_DETECTORS = ["lexical", "record", "self_contradiction", "semantic", "consistency", "span"]
# default's map needs its trained member out of fold: bench/eval_ragtruth.py --part tuning --choose-routes fits it
FITTED_ELSEWHERE = {"default": "bench/eval_ragtruth.py --part tuning --choose-routes"}


def measure(name: str, records, split) -> tuple[calibrate.DetectorCalibration | None, dict]:
    tuning = [r for r in records if str(r.source_id) in set(split["tuning"])]
    items, golds = items_from_records(tuning), [gold_spans(r) for r in tuning]
    detector = get_detector(name)
    detector.use_calibration = False
    start = time.time()
    results = detector.detect(items)
    fitted_on = f"RAGTruth dev slice, tuning part ({len(split['tuning'])} sources, {len(items)} responses)"
    cal, report = fit_detector(name, detector.fingerprint(), [it.task for it in items], results, golds,
                               [str(r.source_id) for r in tuning], fitted_on)
    report["detect_s"] = round(time.time() - start, 1)
    return cal, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--detectors", nargs="+", default=[d for d in DEFAULT_DETECTORS if d in available_detectors()])
    parser.add_argument("--dry-run", action="store_true", help="measure, write no map")
    args = parser.parse_args()
    records, split = read_records(args.data), load_split()
    for name in set(args.detectors) & set(FITTED_ELSEWHERE):
        raise SystemExit(f"{name}'s map is fitted by {FITTED_ELSEWHERE[name]}")
    out = {}
    for name in args.detectors:
        cal, report = measure(name, records, split)
        if cal is not None and not args.dry_run:
            report["written"] = str(calibrate.save(cal).relative_to(ROOT))
        elif cal is None and not args.dry_run and calibrate.map_path(name).exists():
            calibrate.map_path(name).unlink()  # a stale map must not outlive the scorer it was fitted on
            report["removed"] = str(calibrate.map_path(name).relative_to(ROOT))
        out[name] = report
        print(f"{name}: {json.dumps(report)}", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
