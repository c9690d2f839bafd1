"""The flat table form (CSV / Parquet) of generations and their label spans, for pandas users.

One row per label span; a labeled generation with no spans gets one row with empty
span columns, an unlabeled generation one row with an empty annotator. Reading a
table groups rows by `id` back into RAGTruth-schema records.
"""
from __future__ import annotations

import io
import json
import math
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

from hallu_core.data import prompts
from hallu_core.data.records import Problem
from hallu_core.store.database import Store
from hallu_core.store.run_kinds import run_kind

GENERATION_COLUMNS = ["id", "task_type", "model", "source_id", "question", "source", "reference", "response",
                      "run", "run_kind", "base_model", "step", "decoding", "sample_index", "prompt_template",
                      "meta"]
INTEGER_COLUMNS = ("step", "sample_index")  # nullable integers in the table; `meta` is JSON text
SPAN_COLUMNS = ["start", "end", "text", "type", "label_type", "score", "note"]
LABEL_INFO_COLUMNS = ["selection", "assisted"]  # per annotator row: a record's `label_info` (records.py)
TYPE_NAMES = {"conflict": "Conflict", "baseless": "Baseless Info", "self_contradiction": "Self Contradiction",
              "unknown": "Unknown"}


def export_records(store: Store, annotators: list[str] | None = None, run_id: str | None = None) -> list[dict]:
    """Every generation as a RAGTruth-schema record; labels of `annotators` (default: all)."""
    where, params = ("WHERE c.run_id = ?", [run_id]) if run_id else ("", [])
    rows = store.query(f"""
        SELECT g.id, g.text, g.decoding, g.decoding_name, g.sample_index, g.meta, e.task, e.source, e.reference,
               e.id AS example_id, e.prompt, e.meta AS example_meta, c.name AS checkpoint, c.step,
               r.name AS run, r.kind, r.config, r.base_model
        FROM generations g JOIN examples e ON e.id = g.example_id
        JOIN checkpoints c ON c.id = g.checkpoint_id JOIN runs r ON r.id = c.run_id
        {where} ORDER BY g.rowid""", params)
    labels: dict[str, list] = {}
    for label in store.labels():
        if label.status == "done" and (annotators is None or label.annotator in annotators):
            labels.setdefault(label.generation_id, []).append(label)
    return [_record(row, labels.get(row["id"], [])) for row in rows]


def _record(row, labels) -> dict:
    meta, example_meta = json.loads(row["meta"]), json.loads(row["example_meta"])
    record = {
        "id": row["id"], "task_type": row["task"],
        "model": row["checkpoint"] if row["kind"] == "import" else f"{row['run']}/{row['checkpoint']}",
        "source": row["source"], "response": row["text"], "labels": [],
        # an example Hallu made itself (not from a RAGTruth row) is its own source, its prompt the question:
        # then a re-import keeps one example per example, with its prompt
        "source_id": example_meta.get("source_id", row["example_id"]),
        "question": example_meta["question"] if "question" in example_meta else row["prompt"],
    }
    if row["reference"] is not None:
        record["reference"] = row["reference"]
    record.update(_context(row, meta, example_meta))
    record["annotators"] = [label.annotator for label in labels]
    # how each annotator's item was chosen and whether suggestions were shown: a re-import keeps both, so a
    # rate estimate still tells a random draw from a score-ordered queue (hallu_core/rates)
    record["label_info"] = {label.annotator: {"selection": label.selection, "assisted": label.assisted}
                            for label in labels}
    for label in labels:
        for span in label.spans:
            record["labels"].append({
                "start": span.start, "end": span.end, "text": row["text"][span.start:span.end],
                "type": span.type, "label_type": span.label_type or TYPE_NAMES[span.type],
                "annotator": label.annotator, **({"note": span.note} if span.note else {}),
                **(span.meta or {}), "created_at": label.created_at, "updated_at": label.updated_at,
            })
    for key, value in meta.get("extra", {}).items():
        record.setdefault(key, value)
    return record


