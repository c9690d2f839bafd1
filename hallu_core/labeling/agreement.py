"""Agreement between annotators, and adjudication into the final label set.

- Character-level F1 between two annotators' span sets: each character counted once
  (union of a side's spans), F1 = 2|A & B| / (|A| + |B|), pooled over the items both
  labeled. Two empty sets agree perfectly (F1 1.0).
- Cohen's kappa at response level: a response is positive when its label has a span.
- Adjudication: a reviewer picks the final span set, stored as annotator "adjudicated".
- Blind and assisted: each figure also over the items neither annotator saw detector suggestions
  on (blind) and those at least one did (assisted), since suggestions pull annotators together.
"""
from __future__ import annotations

from itertools import combinations

from hallu_core.detection.metrics import span_counts
from hallu_core.labeling.spans import ADJUDICATED, LabelError, checked_span, output_text
from hallu_core.store.database import Store
from hallu_core.store.types import RANDOM_SELECTIONS, Label, Span, now


def char_f1(spans_a, spans_b) -> float:
    """Character-level F1 between two span sets of one text (1.0 when both are empty)."""
    return pooled_char_f1([(spans_a, spans_b)])


def pooled_char_f1(pairs) -> float:
    """Character F1 summed over several items: [(spans_a, spans_b), ...]."""
    overlap = chars_a = chars_b = 0
    for a, b in pairs:
        o, na, nb = span_counts(a, b)
        overlap, chars_a, chars_b = overlap + o, chars_a + na, chars_b + nb
    return 1.0 if chars_a + chars_b == 0 else 2 * overlap / (chars_a + chars_b)


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa of two binary judgments of the same items (None for no items)."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    if expected >= 1.0:  # both always said the same single class: agreement is total or none
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)


_DONE_LABELS = ("SELECT l.generation_id FROM labels l JOIN generations g ON g.id = l.generation_id "
                "JOIN checkpoints c ON c.id = g.checkpoint_id WHERE l.status = 'done'")


def scope_sql(run_id: str | None, checkpoint_id: str | None, keyword: str = "AND") -> tuple[str, list]:
    """SQL narrowing generations `g` (joined to their checkpoints `c`) to a run and/or a checkpoint, and its
    parameters: "" when neither is given, else `keyword` (AND to extend a WHERE, WHERE to open one) and the tests."""
    tests = {"c.run_id = ?": run_id, "g.checkpoint_id = ?": checkpoint_id}
    given = {sql: value for sql, value in tests.items() if value}
    return (f" {keyword} " + " AND ".join(given) if given else ""), list(given.values())


def _done_labels(store: Store, annotator: str, run_id: str | None = None,
                 checkpoint_id: str | None = None) -> dict[str, Label]:
    scope, params = scope_sql(run_id, checkpoint_id)
    ids = {r[0] for r in store.query(_DONE_LABELS + " AND l.annotator = ?" + scope, [annotator, *params])}
    return {lab.generation_id: lab for lab in store.labels(annotator=annotator) if lab.generation_id in ids}


def agreement(store: Store, annotator_a: str, annotator_b: str, *, run_id: str | None = None,
              checkpoint_id: str | None = None) -> dict:
    """Agreement of two annotators over the items both marked done; `blind` and `assisted` give the same
    figures over the items neither saw detector suggestions on, and those at least one of them did."""
    a = _done_labels(store, annotator_a, run_id, checkpoint_id)
    b = _done_labels(store, annotator_b, run_id, checkpoint_id)
    shared = sorted(set(a) & set(b))
    pairs = [(a[g].spans, b[g].spans) for g in shared]
    assisted = [a[g].assisted or b[g].assisted for g in shared]
    return {"a": annotator_a, "b": annotator_b, **_figures(pairs),
            "both_positive": sum(bool(x) and bool(y) for x, y in pairs),
            "a_only": sum(bool(x) and not y for x, y in pairs),
            "b_only": sum(bool(y) and not x for x, y in pairs),
            "blind": _figures([p for p, seen in zip(pairs, assisted) if not seen]),
            "assisted": _figures([p for p, seen in zip(pairs, assisted) if seen])}


