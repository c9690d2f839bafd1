"""File mode: run a detector over a RAGTruth-schema JSONL without a workspace."""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

from hallu_core.data.records import GenerationRecord
from hallu_core.detection.detectors.base import DetectItem, Progress
from hallu_core.detection.detectors.registry import get_detector
from hallu_core.store.types import Generation, Span

log = logging.getLogger(__name__)


def read_records(path: str | Path) -> list[GenerationRecord]:
    """The file's validated records (the same checks as `hallu import`; errors name file:line:field)."""
    from hallu_core.data.io import load_generation_records

    return load_generation_records(Path(path).read_bytes(), str(path))


def gold_spans(record: GenerationRecord) -> list[Span]:
    """The file's labels: every annotator's spans (RAGTruth files hold one annotator, `gold`)."""
    return [span for spans in record.labels.values() for span in spans]


def items_from_records(records: list[GenerationRecord]) -> list[DetectItem]:
    """The items the workspace path builds for the same rows after `hallu import` (one builder,
    `detect.detect_item`): responses sharing a source are each other's `samples` (RAGTruth: 6 models)."""
    from hallu_core.data.io import example_for
    from hallu_core.detection.detect import detect_item

    examples = {r.id: example_for(r, "file") for r in records}
    outputs = {r.id: Generation(r.id, examples[r.id].id, r.model, r.response) for r in records}
    by_example = defaultdict(list)
    for r in records:
        by_example[examples[r.id].id].append(outputs[r.id])
    return [detect_item(examples[r.id], outputs[r.id], by_example[examples[r.id].id]) for r in records]


def detect_file(in_path: str | Path, detector_name: str, out_path: str | Path,
                train_on: str | Path | None = None, progress: Progress | None = None, **config) -> int:
    """Write `{"id", "spans": [{"start", "end", "type", "score"}], "response_score"}` per input row (the
    calibrated probability that the response is hallucinated, a clean one's too); returns the count."""
    records = read_records(in_path)
    detector = get_detector(detector_name, **config)
    if train_on is not None:
        if not hasattr(detector, "fit"):
            raise ValueError(f"detector {detector_name!r} has nothing to train; drop --train-on")
        train = read_records(train_on)
        log.info("training %s on %d rows from %s", detector_name, len(train), train_on)
        detector.fit(items_from_records(train), [gold_spans(r) for r in train])
    results = detector.detect(items_from_records(records), progress=progress)
    with open(out_path, "w", encoding="utf-8") as f:
        for record, result in zip(records, results):
            spans = [{"start": s.start, "end": s.end, "type": s.type, "score": round(s.score, 4)}
                     for s in result.spans]
            f.write(json.dumps({"id": record.id, "spans": spans, "response_score": round(result.response_score, 4)},
                               ensure_ascii=False) + "\n")
    return len(records)
