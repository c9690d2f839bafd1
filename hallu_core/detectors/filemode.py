"""File mode: run a detector over a RAGTruth-schema JSONL without a workspace."""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

from hallu_core.types import Span

from .base import DetectItem, Progress
from .registry import get_detector

log = logging.getLogger(__name__)
REQUIRED = {"id": str, "response": str}
LABEL_TYPES = {"conflict": "conflict", "baseless": "baseless"}


class FileFormatError(ValueError):
    pass


def read_rows(path: str | Path) -> list[dict]:
    """JSON lines with the RAGTruth fields detectors need; errors name file:line."""
    rows, seen = [], set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise FileFormatError(f"{where}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise FileFormatError(f"{where}: expected a JSON object")
            for key, kind in REQUIRED.items():
                if not isinstance(row.get(key), kind):
                    raise FileFormatError(f"{where}: field {key!r} missing or not a {kind.__name__}")
            if row["id"] in seen:
                raise FileFormatError(f"{where}: duplicate id {row['id']!r}")
            seen.add(row["id"])
            rows.append(row)
    if not rows:
        raise FileFormatError(f"{path}: no rows")
    return rows


def label_type(name: str) -> str:
    low = (name or "").lower()
    return next((v for k, v in LABEL_TYPES.items() if k in low), "unknown")


def gold_spans(row: dict) -> list[Span]:
    return [Span(int(l["start"]), int(l["end"]), label_type(l.get("label_type", "")), 1.0,
                 label_type=l.get("label_type")) for l in row.get("labels") or []]


def items_from_rows(rows: list[dict]) -> list[DetectItem]:
    """Responses sharing a source_id are each other's `samples` (6 models, one source)."""
    by_source = defaultdict(list)
    for row in rows:
        if row.get("source_id") is not None:
            by_source[row["source_id"]].append(row)
    items = []
    for row in rows:
        siblings = by_source.get(row.get("source_id"), []) if row.get("source_id") is not None else []
        items.append(DetectItem(
            id=row["id"], output=row["response"], source=row.get("source"), reference=row.get("reference"),
            question=row.get("question"), task=row.get("task_type") or row.get("task") or "",
            samples=[r["response"] for r in siblings if r["id"] != row["id"]],
        ))
    return items


def detect_file(in_path: str | Path, detector_name: str, out_path: str | Path,
                train_on: str | Path | None = None, progress: Progress | None = None, **config) -> int:
    """Write `{"id", "spans": [{"start", "end", "type", "score"}]}` per input row; returns the count."""
    rows = read_rows(in_path)
    detector = get_detector(detector_name, **config)
    if train_on is not None:
        if not hasattr(detector, "fit"):
            raise ValueError(f"detector {detector_name!r} has nothing to train; drop --train-on")
        train_rows = read_rows(train_on)
        log.info("training %s on %d rows from %s", detector_name, len(train_rows), train_on)
        detector.fit(items_from_rows(train_rows), [gold_spans(r) for r in train_rows])
    results = detector.detect(items_from_rows(rows), progress=progress)
    with open(out_path, "w", encoding="utf-8") as f:
        for row, result in zip(rows, results):
            spans = [{"start": s.start, "end": s.end, "type": s.type, "score": round(s.score, 4)}
                     for s in result.spans]
            f.write(json.dumps({"id": row["id"], "spans": spans}, ensure_ascii=False) + "\n")
    return len(rows)
