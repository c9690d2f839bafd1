"""Validation of imported records: one clear problem per bad field, with file and line.

Two record kinds: generations (RAGTruth schema: `id`, `response`, `source`, `model`,
`labels` with character offsets, ...) and examples (`prompt`, optional `source`,
`reference`, `task`). Validation never touches the store, so a refused file stores nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from hallu_core.store.types import SELECTIONS, SPAN_TYPES, Span

GENERATION_FIELDS = ("id", "task_type", "model", "source", "response", "labels", "source_id", "question",
                     "reference", "annotators", "run", "run_kind", "base_model", "step", "decoding",
                     "sample_index", "prompt_template", "meta", "label_info")
# where an exported generation came from (hallu_core/data/tables.py writes them); kept on import, never required
CONTEXT_FIELDS = {"run": (str,), "run_kind": (str,), "base_model": (str,), "step": (int,), "decoding": (str,),
                  "sample_index": (int,), "prompt_template": (str,)}
EXAMPLE_FIELDS = ("id", "prompt", "source", "reference", "task", "meta")
LABEL_FIELDS = ("start", "end", "text", "type", "label_type", "annotator", "score", "note", "created_at",
                "updated_at")
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ImportValidationError(ValueError):
    """A refused import; `problems` lists each bad field with its file and line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:MAX_PROBLEMS])
        more = f"\n  ... and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
        super().__init__(f"import refused, nothing was stored ({len(problems)} problem(s)):\n{shown}{more}")


@dataclass
class GenerationRecord:
    line: int
    id: str
    response: str
    model: str
    task: str
    source: str | None
    question: str | None
    reference: str | None
    source_id: str
    labels: dict[str, list[Span]] = field(default_factory=dict)  # annotator -> spans
    label_info: dict[str, dict] = field(default_factory=dict)  # annotator -> {"selection", "assisted"} (exported)
    extra: dict = field(default_factory=dict)  # fields Hallu keeps but does not interpret
    context: dict = field(default_factory=dict)  # CONTEXT_FIELDS present in the row
    meta: dict = field(default_factory=dict)  # the example's metadata (e.g. the demo's `knowledge`)


def map_label_type(label_type: str) -> str:
    """RAGTruth's four classes onto Hallu's span types (Evident/Subtle X -> X)."""
    lowered = label_type.lower()
    if "conflict" in lowered:
        return "conflict"
    if "baseless" in lowered:
        return "baseless"
    if "contradiction" in lowered:
        return "self_contradiction"
    return "unknown"


class _Checker:
    """Collects problems for one record; each getter returns None when the field is bad."""

    def __init__(self, file: str, line: int, problems: list[Problem]):
        self.file, self.line, self.problems = file, line, problems

    def bad(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.file, self.line, name, message))

    def get(self, row: dict, name: str, types: tuple, required: bool = False, default=None, where: str = ""):
        label = f"{where}{name}"
        if name not in row or row[name] is None:
            if required:
                self.bad(label, "required field is missing")
            return default
        value = row[name]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            expected = " or ".join(t.__name__ for t in types)
            self.bad(label, f"expected {expected}, got {type(value).__name__} {_short(value)}")
            return default
        return value


def check_generation(row: dict, file: str, line: int, problems: list[Problem]) -> GenerationRecord | None:
    check = _Checker(file, line, problems)
    before = len(problems)
    gen_id = check.get(row, "id", (str, int), required=True)
    response = check.get(row, "response", (str,), required=True)
    model = check.get(row, "model", (str,), default="imported")
    task = check.get(row, "task_type", (str,), default="")
    source = check.get(row, "source", (str,))
    question = check.get(row, "question", (str,))
    reference = check.get(row, "reference", (str,))
    source_id = check.get(row, "source_id", (str, int))
    raw_labels = check.get(row, "labels", (list,))
    annotators = check.get(row, "annotators", (list,))
    context = {name: value for name, types in CONTEXT_FIELDS.items()
               if (value := check.get(row, name, types)) is not None}
    meta = check.get(row, "meta", (dict,), default={})
    for name in ("step", "sample_index"):
        if context.get(name, 0) < 0:
            check.bad(name, f"expected a non-negative integer, got {context[name]!r}")
    if gen_id is not None and str(gen_id).strip() == "":
        check.bad("id", "must not be empty")
    labels: dict[str, list[Span]] = {}
    if raw_labels is not None and annotators is None:
        labels["gold"] = []  # RAGTruth: a `labels` list, even empty, is the annotators' judgment
    for name in annotators or []:
        if isinstance(name, str) and name:
            labels.setdefault(name, [])
        else:
            check.bad("annotators", f"expected a list of names, found {_short(name)}")
    for i, raw in enumerate(raw_labels or []):
        annotator, span = _check_span(raw, response, check, f"labels[{i}].")
        if span is not None:
            labels.setdefault(annotator, []).append(span)
    label_info = _check_label_info(check.get(row, "label_info", (dict,), default={}), check)
    if len(problems) > before:
        return None
    if source_id is None:  # examples are one per source: derive a stable id from the grounding
        from hallu_core.store.types import content_hash
        source_id = content_hash(source, question, task)
    extra = {k: v for k, v in row.items() if k not in GENERATION_FIELDS}
    return GenerationRecord(line, str(gen_id), response, model, task, source, question, reference,
                            str(source_id), labels, label_info, extra, context, meta)


