"""Detector suggestions on an item: hidden until its annotator reveals them (blind labeling), then each
distinct span shown once with every detector that suggested it.

A reveal is recorded with the label (`assisted`), so agreement and rates can tell the labels made
blind from those made after seeing what the detectors found.
"""
from __future__ import annotations

from dataclasses import replace

from hallu_core.labeling.queue import current_label, detector_spans
from hallu_core.labeling.spans import output_text
from hallu_core.store.database import Store
from hallu_core.store.types import Label, now


def reveal(store: Store, generation_id: str, annotator: str, *, selection: str | None = None) -> Label:
    """Show the annotator this item's detector suggestions: the label (a draft when new) becomes assisted."""
    with store.transaction():
        output_text(store, generation_id)
        label = current_label(store, generation_id, annotator, selection)
        return store.save_label(replace(label, assisted=True, updated_at=now()))


def suggestions(store: Store, generation_id: str, annotator: str) -> list[dict]:
    """The detector spans as [{detectors, span, decision}]: spans with the same offsets and type (and the
    annotator's same decision) merged into one, its detectors named in order, its score the highest."""
    merged: dict[tuple, dict] = {}
    for offer in detector_spans(store, generation_id, annotator):
        span = offer["span"]
        entry = merged.setdefault((span.start, span.end, span.type, offer["decision"]),
                                  {"detectors": [], "span": span, "decision": offer["decision"]})
        entry["detectors"].append(offer["detector"])
        if entry["span"].evidence is None and span.evidence is not None:  # keep a suggestion's evidence
            entry["span"] = replace(span, score=max(span.score, entry["span"].score))
        elif span.score > entry["span"].score:
            entry["span"] = replace(entry["span"], score=span.score)
    return list(merged.values())
