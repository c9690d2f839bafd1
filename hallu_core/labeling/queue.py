"""Labeling by hand: the queue, and every annotator action saved to the store at once.

A label is one annotator's judgment of one generation (`Label`): typed spans with
character offsets into the output (end exclusive), status draft, done or skipped. Each
action here reads the annotator's current label, changes it and saves it in one
store transaction, so nothing lives only in the browser. Editing spans keeps a new
label a draft: it counts as labeled (in progress, rates, agreement) only once the
annotator marks it done.

Accepting a detector span copies it into the label (with `detector` set); rejecting
one records the decision so the queue does not offer it again. Decisions live in a
small side table (`label_decisions`, schema migration 2). The action that creates a label
records how its item was chosen (`selection`: store/types.py SELECTIONS; rates/table.py reads it back).
"""
from __future__ import annotations

import logging
from dataclasses import replace

from hallu_core.labeling.agreement import disagreements, scope_sql
from hallu_core.labeling.spans import (  # noqa: F401  (LABEL_SPAN_TYPES, clean_annotator: said here for callers)
    ADJUDICATED, LABEL_SPAN_TYPES, LabelError, checked_span, clean_annotator, output_text,
)
from hallu_core.store.connection import distinct_indexed
from hallu_core.store.database import Store, marks
from hallu_core.store.types import SELECTIONS, Label, Span, now

log = logging.getLogger(__name__)

QUEUE_ORDERS = {
    "unlabeled": "unlabeled first",
    "score": "highest detector score first",
    "disagreement": "annotators' disagreement first",
    "random": "random (for unbiased rates)",
}
FINISHED = "COALESCE(me.status IN ('done', 'skipped'), 0)"  # the annotator's label `me`; a draft is still to do


# -- the queue ------------------------------------------------------------------------
def queue(store: Store, annotator: str, order: str = "unlabeled", *, run_id: str | None = None,
          checkpoint_id: str | None = None, detector: str | None = None, limit: int = 500) -> list[dict]:
    """Generations to label, in the chosen order: [{generation_id, labeled, key}, ...].

    - "unlabeled": items this annotator has not labeled first, then those fewest others
      labeled, then storage order.
    - "score": items this annotator has not labeled first, then by the highest response
      score of `detector` (any detector when None), highest first; undetected last.
    - "disagreement": items labeled by two or more annotators, most disagreement first
      (1 - character F1 between their span sets, worst pair), not yet adjudicated first;
      then the rest in "unlabeled" order.
    - "random": items this annotator has not finished first, each part in a fixed pseudo-random order
      (store/shuffle.py): labels taken in this order are a fair sample for rate estimates.
    """
    if order not in QUEUE_ORDERS:
        raise LabelError(f"unknown queue order {order!r}; choose from {', '.join(QUEUE_ORDERS)}")
    scope, params = scope_sql(run_id, checkpoint_id, "WHERE")
    base = ("FROM generations g JOIN checkpoints c ON c.id = g.checkpoint_id "
            "LEFT JOIN labels me ON me.generation_id = g.id AND me.annotator = ?")
    finished = FINISHED
    if order == "score":
        det = " AND d.detector = ?" if detector else ""
        key = f"(SELECT MAX(d.response_score) FROM detection_latest d WHERE d.generation_id = g.id{det})"
        head = _top_scored(store, annotator, key, detector, run_id, checkpoint_id, limit)
        if head is not None:
            return head
        sql = (f"SELECT g.id, {finished} AS labeled, {key} AS key "
               f"{base}{scope} ORDER BY labeled, COALESCE(key, -1e300) DESC, g.rowid LIMIT ?")
        args = [*([detector] if detector else []), annotator, *params, limit]
        return [_row(r) for r in store.query(sql, args)]
    if order == "random":
        return _random(store, annotator, base, run_id, checkpoint_id, limit)
    and_scope, _ = scope_sql(run_id, checkpoint_id)
    # Items nobody labeled (key 0) lead this order in storage order: when there are `limit` of them, walking
    # the outputs in order finds them at once, where the full query counts and sorts every output in scope.
    plain = [_row(r) for r in store.query(
        f"SELECT g.id, 0, 0 {base} WHERE NOT {finished} AND NOT EXISTS (SELECT 1 FROM labels o WHERE "
        f"o.generation_id = g.id AND o.annotator != ?){and_scope} ORDER BY g.rowid LIMIT ?",
        [annotator, ADJUDICATED, *params, limit])]
    if len(plain) < limit:
        sql = (f"SELECT g.id, {finished} AS labeled, "
               f"(SELECT COUNT(*) FROM labels o WHERE o.generation_id = g.id AND o.annotator != ?) AS key "
               f"{base}{scope} ORDER BY labeled, key, g.rowid LIMIT ?")
        plain = [_row(r) for r in store.query(sql, [ADJUDICATED, annotator, *params, limit])]
    if order == "unlabeled":
        return plain
    disputed = disagreements(store, run_id=run_id, checkpoint_id=checkpoint_id)[:limit]
    mine = finished_by(store, annotator, [d["generation_id"] for d in disputed])  # not only the first `limit`
    head = [{"generation_id": d["generation_id"], "labeled": d["generation_id"] in mine,
             "key": d["disagreement"]} for d in disputed]
    seen = {d["generation_id"] for d in head}
    tail = [{**r, "key": None} for r in plain if r["generation_id"] not in seen]
    return (head + tail)[:limit]


