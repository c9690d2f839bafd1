"""Responses per second of each built-in detector on the RAGTruth dev slice (CPU).

Each detector runs in a fresh encoder cache state so MiniLM work is not shared between
them; model loading is excluded (done once before timing). Rows are read at their real
length (sources of several windows included). Last stdout line: one JSON object.

    HF_HUB_OFFLINE=1 python bench/detect.py [--data FILE] [--limit N] [--detectors span,default] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from hallu_core.detection.detectors import get_detector, encoder  # noqa: E402
from hallu_core.detection.detectors.filemode import items_from_records, read_records  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared/data/ragtruth_dev.jsonl"
DETECTORS = ["lexical", "record", "semantic", "confidence", "consistency", "self_contradiction", "span", "default"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--limit", type=int, default=0, help="only the first N rows (0 = all)")
    parser.add_argument("--detectors", default=",".join(DETECTORS), help="comma-separated names")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the 2-core target)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = read_records(args.data)
    items = items_from_records(rows[: args.limit] if args.limit else rows)
    encoder.load_encoder(None)  # load once, outside the timings
    figures = {}
    for name in args.detectors.split(","):
        detector = get_detector(name)
        if name in ("span", "default"):
            detector.detect(items[:1])  # load the classifier (cached per process) outside the timing
        encoder._CACHE.clear()
        start = time.perf_counter()
        detector.detect(items)
        seconds = time.perf_counter() - start
        figures[name] = {"responses_per_second": round(len(items) / seconds, 2), "seconds": round(seconds, 2)}
        print(f"{name:20s} {figures[name]['responses_per_second']:8.2f} responses/s  ({seconds:.1f} s)")
    print(json.dumps({"rows": len(items), "torch_threads": torch.get_num_threads(), "detectors": figures}))


if __name__ == "__main__":
    main()
