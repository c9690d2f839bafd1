"""Import and export: JSONL (RAGTruth schema or example rows), CSV and Parquet.

Import is all-or-nothing: the whole file is read and validated first, then stored
in one transaction. RAGTruth files map onto the data model as one example per
source, one generation per response (its id kept), one pseudo-run per file with
a checkpoint per generating model, and the labels as annotator `gold`.
"""
from __future__ import annotations

import json
import logging
from collections import OrderedDict
from pathlib import Path

from .records import (
    GenerationRecord, ImportValidationError, Problem, check_example, check_generation,
)
from .store import Store
from .types import Checkpoint, Example, Generation, Label, Run, content_hash
from . import tables

log = logging.getLogger(__name__)
FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
GENERATION_MARKERS = {"response", "labels", "model"}  # a row with any of these is a generation, not an example
TASK_PROMPTS = {  # RAGTruth gives a question only for QA; the other tasks get their instruction
    "Summary": "Summarize the following news article.",
    "Data2txt": "Write an objective overview of the business from the structured data.",
}


def format_of(name: str, fmt: str | None = None) -> str:
    if fmt:
        return fmt
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{name}: cannot tell the format from the extension {suffix or '(none)'!r}; "
                         f"use one of {', '.join(sorted(FORMATS))}")
    return FORMATS[suffix]


def read_rows(data: bytes, name: str, fmt: str | None = None) -> list[tuple[int, dict]]:
    """(line number, object) per record; broken lines are collected as problems."""
    fmt = format_of(name, fmt)
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark, as Windows tools write
    if fmt == "jsonl":
        rows, problems = _read_jsonl(data, name)
    else:
        rows, problems = tables.read_flat(data, name, fmt)
    if problems:
        raise ImportValidationError(problems)
    if not rows:
        raise ImportValidationError([Problem(name, 0, "", "the file holds no records")])
    return rows


def _read_jsonl(data: bytes, name: str) -> tuple[list[tuple[int, dict]], list[Problem]]:
    rows, problems = [], []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            problems.append(Problem(name, number, "", f"not UTF-8 (byte {raw[exc.start]:#04x} at column "
                                                      f"{exc.start + 1})"))
            continue
        if not line:
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(name, number, "", f"broken JSON: {exc.msg} at column {exc.colno}"))
            continue
        except ValueError as exc:  # a number with thousands of digits
            problems.append(Problem(name, number, "", f"unreadable JSON: {str(exc)[:120]}"))
            continue
        except RecursionError:
            problems.append(Problem(name, number, "", "unreadable JSON: nested too deeply"))
            continue
        if not isinstance(value, dict):
            problems.append(Problem(name, number, "", f"expected a JSON object, got {type(value).__name__}"))
            continue
        field = _unpaired_surrogate(value)
        if field is not None:  # "\ud800" parses, but no UTF-8 text (nor the database) can hold it
            problems.append(Problem(name, number, field, "holds an unpaired surrogate escape (like \\ud800), "
                                                         "which is not text"))
            continue
        rows.append((number, value))
    return rows, problems