def _random(store: Store, annotator: str, base: str, run_id: str | None, checkpoint_id: str | None,
            limit: int) -> list[dict]:
    """The unfinished, then the finished, each in the outputs' fixed pseudo-random order (store/shuffle.py):
    the first `limit` of each checkpoint in scope walk its (checkpoint, key) index, then merge; a scope of
    every run walks the key index itself."""
    checkpoints = [r[0] for r in store.query(
        "SELECT id FROM checkpoints WHERE run_id = COALESCE(?, run_id) AND id = COALESCE(?, id)",
        [run_id, checkpoint_id])] if run_id or checkpoint_id else [None]
    rows: list = []
    for part in (f"NOT {FINISHED}", FINISHED):
        found = []
        for checkpoint in checkpoints:
            one = "" if checkpoint is None else " AND g.checkpoint_id = ?"
            found += store.query(f"SELECT g.id, {FINISHED}, NULL, COALESCE(g.shuffle_key, -1), g.rowid {base} "
                                 f"WHERE {part}{one} ORDER BY g.shuffle_key, g.rowid LIMIT ?",
                                 [annotator, *([checkpoint] if checkpoint else []), limit - len(rows)])
        rows += sorted(found, key=lambda r: (r[3], r[4]))[:limit - len(rows)]
        if len(rows) >= limit:
            break
    return [_row(r) for r in rows]


def _top_scored(store: Store, annotator: str, key: str, detector: str | None, run_id: str | None,
                checkpoint_id: str | None, limit: int) -> list[dict] | None:
    """The "score" queue when `limit` items in scope are unfinished and detected (None otherwise: the caller
    sorts every output). The top `limit` by the highest score of any detector are among each detector's own
    top `limit` (an item ranked above another by its best detector ranks above it overall too)."""
    candidates: set[str] = set()
    for name in [detector] if detector else distinct_indexed(store, "detection_latest", "detector"):
        candidates.update(_detector_head(store, annotator, name, run_id, checkpoint_id, limit))
    if len(candidates) < limit:
        return None
    ids = sorted(candidates)
    rows = store.query(f"SELECT g.id, 0, {key} AS key FROM generations g WHERE g.id IN ({marks(ids)}) "
                       "ORDER BY key DESC, g.rowid LIMIT ?", [*([detector] if detector else []), *ids, limit])
    return [_row(r) for r in rows]


BIG_TIE = 20_000  # outputs of one detector sharing the score at the cut: walked in storage order instead