def _figures(pairs: list) -> dict:
    """Items, pooled character F1 and Cohen's kappa of (spans_a, spans_b) pairs."""
    return {"items": len(pairs), "char_f1": pooled_char_f1(pairs) if pairs else None,
            "kappa": cohen_kappa([bool(x) for x, _ in pairs], [bool(y) for _, y in pairs])}


def agreement_table(store: Store, **scope) -> list[dict]:
    """Every pair of human annotators (the adjudicated set excluded) that share items."""
    names = [n for n in store.annotators() if n != ADJUDICATED]
    rows = [agreement(store, x, y, **scope) for x, y in combinations(names, 2)]
    return [r for r in rows if r["items"]]


def disagreements(store: Store, *, run_id: str | None = None, checkpoint_id: str | None = None) -> list[dict]:
    """Items done by two or more annotators, most disagreement first, unadjudicated first.

    disagreement = 1 - character F1 of the worst-agreeing pair of annotators on the item.
    """
    scope, params = scope_sql(run_id, checkpoint_id)
    rows = store.query(_DONE_LABELS.replace("SELECT l.generation_id", "SELECT l.generation_id, MIN(g.rowid)")
                       + " AND l.annotator != ?" + scope + " GROUP BY l.generation_id HAVING COUNT(*) >= 2",
                       [ADJUDICATED, *params])
    out = []
    for gid, rowid in rows:
        labels = [lab for lab in store.labels(generation_id=gid) if lab.status == "done"]
        humans = [lab for lab in labels if lab.annotator != ADJUDICATED]
        worst = min(char_f1(x.spans, y.spans) for x, y in combinations(humans, 2))
        out.append({"generation_id": gid, "disagreement": round(1.0 - worst, 6),
                    "annotators": [lab.annotator for lab in humans],
                    "adjudicated": any(lab.annotator == ADJUDICATED for lab in labels), "_rowid": rowid})
    out.sort(key=lambda d: (d["adjudicated"], -d["disagreement"], d["_rowid"]))
    for d in out:
        d.pop("_rowid")
    return out


def candidate_spans(store: Store, generation_id: str) -> list[dict]:
    """The union of all annotators' spans on an item, each with who marked it (for adjudication)."""
    merged: dict[tuple[int, int, str], dict] = {}
    for lab in store.labels(generation_id=generation_id):
        if lab.status != "done" or lab.annotator == ADJUDICATED:
            continue
        for span in lab.spans:
            entry = merged.setdefault((span.start, span.end, span.type), {"span": span, "annotators": []})
            entry["annotators"].append(lab.annotator)
    return [merged[k] for k in sorted(merged)]


def adjudicate(store: Store, generation_id: str, spans: list[Span], reviewer: str = "") -> Label:
    """Store the final span set of an item as annotator "adjudicated" (note names the reviewer); the item
    counts as drawn at random only when each of its annotators drew it so (rates/table.py done_labels), and
    is assisted when one was."""
    text = output_text(store, generation_id)
    people = [lab for lab in store.labels(generation_id=generation_id)
              if lab.status == "done" and lab.annotator != ADJUDICATED]
    on_purpose = [lab.selection for lab in people if lab.selection not in RANDOM_SELECTIONS]
    checked = []
    for s in spans:
        if s.type not in ("conflict", "baseless", "self_contradiction"):
            raise LabelError(f"adjudicated spans need a type, got {s.type!r}")
        checked.append(checked_span(text, s.start, s.end, s.type, s.note, evidence=s.evidence, detector=s.detector))
    unique = {(s.start, s.end, s.type): s for s in checked}
    old = store.get_label(generation_id, ADJUDICATED)
    label = Label(generation_id, ADJUDICATED, [unique[k] for k in sorted(unique)], "done",
                  note=f"adjudicated by {reviewer}" if reviewer else "",
                  created_at=old.created_at if old else now(),
                  selection=on_purpose[0] if on_purpose else people[0].selection if people else None,
                  assisted=any(lab.assisted for lab in people))
    return store.save_label(label, derived_selection=True)
