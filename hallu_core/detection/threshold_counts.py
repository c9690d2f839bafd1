"""A detector's figures at any threshold from one pass over its labeled pairs (the Detectors page).

A threshold keeps the spans scoring at least it, so as the threshold falls a response's kept
spans grow one score level at a time. One pass records, for each response and each distinct
score of its spans, how the response's counts change when that level is kept: overlapping and
predicted characters (metrics.span_counts of the kept spans), and whether it turns positive.
Figures at a threshold are then sums of the changes at or above it (a cumulative sum and a
binary search) instead of a pass over every pair per threshold: the PR curve's 60 thresholds
over 166,000 pairs took minutes. Integer counts and the same arithmetic (metrics.prf), so the
figures equal evaluation.figures, pr_curve and per_checkpoint exactly (tests/test_threshold_counts.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hallu_core.detection import metrics
from hallu_core.detection.evaluation import MAX_SWEEP_POINTS, checkpoint_order, flat, thinned

_CHANGES = ("overlap", "predicted_chars", "positive", "tp")  # per score level, summed over responses
RAW_SCORE, NO_RAW_SCORE = 1, 2


@dataclass(frozen=True, slots=True)
class Pair:
    """One labeled output's part of the counts: per distinct score of its spans, high to low, the
    _CHANGES when that level is kept; its gold characters; whether its spans carry a raw score (bits:
    RAW_SCORE for a span with one, NO_RAW_SCORE for one without; an int, as 166,000 of them are kept)."""
    generation_id: str
    checkpoint_id: str
    levels: tuple[tuple[float, int, int, int, int], ...]  # (score, *_CHANGES)
    gold_chars: int
    gold_positive: bool
    raw_flags: int

    @classmethod
    def of(cls, generation_id: str, checkpoint_id: str, pred: list, gold: list) -> Pair:
        pred = sorted(pred, key=lambda s: -s.score)
        levels, before, opened = [], (0, 0), 0
        for i, span in enumerate(pred):
            if i + 1 < len(pred) and pred[i + 1].score == span.score:
                continue  # spans of equal score are kept together
            overlap, chars, _ = metrics.span_counts(pred[:i + 1], gold)
            turns = 1 - opened  # the first level kept makes the response positive
            levels.append((float(span.score), overlap - before[0], chars - before[1], turns, turns * bool(gold)))
            before, opened = (overlap, chars), 1
        flags = 0
        for span in pred:
            flags |= RAW_SCORE if span.raw_score is not None else NO_RAW_SCORE
        return cls(generation_id, checkpoint_id, tuple(levels), metrics.span_counts((), gold)[2], bool(gold), flags)


@dataclass(frozen=True)
class ThresholdCounts:
    n: int
    scores: np.ndarray  # one entry per (response, distinct span score), ascending
    group: np.ndarray  # the response's checkpoint (index into `checkpoints`), per entry
    changes: np.ndarray  # (entries, 4): the _CHANGES when that score level is kept
    kept: np.ndarray  # (entries + 1, 4): kept[i] = changes[i:] summed, the totals at the i-th score
    gold: np.ndarray  # (checkpoints, 3): responses, gold characters, gold-positive responses
    checkpoints: tuple[tuple[str, str, object], ...]  # (checkpoint id, "run / checkpoint", step), in pair order
    scale: str  # thresholds.scale of the spans: "calibrated", "raw" or "" (no spans)
    generation_ids: tuple[str, ...]

    @classmethod
    def from_pairs(cls, pairs: list[dict]) -> ThresholdCounts:
        """From evaluation.labeled_pairs' pairs (pred, gold, checkpoint_id, checkpoint, step)."""
        names = {p["checkpoint_id"]: (p["checkpoint"], p["step"]) for p in pairs}
        return cls.assemble([Pair.of(p["generation_id"], p["checkpoint_id"], p["pred"], p["gold"]) for p in pairs],
                            names)

    @classmethod
    def assemble(cls, pairs: list[Pair], names: dict[str, tuple[str, object]]) -> ThresholdCounts:
        """From each pair's levels (Pair.of), in pair order, with each checkpoint's ("run / checkpoint", step);
        a pair of a checkpoint not in `names` is left out (live_counts.py keeps pairs between writes)."""
        index: dict[str, int] = {}
        checkpoints, gold, raw_flags, generation_ids = [], [], 0, []
        scores, groups, changes = [], [], []
        for p in pairs:
            g = index.get(p.checkpoint_id)
            if g is None:
                if p.checkpoint_id not in names:
                    continue
                g = index[p.checkpoint_id] = len(checkpoints)
                checkpoints.append((p.checkpoint_id, *names[p.checkpoint_id]))
                gold.append([0, 0, 0])
            generation_ids.append(p.generation_id)
            gold[g][0] += 1
            gold[g][1] += p.gold_chars
            gold[g][2] += p.gold_positive
            raw_flags |= p.raw_flags
            for level in p.levels:
                scores.append(level[0])
                groups.append(g)
                changes.append(level[1:])
        order = np.argsort(np.asarray(scores, dtype=float), kind="stable")
        changes = np.asarray(changes, dtype=np.int64).reshape(-1, len(_CHANGES))[order]
        kept = np.zeros((len(order) + 1, len(_CHANGES)), dtype=np.int64)
        kept[:-1] = np.cumsum(changes[::-1], axis=0)[::-1]
        return cls(n=len(generation_ids), scores=np.asarray(scores, dtype=float)[order],
                   group=np.asarray(groups, dtype=np.int64)[order], changes=changes, kept=kept,
                   gold=np.array(gold, dtype=np.int64).reshape(-1, 3), checkpoints=tuple(checkpoints),
                   scale="calibrated" if raw_flags == RAW_SCORE else "raw" if raw_flags else "",
                   generation_ids=tuple(generation_ids))

    def _totals(self, threshold: float, group: int | None) -> tuple[list[int], list[int]]:
        start = int(np.searchsorted(self.scores, threshold, side="left"))  # entries scoring at least it
        if group is None:
            return self.kept[start].tolist(), self.gold.sum(axis=0).tolist()
        changes = self.changes[start:]
        return changes[self.group[start:] == group].sum(axis=0).tolist(), self.gold[group].tolist()

    def figures(self, threshold: float = 0.0, group: int | None = None) -> dict:
        """evaluation.figures of all the pairs, or of one checkpoint's (an index into `checkpoints`)."""
        (overlap, predicted_chars, positive, tp), (n, gold_chars, gold_positive) = self._totals(threshold, group)
        return {"n": n, "threshold": threshold,
                "response": {**metrics.prf(tp, positive, gold_positive), "tp": tp, "predicted": positive,
                             "gold": gold_positive},
                "span": {**metrics.prf(overlap, predicted_chars, gold_chars), "overlap_chars": overlap,
                         "predicted_chars": predicted_chars, "gold_chars": gold_chars}}

    def pr_curve(self) -> list[dict]:
        """evaluation.pr_curve: one point per threshold (the distinct span scores, thinned, with 0)."""
        points = []
        for t in thinned(sorted({0.0, *self.scores.tolist()}), MAX_SWEEP_POINTS):
            fig = self.figures(t)
            points.append({"threshold": t, **{f"{level}_{k}": fig[level][k] for level in ("span", "response")
                                              for k in ("precision", "recall", "f1")}})
        return points

    def per_checkpoint(self, threshold: float = 0.0) -> list[dict]:
        """evaluation.per_checkpoint: one row per checkpoint, by run name and step."""
        rows = [{"checkpoint": label, "step": step, **flat(self.figures(threshold, g))}
                for g, (_, label, step) in enumerate(self.checkpoints)]
        return sorted(rows, key=checkpoint_order)
