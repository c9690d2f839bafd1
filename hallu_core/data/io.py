"""Import: JSONL (RAGTruth schema or example rows), CSV and Parquet (export: export.py).

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

from hallu_core.data import prompts, tables
from hallu_core.data.records import (
    GenerationRecord, ImportValidationError, Problem, check_example, check_generation,
)
from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Example, Generation, Label, Run, content_hash

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


def read_rows(data: bytes, name: str, fmt: str | None = None) -> tuple[list[tuple[int, dict]], list[Problem]]:
    """(line number, object) per readable record, and a problem per unreadable line: the other lines are
    still read and validated, so one broken line does not hide the file's other errors."""
    fmt = format_of(name, fmt)
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark, as Windows tools write
    if fmt == "jsonl":
        rows, problems = _read_jsonl(data, name)
    else:
        rows, problems = tables.read_flat(data, name, fmt)
    if not rows and not problems:
        raise ImportValidationError([Problem(name, 0, "", "the file holds no records")])
    return rows, problems


def _refuse(problems: list[Problem]) -> None:
    if problems:
        raise ImportValidationError(sorted(problems, key=lambda p: p.line))  # stable: a line's own order kept


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
    rows, problems = read_rows(data, name, fmt)
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
    _refuse(problems)
    return records


def _check_sources_agree(records: list[GenerationRecord], name: str, problems: list[Problem]) -> None:
    seen: dict[str, GenerationRecord] = {}
    for r in records:
        first = seen.setdefault(r.source_id, r)
        if (first.source, first.question) != (r.source, r.question):
            problems.append(Problem(name, r.line, "source", f"source_id {r.source_id!r} has a different "
                                                            f"source or question than on line {first.line}"))
        elif first.meta != r.meta:  # `meta` is the example's: every output of one source carries the same
            problems.append(Problem(name, r.line, "meta", f"source_id {r.source_id!r} has a different meta "
                                                          f"than on line {first.line}"))


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
    rows, problems = read_rows(data, name, fmt)
    if any(GENERATION_MARKERS & row.keys() for _, row in rows):
        return _store_generations(store, load_generation_records(data, name, fmt), dataset, name)
    return _store_examples(store, rows, problems, dataset, name)


def _store_examples(store: Store, rows, problems: list[Problem], dataset: str, name: str) -> dict:
    checked = [c for line, row in rows if (c := check_example(row, name, line, problems))]
    ids: dict[str, int] = {}
    examples = []
    for line, v in checked:
        example_id = f"{dataset}/{v['id']}" if v["id"] is not None else f"{dataset}/{line}"
        if example_id in ids:
            problems.append(Problem(name, line, "id", f"duplicate id {v['id']!r} (first on line {ids[example_id]})"))
        ids[example_id] = line
        examples.append(Example(example_id, dataset, v["prompt"], v["source"], v["reference"], v["task"], v["meta"]))
    _refuse(problems)
    store.add_examples(examples)
    return {"dataset": dataset, "examples": len(examples)}


def example_for(record: GenerationRecord, dataset: str) -> Example:
    """The example a RAGTruth row answers: one per source; `meta.question` keeps the row's own."""
    prompt = record.question or TASK_PROMPTS.get(record.task, record.task or "Respond from the source.")
    return Example(f"{dataset}/{record.source_id}", dataset, prompt, record.source, record.reference, record.task,
                   {**record.meta, "source_id": record.source_id, "question": record.question})


def _store_generations(store: Store, records: list[GenerationRecord], dataset: str, name: str) -> dict:
    run = Run(id=content_hash("import", dataset), name=f"{dataset} (imported)", base_model="imported",
              kind="import", status="done", meta={"file": Path(name).name})
    models = list(OrderedDict.fromkeys(r.model for r in records))
    checkpoint_ids = {m: content_hash(run.id, m) for m in models}  # identity: run and model, never file order
    examples: dict[str, Example] = {}
    generations, labels = [], []
    for r in records:
        example_id = examples.setdefault(f"{dataset}/{r.source_id}", example_for(r, dataset)).id
        generations.append(_generation(r, example_id, checkpoint_ids[r.model]))
        labels += [_label(r, annotator, spans) for annotator, spans in r.labels.items()]
    with store.transaction():
        _refuse_changed_generations(store, generations, name, {r.id: r.line for r in records})
        if store.get_run(run.id) is None:  # a re-import keeps the run as first imported
            store.add_run(run)
        for ckpt in _new_checkpoints(store, run.id, checkpoint_ids, _file_steps(records)):
            store.add_checkpoint(ckpt)
        store.add_examples(examples.values())
        added = store.add_generations(generations)
        store.add_labels(labels)
    log.info("imported %s: %d generations (%d new)", name, len(generations), added)
    return {"dataset": dataset, "run_id": run.id, "examples": len(examples), "generations": len(generations),
            "new_generations": added, "models": models, "labels": len(labels)}


