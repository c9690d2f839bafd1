"""The RAGTruth dev slice split once, by source: a tuning part and a lockbox nothing is tuned on.

`make_split` is seeded and stratified by task (a third of each task's sources go to the
lockbox); the result is stored in `weights/ragtruth_split.json` and every script reads it
from there, so the lockbox never moves. Rules, thresholds, epochs and calibration are chosen
on the tuning part only.
"""
from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

SPLIT_FILE = Path(__file__).with_name("weights") / "ragtruth_split.json"
SEED = 11


def make_split(rows: list[dict], seed: int = SEED, lockbox_share: float = 1 / 3) -> dict:
    """{"tuning": [source ids], "lockbox": [source ids]}: whole sources, a share of each task's."""
    by_task: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        by_task[row["task_type"]].add(str(row["source_id"]))
    rng = random.Random(seed)
    tuning, lockbox = [], []
    for task in sorted(by_task):
        sources = sorted(by_task[task])
        rng.shuffle(sources)
        cut = round(len(sources) * lockbox_share)
        lockbox += sorted(sources[:cut])
        tuning += sorted(sources[cut:])
    return {"seed": seed, "by": "source_id, stratified by task_type", "tuning": sorted(tuning),
            "lockbox": sorted(lockbox)}


def load_split(path: Path = SPLIT_FILE) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def part_of(source_id: str, split: dict | None = None) -> str:
    """"tuning" or "lockbox" for a dev-slice source id (KeyError for a source the split never saw)."""
    split = split or load_split()
    if source_id in set(split["lockbox"]):
        return "lockbox"
    if source_id in set(split["tuning"]):
        return "tuning"
    raise KeyError(f"source {source_id!r} is not in the dev-slice split")


if __name__ == "__main__":  # python -m hallu_core.detection.detectors.span_split DEV.jsonl: write the split once
    import sys

    data = [json.loads(line) for line in Path(sys.argv[1]).read_text(encoding="utf-8").splitlines() if line.strip()]
    if SPLIT_FILE.exists():
        raise SystemExit(f"{SPLIT_FILE} exists: the split is made once; delete it only to start the lockbox over")
    SPLIT_FILE.write_text(json.dumps(make_split(data), indent=1) + "\n", encoding="utf-8")


def tuning_folds(rows: list[dict], k: int = 3, seed: int = SEED, split: dict | None = None) -> list[set[str]]:
    """The tuning part's sources in k folds (seeded, stratified by task) for choices made by
    cross-validation: thresholds, epochs, which detector serves which task."""
    tuning = set((split or load_split())["tuning"])
    by_task: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if str(row["source_id"]) in tuning:
            by_task[row["task_type"]].add(str(row["source_id"]))
    rng = random.Random(seed + 1)
    folds: list[set[str]] = [set() for _ in range(k)]
    n = 0
    for task in sorted(by_task):
        sources = sorted(by_task[task])
        rng.shuffle(sources)
        for source in sources:
            folds[n % k].add(source)
            n += 1
    return folds
