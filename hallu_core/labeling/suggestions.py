"""Detector suggestions on an item: hidden until its annotator reveals them (blind labeling), then each
distinct span shown once with every detector that suggested it.

A reveal is recorded with the label (`assisted`), so agreement and rates can tell the labels made
blind from those made after seeing what the detectors found.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from hallu_core.detection.detectors.evidence import real_passage
from hallu_core.labeling.queue import current_label, detector_spans, save
from hallu_core.labeling.spans import LABEL_SPAN_TYPES, LabelError, checked_span, output_text
from hallu_core.store.database import Store
from hallu_core.store.types import Label, Span, now


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


# -- accepting or rejecting a suggestion ------------------------------------------------------
def _names(detectors: str | Iterable[str]) -> list[str]:
    return [detectors] if isinstance(detectors, str) else list(detectors)


def _decide(store: Store, generation_id: str, annotator: str, detectors: str | Iterable[str], span: Span,
            decision: str) -> None:
    with store.transaction() as conn:
        conn.executemany('INSERT OR REPLACE INTO label_decisions VALUES (?,?,?,?,?,?,?)',
                         [(generation_id, annotator, name, span.start, span.end, decision, now())
                          for name in _names(detectors)])


def accept_detector_span(store: Store, generation_id: str, annotator: str, detectors: str | Iterable[str],
                         span: Span, span_type: str | None = None, *, selection: str | None = None) -> Label:
    """Copy a detector span into the label, naming the detector(s) that suggested it; an untyped ("unknown")
    span needs `span_type`. The label is then assisted: its annotator saw the detectors' suggestions."""
    chosen = span_type or (span.type if span.type in LABEL_SPAN_TYPES else None)
    if chosen is None:
        raise LabelError("this detector does not type its spans: choose a type to accept it")
    with store.transaction():
        label = replace(current_label(store, generation_id, annotator, selection), assisted=True)
        text = output_text(store, generation_id)
        # only a checked passage that still reads the same is evidence a person's label keeps
        evidence = real_passage(span.evidence, _passage_texts(store, generation_id, text))
        new = checked_span(text, span.start, span.end, chosen, "", evidence=evidence,
                           detector=", ".join(_names(detectors)))
        spans = [s for s in label.spans if (s.start, s.end) != (new.start, new.end)]
        saved = save(store, label, spans + [new])
        _decide(store, generation_id, annotator, detectors, span, "accepted")
    return saved


def _passage_texts(store: Store, generation_id: str, output: str) -> dict[str, str | None]:
    example = store.get_example(store.get_generation(generation_id).example_id)
    question = example.meta.get("question") or example.prompt if example else None
    return {"output": output, "source": example.source if example else None,
            "reference": example.reference if example else None, "question": question}


def reject_detector_span(store: Store, generation_id: str, annotator: str, detectors: str | Iterable[str],
                         span: Span) -> None:
    _decide(store, generation_id, annotator, detectors, span, "rejected")