def _label(r: GenerationRecord, annotator: str, spans: list) -> Label:
    """An imported label: chosen as the exporting workspace recorded (`label_info`), else "import" (a file's
    labels are taken as drawn at random from what it holds, as RAGTruth's are)."""
    info = r.label_info.get(annotator, {"selection": "import", "assisted": False})
    return Label(r.id, annotator, spans, selection=info["selection"], assisted=info["assisted"])


def _generation(r: GenerationRecord, example_id: str, checkpoint_id: str) -> Generation:
    """An imported output; an exported file's context (run, kind, base model, step) is kept as its `origin`."""
    origin = {k: r.context[k] for k in ("run", "run_kind", "base_model", "step") if k in r.context}
    meta = {"model": r.model, "extra": r.extra, **({"origin": origin} if origin else {}),
            **({"prompt_template": r.context["prompt_template"]} if "prompt_template" in r.context else {})}
    # a template's outputs keep a side of their own, as when generated here ("greedy · grounded")
    decoding = prompts.label(r.context.get("decoding", "imported"), r.context.get("prompt_template"))
    return Generation(r.id, example_id, checkpoint_id, r.response, decoding_name=decoding,
                      sample_index=r.context.get("sample_index", 0), meta=meta)


def _file_steps(records: list[GenerationRecord]) -> dict[str, int]:
    """Each model's `step` in the file, where all its rows agree and no other model claims the same step
    (an export of several runs repeats steps; those models get the next free steps instead)."""
    steps: dict[str, set] = {}
    for r in records:
        steps.setdefault(r.model, set()).add(r.context.get("step"))
    single = {m: s.pop() for m, s in steps.items() if len(s) == 1 and None not in s}
    claimed = list(single.values())
    return {m: step for m, step in single.items() if claimed.count(step) == 1}


def _new_checkpoints(store: Store, run_id: str, checkpoint_ids: dict[str, str],
                     wanted: dict[str, int] | None = None) -> list[Checkpoint]:
    """Checkpoints for the models not stored yet, at the file's step where it is free, else at the next free
    steps; stored ones stay as they are (replacing one would re-number or evict a checkpoint that generations
    reference)."""
    wanted = wanted or {}
    stored = store.checkpoints(run_id)
    known = {c.id for c in stored}
    taken = {c.step for c in stored}
    fresh = [m for m, ckpt_id in checkpoint_ids.items() if ckpt_id not in known]
    keep = {m: wanted[m] for m in fresh if m in wanted and wanted[m] not in taken}
    step = max([*taken, *keep.values()], default=-1) + 1
    new = []
    for model in fresh:
        if model not in keep:
            keep[model], step = step, step + 1
        new.append(Checkpoint(checkpoint_ids[model], run_id, keep[model], model))
    return new


def _refuse_changed_generations(store: Store, generations: list[Generation], name: str, lines: dict) -> None:
    """Ids are kept from the file, so an id already stored must hold the same response from the same model."""
    stored = {g.id: g for g in map(store.get_generation, store.existing_generation_ids(g.id for g in generations))
              if g is not None}
    problems = []
    for g in generations:
        old = stored.get(g.id)
        if old is None or (old.text, old.checkpoint_id) == (g.text, g.checkpoint_id):
            continue
        if old.text != g.text:
            why = "with a different response"
        elif old.meta.get("model") != g.meta.get("model"):
            model = old.meta.get("model")
            why = f"as a response of model {model!r}" if model else "as an output of another run"
        else:  # the same row, imported under another dataset name (its own run and checkpoints)
            dataset = store.get_example(old.example_id).dataset
            why = f"in dataset {dataset!r}; re-import it there (--dataset {dataset}) or give the rows new ids"
        problems.append(Problem(name, lines[g.id], "id", f"id {g.id!r} is already stored {why}"))
    _refuse(problems)


__all__ = ["ImportValidationError", "Problem", "import_file", "load_generation_records", "read_rows"]