@lru_cache(maxsize=256)
def _run_kind(kind: str, config: str | None) -> str:  # once per run, not per exported row
    return run_kind(kind, json.loads(config or "{}"))


def _context(row, meta: dict, example_meta: dict) -> dict:
    """Where the output came from, for analysis in pandas: run, kind, step, decoding, template, example meta."""
    template = meta.get("prompt_template", json.loads(row["decoding"] or "{}").get("prompt_template"))
    if template is None and "backend" in meta:  # generated here before templates existed, or closed-book
        template = prompts.CLOSED_BOOK
    # the stored label folds a template in ("greedy · grounded"); the file gives decoding and template apart
    decoding, in_label = prompts.split(row["decoding_name"])
    decoding = decoding if template and in_label == template else row["decoding_name"]
    return {"run": row["run"], "run_kind": _run_kind(row["kind"], row["config"]),
            "base_model": _base_model(row, meta), "step": row["step"], "decoding": decoding,
            "sample_index": row["sample_index"],
            "prompt_template": template,
            # source_id and question are columns of their own
            "meta": {k: v for k, v in example_meta.items() if k not in ("source_id", "question")}}


def _base_model(row, meta: dict) -> str:
    """The model a run started from, as stored on the run; an import has no training run, so its outputs
    name the file's `base_model` where it gave one (a re-imported export), else the generating model."""
    if row["kind"] != "import":
        return row["base_model"]
    return meta.get("origin", {}).get("base_model") or row["checkpoint"]


def flat_rows(records: list[dict]) -> list[dict]:
    rows = []
    for record in records:
        base = {k: record.get(k) for k in GENERATION_COLUMNS}
        base["response"] = record["response"]
        if isinstance(base["meta"], dict):  # one JSON text column: keeps value types through CSV
            base["meta"] = json.dumps(base["meta"], ensure_ascii=False, sort_keys=True)
        by_annotator = OrderedDict((a, []) for a in record.get("annotators", []))
        for span in record["labels"]:
            by_annotator.setdefault(span["annotator"], []).append(span)
        if not by_annotator:
            rows.append({**base, "annotator": ""})
        for annotator, spans in by_annotator.items():
            info = record.get("label_info", {}).get(annotator, {})
            for span in spans or [None]:
                row = {**base, "annotator": annotator, "status": "done", "selection": info.get("selection"),
                       "assisted": info.get("assisted")}
                if span:
                    row.update({k: span.get(k) for k in SPAN_COLUMNS},
                               created_at=span["created_at"], updated_at=span["updated_at"])
                rows.append(row)
    return rows


def write_flat(records: list[dict], path: Path, fmt: str) -> None:
    import pandas as pd

    frame = pd.DataFrame(flat_rows(records), columns=GENERATION_COLUMNS + ["annotator", "status"]
                         + LABEL_INFO_COLUMNS + SPAN_COLUMNS + ["created_at", "updated_at"])
    for column in ("start", "end", *INTEGER_COLUMNS):
        frame[column] = frame[column].astype("Int64")
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def read_flat(data: bytes, name: str, fmt: str) -> tuple[list[tuple[int, dict]], list[Problem]]:
    """Rows of a CSV/Parquet table regrouped into records; line numbers count the CSV header as 1."""
    import pandas as pd

    try:
        if fmt == "csv":
            frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8")
            first_line = 2
        else:
            frame = pd.read_parquet(io.BytesIO(data))
            first_line = 1
    except UnicodeDecodeError as exc:
        return [], [Problem(name, 0, "", f"not UTF-8 (byte {exc.object[exc.start]:#04x} at offset {exc.start})")]
    except Exception as exc:  # pandas raises many kinds for a malformed table
        return [], [Problem(name, 0, "", f"cannot read as {fmt}: {exc}")]
    if "id" not in frame.columns or "response" not in frame.columns and "prompt" not in frame.columns:
        return [], [Problem(name, 1, "", f"a {fmt} table needs the columns id and response (or prompt); "
                                         f"found {', '.join(map(str, frame.columns))}")]
    if "response" not in frame.columns:  # an examples table: one record per row
        return [(first_line + i, _clean(row)) for i, row in enumerate(frame.to_dict("records"))], []
    return _group(frame.to_dict("records"), name, first_line)