def _detector_head(store: Store, annotator: str, detector: str, run_id: str | None, checkpoint_id: str | None,
                   limit: int) -> list[str]:
    """The first `limit` unfinished outputs in scope by one detector's score, highest first, ties in storage
    order: a walk down its score index to the score at the cut, then the outputs tied there. Sorting a big
    tie (a detector with few distinct scores) by storage order would look up every output in it, so a big
    tie is walked in storage order instead, stopping at the cut."""
    scope, params = scope_sql(run_id, checkpoint_id)
    rest = (f"JOIN checkpoints c ON c.id = g.checkpoint_id LEFT JOIN labels me ON me.generation_id = g.id "
            f"AND me.annotator = ? WHERE t.generation_id = g.id AND t.detector = ? AND NOT {FINISHED}{scope}")
    args = [annotator, detector, *params]
    by_score = f"FROM detection_latest t JOIN generations g {rest}"
    top = store.query(f"SELECT t.response_score {by_score} ORDER BY t.response_score DESC LIMIT ?", [*args, limit])
    if len(top) < limit:
        return [r[0] for r in store.query(f"SELECT g.id {by_score}", args)]
    cut = top[-1][0]
    above = store.query(f"SELECT g.id {by_score} AND t.response_score > ? ORDER BY t.response_score DESC, g.rowid",
                        [*args, cut])
    tie = store.query("SELECT COUNT(*) FROM detection_latest WHERE detector = ? AND response_score = ?",
                      [detector, cut])[0][0]
    in_order = f"FROM generations g CROSS JOIN detection_latest t {rest}" if tie > BIG_TIE else by_score
    tied = store.query(f"SELECT g.id {in_order} AND t.response_score = ? ORDER BY g.rowid LIMIT ?",
                       [*args, cut, limit - len(above)])
    return [r[0] for r in above + tied]


def finished_by(store: Store, annotator: str, generation_ids: list[str]) -> set[str]:
    """Those of the generations the annotator marked done or skipped."""
    out: set[str] = set()
    for i in range(0, len(generation_ids), 500):
        chunk = generation_ids[i:i + 500]
        out |= {r[0] for r in store.query(
            f"SELECT generation_id FROM labels WHERE annotator = ? AND status IN ('done', 'skipped') "
            f"AND generation_id IN ({marks(chunk)})", [annotator, *chunk])}
    return out


def _row(r) -> dict:
    return {"generation_id": r[0], "labeled": bool(r[1]), "key": r[2]}


def progress_counts(store: Store, annotator: str, *, run_id: str | None = None,
                    checkpoint_id: str | None = None) -> dict:
    """How far this annotator is in the scope: total, done (with / without spans), skipped, remaining."""
    scope, params = scope_sql(run_id, checkpoint_id)
    # the outputs in scope from the store's per-checkpoint summary (`g` there), this annotator's labels from theirs
    total = store.query("SELECT SUM(g.generations) FROM generation_summary g JOIN checkpoints c "
                        f"ON c.id = g.checkpoint_id WHERE 1{scope}", params)[0][0]
    row = store.query(
        "SELECT SUM(l.status = 'done'), SUM(l.status = 'done' AND l.n_spans > 0), "
        "SUM(l.status = 'skipped'), SUM(l.status = 'draft') FROM labels l "
        "JOIN generations g ON g.id = l.generation_id JOIN checkpoints c ON c.id = g.checkpoint_id "
        f"WHERE l.annotator = ?{scope}", [annotator, *params])[0]
    total, done, positive, skipped, drafts = (int(v or 0) for v in (total, *row))
    return {"total": total, "done": done, "with_spans": positive, "skipped": skipped, "drafts": drafts,
            "remaining": total - done - skipped}


# -- actions (each one saved at once) ----------------------------------------------------
def current_label(store: Store, generation_id: str, annotator: str, selection: str | None = None) -> Label:
    """The stored label, or an empty unsaved draft that records how its item was chosen (`selection`)."""
    if selection is not None and selection not in SELECTIONS:
        raise LabelError(f"unknown selection {selection!r}; choose from {', '.join(SELECTIONS)}")
    return store.get_label(generation_id, annotator) or Label(generation_id, annotator, [], "draft",
                                                              selection=selection)


