"""What every labeling action shares: span types, the adjudicator's name, checked spans and their errors."""
from __future__ import annotations

from hallu_core.store.database import Store
from hallu_core.store.types import Span

LABEL_SPAN_TYPES = ("conflict", "baseless", "self_contradiction")
ADJUDICATED = "adjudicated"  # the annotator name of adjudicated labels
SYNTHETIC_ANNOTATORS = frozenset({"oracle"})  # labels written by a program (the demo's oracle), not a person
MAX_ANNOTATOR_LEN = 64


class LabelError(ValueError):
    """An action that cannot be applied (bad offsets, unknown type, missing generation)."""


def clean_annotator(name: str | None) -> str:
    """A usable annotator name, or LabelError saying why not."""
    name = " ".join((name or "").split())
    if not name:
        raise LabelError("enter your name as annotator first")
    if len(name) > MAX_ANNOTATOR_LEN:
        raise LabelError(f"annotator names are at most {MAX_ANNOTATOR_LEN} characters")
    return name


def output_text(store: Store, generation_id: str) -> str:
    """The output text of a generation (the offsets' reference), or LabelError when there is none."""
    gen = store.get_generation(generation_id)
    if gen is None:
        raise LabelError(f"no generation {generation_id!r} in this workspace")
    return gen.text


def checked_span(text: str, start: int, end: int, span_type: str, note: str = "", **extra) -> Span:
    """A typed span over `text`, or LabelError naming the bad type or offsets."""
    if span_type not in LABEL_SPAN_TYPES:
        raise LabelError(f"span type {span_type!r} is not one of {', '.join(LABEL_SPAN_TYPES)}")
    try:
        start, end = int(start), int(end)
    except (TypeError, ValueError) as exc:
        raise LabelError(f"offsets must be integers, got {start!r}/{end!r}") from exc
    if not 0 <= start < end <= len(text):
        raise LabelError(f"span [{start}, {end}) is empty or outside the output (length {len(text)})")
    return Span(start, end, span_type, 1.0, note=(note or "").strip(), **extra)
