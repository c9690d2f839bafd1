"""A hand-computable workspace for the labeling, agreement and Detectors tests.

Four outputs "abcdefghij" (10 characters) over two checkpoints, one detector ("det")
and labels by "gold" on every output, "alice" and "bob" on g1 and g3:

    gen  ckpt  gold     det spans (score)   alice    bob
    g1   A     [0,4)    [2,6) 0.9           [0,4)    [0,2)
    g2   A     -        [0,2) 0.3
    g3   B     [5,10)   - (score 0)          [5,10)   -
    g4   B     [0,10)   [0,10) 0.6
"""
from __future__ import annotations

from hallu_core.store.types import Checkpoint, Detection, Example, Generation, Label, Run, Span

TEXT = "abcdefghij"
GOLD = {"g1": [(0, 4)], "g2": [], "g3": [(5, 10)], "g4": [(0, 10)]}
DET = {"g1": [(2, 6, 0.9)], "g2": [(0, 2, 0.3)], "g3": [], "g4": [(0, 10, 0.6)]}
ALICE = {"g1": [(0, 4)], "g3": [(5, 10)]}
BOB = {"g1": [(0, 2)], "g3": []}


def build(store, texts: dict[str, str] | None = None) -> dict:
    """Fill `store`; returns {"run": id, "A": checkpoint id, "B": checkpoint id}."""
    texts = texts or {}
    store.add_examples([Example(f"e{i}", "toy", f"Question {i}?", source=f"Source text {i}.", task="QA")
                        for i in range(1, 5)])
    store.add_run(Run("run1", "toy-run", "tiny"))
    store.add_checkpoint(Checkpoint("ckA", "run1", 100, "step-100"))
    store.add_checkpoint(Checkpoint("ckB", "run1", 200, "step-200"))
    gens = []
    for i, gid in enumerate(("g1", "g2", "g3", "g4"), start=1):
        gens.append(Generation(gid, f"e{i}", "ckA" if i <= 2 else "ckB", texts.get(gid, TEXT)))
    store.add_generations(gens)
    store.add_detections(
        Detection(gid, "det", "h1", [Span(a, b, "baseless", s) for a, b, s in spans],
                  max((s for _, _, s in spans), default=0.0))
        for gid, spans in DET.items())
    for name, table in (("gold", GOLD), ("alice", ALICE), ("bob", BOB)):
        store.add_labels(Label(gid, name, [Span(a, b, "conflict") for a, b in spans]) for gid, spans in table.items())
    return {"run": "run1", "A": "ckA", "B": "ckB"}
