"""A one-output workspace whose detector spans carry real and stray evidence (the Label page tests)."""
from pathlib import Path

from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Detection, Example, Generation, Run, Span

SOURCE = "Name: Sarbel Eltam\nBorn: 1994 in Drennick"
TEXT = "Born in Varesh in 1987, Bretam Eltam grew up there."
REAL = Span(18, 22, "conflict", 0.9, {"text": "1994", "start": 25, "end": 29, "field": "source",
                                      "relation": "conflicting value"})
STRAY = Span(8, 14, "conflict", 0.8, {"text": "Sarbel", "start": 6, "end": 12, "field": "source"})  # old, unchecked


def build(root: Path) -> Path:
    store = Store(root)
    store.add_examples([Example("e1", "bio", "Write a bio.", source=SOURCE, task="bio")])
    store.add_run(Run("r", "run", "tiny"))
    store.add_checkpoint(Checkpoint("c", "r", 1, "step-1"))
    store.add_generations([Generation("g", "e1", "c", TEXT)])
    store.add_detections([Detection("g", "lexical", "h", [REAL, STRAY], 0.9)])
    store.close()
    return root


def accepted_spans(root: Path, annotator: str) -> dict:
    """The annotator's label spans by the text they cover."""
    store = Store(root)
    try:
        return {TEXT[s.start:s.end]: s for s in store.get_label("g", annotator).spans}
    finally:
        store.close()