def _check_label_info(info: dict, check: _Checker) -> dict[str, dict]:
    """`label_info` as Hallu exports it: annotator -> {"selection": one of SELECTIONS or null, "assisted": bool}."""
    out = {}
    for annotator, value in info.items():
        where = f"label_info.{annotator}"
        if not isinstance(value, dict) or set(value) - {"selection", "assisted"}:
            check.bad(where, f'expected {{"selection": ..., "assisted": ...}}, got {_short(value)}')
            continue
        selection, assisted = value.get("selection"), value.get("assisted", False)
        if selection is not None and selection not in SELECTIONS:
            check.bad(f"{where}.selection", f"expected one of {', '.join(SELECTIONS)} or null, got {_short(selection)}")
        elif not isinstance(assisted, bool):
            check.bad(f"{where}.assisted", f"expected true or false, got {_short(assisted)}")
        else:
            out[annotator] = {"selection": selection, "assisted": assisted}
    return out


def _check_span(raw, response: str | None, check: _Checker, where: str) -> tuple[str, Span | None]:
    if not isinstance(raw, dict):
        check.bad(where.rstrip("."), f"expected an object, got {type(raw).__name__} {_short(raw)}")
        return "gold", None
    before = len(check.problems)
    start = check.get(raw, "start", (int,), required=True, where=where)
    end = check.get(raw, "end", (int,), required=True, where=where)
    text = check.get(raw, "text", (str,), where=where)
    label_type = check.get(raw, "label_type", (str,), where=where)
    span_type = check.get(raw, "type", (str,), where=where)
    annotator = check.get(raw, "annotator", (str,), default="gold", where=where) or "gold"
    score = check.get(raw, "score", (int, float), default=1.0, where=where)
    note = check.get(raw, "note", (str,), default="", where=where)
    if not _finite(score):
        check.bad(f"{where}score", f"expected a finite number, got {_short(score)}")
    if span_type is None and label_type is None and "type" not in raw and "label_type" not in raw:
        check.bad(f"{where}label_type", "each label needs `label_type` (RAGTruth) or `type`")
    if span_type is not None and span_type not in SPAN_TYPES:
        check.bad(f"{where}type", f"{span_type!r} is not one of {', '.join(SPAN_TYPES)}")
    if start is not None and end is not None and response is not None:
        if not 0 <= start <= end <= len(response):
            check.bad(f"{where}start/end", f"offsets [{start}, {end}) fall outside the response "
                                           f"(length {len(response)})")
        elif text is not None and response[start:end] != text:
            check.bad(f"{where}text", f"{_short(text)} does not match the response at [{start}, {end}): "
                                      f"{_short(response[start:end])}")
    if len(check.problems) > before:
        return annotator, None
    meta = {k: v for k, v in raw.items() if k not in LABEL_FIELDS} or None
    return annotator, Span(start, end, span_type or map_label_type(label_type or ""), float(score),
                           note=note, label_type=label_type, meta=meta)


def check_example(row: dict, file: str, line: int, problems: list[Problem]):
    check = _Checker(file, line, problems)
    before = len(problems)
    values = {
        "id": check.get(row, "id", (str, int)),
        "prompt": check.get(row, "prompt", (str,), required=True),
        "source": check.get(row, "source", (str,)),
        "reference": check.get(row, "reference", (str,)),
        "task": check.get(row, "task", (str,), default=""),
        "meta": check.get(row, "meta", (dict,), default={}),
    }
    if values["prompt"] is not None and not values["prompt"].strip():
        check.bad("prompt", "must not be empty")
    extra = {k: v for k, v in row.items() if k not in EXAMPLE_FIELDS}
    values["meta"] = {**values["meta"], **extra}
    return None if len(problems) > before else (line, values)


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (OverflowError, TypeError, ValueError):  # an integer too large for a float
        return False


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"
