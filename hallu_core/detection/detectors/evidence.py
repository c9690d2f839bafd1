"""What counts as evidence: a passage of the example that a span conflicts with or was compared with.

Detectors that point at a passage say how it relates to the span (`relation`); a span with no
such passage carries no evidence (and its note says so). A human label takes a detector's
evidence over only when it is such a passage and still reads the same in the example, so an
old detection's stray word (made before evidence was checked) never becomes a person's label.
"""
from __future__ import annotations

PASSAGE_FIELDS = ("source", "reference", "question", "output")
RELATIONS = {
    "conflicting value": "the source's value of the same attribute",
    "record field": "the record field the claim is about",
    "closest sentence": "the source sentence the span was compared with (the closest one)",
    "earlier value": "the output's earlier, different value for the same thing",
}
NONE_FOUND = "no supporting or conflicting passage found"


def passage(text: str, start: int, end: int, field: str, relation: str, **extra) -> dict:
    if relation not in RELATIONS:
        raise ValueError(f"evidence relation {relation!r} is not one of {', '.join(RELATIONS)}")
    return {"text": text, "start": start, "end": end, "field": field, "relation": relation, **extra}


def real_passage(evidence, texts: dict[str, str | None]) -> dict | None:
    """`evidence` when it is a checked passage that still reads the same in `texts` (field -> text), else None."""
    if not isinstance(evidence, dict) or evidence.get("relation") not in RELATIONS:
        return None
    field, start, end = evidence.get("field"), evidence.get("start"), evidence.get("end")
    text = texts.get(field) if field in PASSAGE_FIELDS else None
    if not text or not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(text):
        return None
    return evidence if text[start:end] == evidence.get("text") else None