def _group(rows: list[dict], name: str, first_line: int):
    records: OrderedDict[str, tuple[int, dict]] = OrderedDict()
    first_values: dict[str, dict] = {}  # each id's first row as read (the record holds parsed values)
    problems = []
    for i, raw in enumerate(rows):
        line, row = first_line + i, _clean(raw)
        key = str(row.get("id"))
        if key not in records:
            first_values[key] = row
            record = {k: row.get(k) for k in GENERATION_COLUMNS if row.get(k) is not None}
            _parse_context(record, name, line, problems)
            records[key] = (line, {**record, "labels": [], "annotators": []})
        else:  # a span row repeats its generation's columns; a different value is another record
            first, record = records[key]
            changed = [k for k in GENERATION_COLUMNS if row.get(k) != first_values[key].get(k)]
            if changed:
                problems.append(Problem(name, line, changed[0], f"id {key!r} has a different {changed[0]} "
                                                                f"than on line {first} (duplicate id)"))
        record = records[key][1]
        annotator = row.get("annotator")
        if annotator and annotator not in record["annotators"]:
            record["annotators"].append(annotator)
        if annotator and any(c in row for c in LABEL_INFO_COLUMNS):
            info = record.setdefault("label_info", {}).setdefault(annotator, {})
            info.update({c: _flag(row[c]) if c == "assisted" else row[c] for c in LABEL_INFO_COLUMNS if c in row})
        if row.get("start") is None:
            continue
        span = {k: row[k] for k in SPAN_COLUMNS if row.get(k) is not None}
        for field in ("start", "end", "score"):
            if field in span:
                try:
                    span[field] = float(span[field]) if field == "score" else int(str(span[field]))
                except ValueError:
                    problems.append(Problem(name, line, field, f"expected a number, got {span[field]!r}"))
        span["annotator"] = annotator or "gold"
        record["labels"].append(span)
    return list(records.values()), problems


def _flag(value):
    """A table's true/false cell as a bool (CSV cells are text); anything else is left for validation to name."""
    text = str(value).strip().lower()
    return {"true": True, "false": False, "1": True, "0": False}.get(text, value)


def _parse_context(record: dict, name: str, line: int, problems: list[Problem]) -> None:
    """CSV cells are text: the integer columns become ints and `meta` (JSON text) a dict; a bad cell is a
    problem naming its column (Parquet integers arrive as numbers and pass through)."""
    for column in INTEGER_COLUMNS:
        value = record.get(column)
        if isinstance(value, str):
            try:
                record[column] = int(value.strip())
            except ValueError:
                problems.append(Problem(name, line, column, f"expected an integer, got {value[:40]!r}"))
                del record[column]
    value = record.get("meta")
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, dict):
            problems.append(Problem(name, line, "meta", f"expected a JSON object, got {value[:40]!r}"))
            del record["meta"]
        else:
            record["meta"] = parsed


def _clean(row: dict) -> dict:
    """Empty CSV cells and Parquet nulls are missing values; whole floats are ints."""
    out = {}
    for key, value in row.items():
        if hasattr(value, "tolist"):  # numpy scalars and arrays (a Parquet list column)
            value = value.tolist()
        if value is None or isinstance(value, str) and value == "" or isinstance(value, float) and math.isnan(value):
            continue
        if isinstance(value, float) and value.is_integer() and key in ("start", "end"):
            value = int(value)
        out[str(key)] = value.item() if hasattr(value, "item") else value
    return out
