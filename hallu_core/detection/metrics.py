"""Detector measurement, exactly as DESIGN.md defines it (pure functions, no I/O).

Response level: a response is positive when it has at least one span; P/R/F1 of the
positive class. Span level: character overlap summed over the whole set (the protocol of
published RAGTruth numbers), precision = overlapping chars / predicted chars, recall =
overlapping chars / gold chars. Overlapping spans within one response are merged first, so
a character counts once however many spans cover it and no figure exceeds 1; this makes the
summed figure equal the union-of-characters variant, so there is only the one.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

SpanLike = object  # a Span, a dict with start/end, or a (start, end[, ...]) tuple


def _bounds(span) -> tuple[int, int]:
    if isinstance(span, dict):
        return span["start"], span["end"]
    if isinstance(span, (tuple, list)):
        return span[0], span[1]
    return span.start, span.end


def _score(span) -> float:
    if isinstance(span, dict):
        return float(span.get("score", 1.0))
    if isinstance(span, (tuple, list)):
        return float(span[2]) if len(span) > 2 else 1.0
    return float(getattr(span, "score", 1.0))


def prf(tp: float, n_pred: float, n_gold: float) -> dict:
    """Precision/recall/F1 from counts; an empty denominator gives 0."""
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1}


def response_prf(pred_positive: Sequence[bool], gold_positive: Sequence[bool]) -> dict:
    tp = sum(1 for p, g in zip(pred_positive, gold_positive) if p and g)
    n_pred, n_gold = sum(map(bool, pred_positive)), sum(map(bool, gold_positive))
    return {**prf(tp, n_pred, n_gold), "tp": tp, "predicted": n_pred, "gold": n_gold}


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def merged(spans: Iterable) -> list[tuple[int, int]]:
    """A response's spans as sorted, disjoint (start, end) runs: overlapping ones joined, empty ones dropped."""
    runs: list[tuple[int, int]] = []
    for start, end in sorted(b for b in map(_bounds, spans) if b[0] < b[1]):
        if runs and start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], end))
        else:
            runs.append((start, end))
    return runs


def span_counts(pred: Iterable, gold: Iterable) -> tuple[int, int, int]:
    """(overlap, predicted chars, gold chars) for one response, each character counted once
    (overlaps summed over span pairs after merging each side, so they cannot double-count)."""
    pred, gold = merged(pred), merged(gold)
    overlap = sum(_overlap(p, g) for p in pred for g in gold)
    return overlap, sum(e - s for s, e in pred), sum(e - s for s, e in gold)


def span_prf(preds: Sequence[Iterable], golds: Sequence[Iterable]) -> dict:
    totals = [0, 0, 0]
    for pred, gold in zip(preds, golds):
        for k, v in enumerate(span_counts(pred, gold)):
            totals[k] += v
    return {**prf(*totals), "overlap_chars": totals[0], "predicted_chars": totals[1], "gold_chars": totals[2]}


def evaluate(preds: Sequence[Sequence], golds: Sequence[Sequence], tasks: Sequence[str] | None = None) -> dict:
    """All figures per task and overall: {"overall": {...}, "by_task": {task: {...}}}."""
    tasks = list(tasks) if tasks is not None else [""] * len(preds)
    groups = defaultdict(list)
    for i, task in enumerate(tasks):
        groups[task].append(i)

    def figures(idx: list[int]) -> dict:
        p, g = [list(preds[i]) for i in idx], [list(golds[i]) for i in idx]
        return {"n": len(idx), "response": response_prf([bool(x) for x in p], [bool(x) for x in g]),
                "span": span_prf(p, g)}

    return {"overall": figures(list(range(len(preds)))),
            "by_task": {t: figures(idx) for t, idx in sorted(groups.items()) if t}}


def response_sweep(scores: Sequence[float], gold_positive: Sequence[bool],
                   thresholds: Iterable[float] | None = None) -> list[dict]:
    """PR points for 'positive when response score >= threshold'."""
    thresholds = sorted(set(scores)) if thresholds is None else thresholds
    return [{"threshold": t, **response_prf([s >= t for s in scores], gold_positive)} for t in thresholds]


def span_sweep(preds: Sequence[Iterable], golds: Sequence[Iterable],
               thresholds: Iterable[float] | None = None) -> list[dict]:
    """PR points keeping only spans with score >= threshold (responses follow their spans)."""
    preds = [list(p) for p in preds]
    if thresholds is None:
        thresholds = sorted({_score(s) for p in preds for s in p})
    points = []
    for t in thresholds:
        kept = [[s for s in p if _score(s) >= t] for p in preds]
        points.append({"threshold": t, "span": span_prf(kept, golds),
                       "response": response_prf([bool(k) for k in kept], [bool(g) for g in golds])})
    return points