def save(store: Store, label: Label, spans: list[Span], status: str | None = None, note: str | None = None) -> Label:
    """Save spans; `status` None keeps the label's own (a new label stays a draft until marked done)."""
    spans = sorted(spans, key=lambda s: (s.start, s.end, s.type))
    if status is None:  # editing a skipped item takes it up again
        status = "draft" if label.status == "skipped" else label.status
    return store.save_label(replace(label, spans=spans, status=status,
                                    note=label.note if note is None else note, updated_at=now()))


def add_span(store: Store, generation_id: str, annotator: str, start: int, end: int, span_type: str,
             note: str = "", *, selection: str | None = None) -> Label:
    """Add one typed span; adding the same offsets and type again changes nothing."""
    with store.transaction():
        label = current_label(store, generation_id, annotator, selection)
        span = checked_span(output_text(store, generation_id), start, end, span_type, note)
        spans = [s for s in label.spans if (s.start, s.end, s.type) != (span.start, span.end, span.type)]
        return save(store, label, spans + [span])


def edit_span(store: Store, generation_id: str, annotator: str, index: int, *, start: int | None = None,
              end: int | None = None, span_type: str | None = None, note: str | None = None) -> Label:
    with store.transaction():
        label = current_label(store, generation_id, annotator)
        if not 0 <= index < len(label.spans):
            raise LabelError(f"no span number {index} in this label")
        old = label.spans[index]
        new = checked_span(output_text(store, generation_id), old.start if start is None else start,
                       old.end if end is None else end, old.type if span_type is None else span_type,
                       old.note if note is None else note, evidence=old.evidence, detector=old.detector)
        return save(store, label, [new if i == index else s for i, s in enumerate(label.spans)])


def delete_span(store: Store, generation_id: str, annotator: str, index: int) -> Label:
    with store.transaction():
        label = current_label(store, generation_id, annotator)
        if not 0 <= index < len(label.spans):
            raise LabelError(f"no span number {index} in this label")
        return save(store, label, [s for i, s in enumerate(label.spans) if i != index])


def no_hallucination(store: Store, generation_id: str, annotator: str, *, selection: str | None = None) -> Label:
    """The output holds no hallucination: an empty, done label (existing spans are removed)."""
    with store.transaction():
        output_text(store, generation_id)
        return save(store, current_label(store, generation_id, annotator, selection), [], "done")


def skip(store: Store, generation_id: str, annotator: str, *, selection: str | None = None) -> Label:
    """Skip for now: the label keeps its spans and is marked skipped."""
    with store.transaction():
        output_text(store, generation_id)
        label = current_label(store, generation_id, annotator, selection)
        return save(store, label, list(label.spans), "skipped")


def mark_done(store: Store, generation_id: str, annotator: str, *, selection: str | None = None) -> Label:
    """Finish the item as it stands (a label with no spans means no hallucination)."""
    with store.transaction():
        output_text(store, generation_id)
        label = current_label(store, generation_id, annotator, selection)
        return save(store, label, list(label.spans), "done")


def set_note(store: Store, generation_id: str, annotator: str, note: str) -> Label:
    with store.transaction():
        label = current_label(store, generation_id, annotator)
        return save(store, label, list(label.spans), label.status, note=(note or "").strip())


# -- detector spans and the annotator's decisions on them (accepting one: suggestions.py) ------
def decisions(store: Store, generation_id: str, annotator: str) -> dict[tuple[str, int, int], str]:
    """(detector, start, end) -> "accepted" / "rejected" for this annotator and generation."""
    rows = store.query('SELECT detector, start, "end", decision FROM label_decisions '
                       'WHERE generation_id = ? AND annotator = ?', (generation_id, annotator))
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def detector_spans(store: Store, generation_id: str, annotator: str | None = None) -> list[dict]:
    """Every detector span of the generation with the annotator's decision (None = undecided)."""
    decided = decisions(store, generation_id, annotator) if annotator else {}
    out = []
    for det in store.latest_detections(generation_id):  # a re-run's older spans no longer count
        for span in det.spans:
            out.append({"detector": det.detector, "span": span,
                        "decision": decided.get((det.detector, span.start, span.end))})
    return sorted(out, key=lambda d: (d["span"].start, d["span"].end, d["detector"]))