def _unpaired_surrogate(row: dict) -> str | None:
    """The first top-level field whose key or value holds a lone surrogate, else None."""
    for key, value in row.items():
        try:
            json.dumps([key, value], ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return key.encode("utf-8", "replace").decode("utf-8")
    return None


def load_generation_records(data: bytes, name: str, fmt: str | None = None) -> list[GenerationRecord]:
    """Validated RAGTruth-schema records of a file (no store needed: `hallu detect-file` uses this)."""
    rows = read_rows(data, name, fmt)
    problems: list[Problem] = []
    records, first_line = [], {}
    for line, row in rows:
        record = check_generation(row, name, line, problems)
        if record is None:
            continue
        if record.id in first_line:
            problems.append(Problem(name, line, "id", f"duplicate id {record.id!r} (first on line "
                                                      f"{first_line[record.id]})"))
            continue
        first_line[record.id] = line
        records.append(record)
    _check_sources_agree(records, name, problems)
    if problems:
        raise ImportValidationError(problems)
    return records


def _check_sources_agree(records: list[GenerationRecord], name: str, problems: list[Problem]) -> None:
    seen: dict[str, GenerationRecord] = {}
    for r in records:
        first = seen.setdefault(r.source_id, r)
        if (first.source, first.question) != (r.source, r.question):
            problems.append(Problem(name, r.line, "source", f"source_id {r.source_id!r} has a different "
                                                            f"source or question than on line {first.line}"))


def import_file(store: Store, path: str | Path | None = None, *, data: bytes | None = None,
                name: str | None = None, fmt: str | None = None, dataset: str | None = None) -> dict:
    """Import a file (a path, or `data` bytes with a `name`, as uploads come); returns what was added."""
    if data is None:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImportValidationError([Problem(str(path), 0, "", exc.strerror or str(exc))]) from exc
    name = name or str(path)
    dataset = dataset or Path(name).stem
    rows = read_rows(data, name, fmt)
    if any(GENERATION_MARKERS & row.keys() for _, row in rows):
        return _store_generations(store, load_generation_records(data, name, fmt), dataset, name)
    return _store_examples(store, rows, dataset, name)


def _store_examples(store: Store, rows, dataset: str, name: str) -> dict:
    problems: list[Problem] = []
    checked = [c for line, row in rows if (c := check_example(row, name, line, problems))]
    ids: dict[str, int] = {}
    examples = []
    for line, v in checked:
        example_id = f"{dataset}/{v['id']}" if v["id"] is not None else f"{dataset}/{line}"
        if example_id in ids:
            problems.append(Problem(name, line, "id", f"duplicate id {v['id']!r} (first on line {ids[example_id]})"))
        ids[example_id] = line
        examples.append(Example(example_id, dataset, v["prompt"], v["source"], v["reference"], v["task"], v["meta"]))
    if problems:
        raise ImportValidationError(problems)
    store.add_examples(examples)
    return {"dataset": dataset, "examples": len(examples)}


def _store_generations(store: Store, records: list[GenerationRecord], dataset: str, name: str) -> dict:
    run = Run(id=content_hash("import", dataset), name=f"{dataset} (imported)", base_model="imported",
              kind="import", status="done", meta={"file": Path(name).name})
    models = list(OrderedDict.fromkeys(r.model for r in records))
    checkpoints = {m: Checkpoint(content_hash(run.id, m), run.id, step, m) for step, m in enumerate(models)}
    examples: dict[str, Example] = {}
    generations, labels = [], []
    for r in records:
        example_id = f"{dataset}/{r.source_id}"
        examples.setdefault(example_id, Example(
            example_id, dataset, r.question or TASK_PROMPTS.get(r.task, r.task or "Respond from the source."),
            r.source, r.reference, r.task, {"source_id": r.source_id, "question": r.question}))
        generations.append(Generation(r.id, example_id, checkpoints[r.model].id, r.response,
                                      decoding_name="imported", meta={"model": r.model, "extra": r.extra}))
        labels += [Label(r.id, annotator, spans) for annotator, spans in r.labels.items()]
    with store.transaction():
        _refuse_changed_generations(store, generations, name, {r.id: r.line for r in records})
        store.add_run(run)
        for ckpt in checkpoints.values():
            store.add_checkpoint(ckpt)
        store.add_examples(examples.values())
        added = store.add_generations(generations)
        store.add_labels(labels)
    log.info("imported %s: %d generations (%d new)", name, len(generations), added)
    return {"dataset": dataset, "run_id": run.id, "examples": len(examples), "generations": len(generations),
            "new_generations": added, "models": models, "labels": len(labels)}


def _refuse_changed_generations(store: Store, generations: list[Generation], name: str, lines: dict) -> None:
    """Ids are kept from the file, so an id already stored must hold the same response."""
    stored = {g.id: g for g in map(store.get_generation, store.existing_generation_ids(g.id for g in generations))
              if g is not None}
    problems = [Problem(name, lines[g.id], "id", f"id {g.id!r} is already stored with a different response "
                                                 f"or model")
                for g in generations if g.id in stored and (stored[g.id].text, stored[g.id].checkpoint_id)
                != (g.text, g.checkpoint_id)]
    if problems:
        raise ImportValidationError(problems)


def export_file(store: Store, path: str | Path, fmt: str | None = None, annotators: list[str] | None = None,
                run_id: str | None = None) -> dict:
    """Write generations with their labels: RAGTruth-schema JSONL, or a flat CSV/Parquet table."""
    path = Path(path)
    fmt = format_of(path.name, fmt)
    records = tables.export_records(store, annotators=annotators, run_id=run_id)
    tmp = path.with_name(path.name + ".partial")  # never leave a half-written export behind
    if fmt == "jsonl":
        with open(tmp, "w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        tables.write_flat(records, tmp, fmt)
    tmp.replace(path)
    return {"path": str(path), "generations": len(records),
            "spans": sum(len(r["labels"]) for r in records)}


def export_bytes(store: Store, fmt: str, **kwargs) -> bytes:
    """The export as bytes (for a download button)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"export.{fmt}"
        export_file(store, out, fmt, **kwargs)
        return out.read_bytes()


__all__ = ["ImportValidationError", "Problem", "import_file", "export_file", "export_bytes",
           "load_generation_records", "read_rows"]
