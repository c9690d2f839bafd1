"""threshold_counts: the Detectors page's figures at any threshold from one pass over the pairs.

The page shows them instead of evaluation's pass-per-threshold figures (minutes at 166,000
labeled outputs), so every figure must be the very same: overlapping spans, equal scores,
empty spans, unlabeled-clean outputs, several checkpoints, raw and calibrated scores.
"""
from __future__ import annotations

import random

import pytest

from hallu_core.detection import evaluation
from hallu_core.detection.threshold_counts import ThresholdCounts
from hallu_core.store.types import Span

CHECKPOINTS = [("c-b", "run-b / step-5", 5), ("c-a0", "run-a / base", 0), ("c-a1", "run-a / step-10", 10)]


def random_pairs(seed: int, n: int = 400, raw: bool | None = None) -> list[dict]:
    rng = random.Random(seed)
    scores = [0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0]  # few distinct scores: ties within one output too

    def spans(k: int, scored: bool) -> list[Span]:
        out = []
        for _ in range(k):
            start = rng.randrange(0, 60)
            end = start + rng.choice([0, 1, 3, 8, 20])  # empty spans count as spans but have no characters
            raw_score = None if raw is False or (raw is None and rng.random() < 0.5) else rng.random()
            out.append(Span(start, end, "conflict", rng.choice(scores) if scored else 1.0,
                            raw_score=raw_score if scored else None))
        return out

    pairs = []
    for i in range(n):
        ckpt_id, label, step = rng.choice(CHECKPOINTS)
        pairs.append({"generation_id": f"g{i}", "checkpoint_id": ckpt_id, "checkpoint": label, "step": step,
                      "task": "qa", "pred": spans(rng.choice([0, 0, 1, 2, 4]), True),
                      "gold": spans(rng.choice([0, 0, 1, 3]), False), "response_score": None})
    return pairs


@pytest.mark.parametrize("seed", range(4))
def test_every_figure_equals_the_pass_per_threshold(seed):
    pairs = random_pairs(seed)
    counts = ThresholdCounts.from_pairs(pairs)
    for threshold in (0.0, 0.1, 0.3, 0.5, 0.75, 0.9, 1.0, 1.5):
        assert counts.figures(threshold) == evaluation.figures(pairs, threshold)
        assert counts.per_checkpoint(threshold) == evaluation.per_checkpoint(pairs, threshold)
    assert counts.pr_curve() == evaluation.pr_curve(pairs)
    assert counts.n == len(pairs) and counts.generation_ids == tuple(p["generation_id"] for p in pairs)


def test_a_curve_thinned_to_its_sixty_points_matches_too():
    rng = random.Random(7)
    pairs = random_pairs(7, n=300)
    for p in pairs:  # hundreds of distinct scores: the sweep keeps 60 of them
        p["pred"] = [Span(s.start, s.end, s.type, round(rng.random(), 4)) for s in p["pred"]]
    curve = ThresholdCounts.from_pairs(pairs).pr_curve()
    assert len(curve) == evaluation.MAX_SWEEP_POINTS
    assert curve == evaluation.pr_curve(pairs)


def test_the_scale_says_whether_scores_are_calibrated():
    assert ThresholdCounts.from_pairs(random_pairs(1, raw=False)).scale == "raw"
    calibrated = random_pairs(1, raw=True)
    assert ThresholdCounts.from_pairs(calibrated).scale == "calibrated"
    assert ThresholdCounts.from_pairs([{**p, "pred": []} for p in calibrated]).scale == ""
    empty = ThresholdCounts.from_pairs([])
    assert empty.figures(0.5) == evaluation.figures([], 0.5) and empty.pr_curve() == evaluation.pr_curve([])
