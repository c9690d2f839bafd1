"""Metrics against hand-computed numbers (DESIGN.md's protocol)."""
import pytest

from hallu_core.detection.metrics import evaluate, response_prf, response_sweep, span_prf, span_sweep
from hallu_core.store.types import Span


def test_response_level_counts_the_positive_class():
    # pred: T T F F, gold: T F T F -> tp 1, 2 predicted, 2 gold
    r = response_prf([True, True, False, False], [True, False, True, False])
    assert (r["tp"], r["predicted"], r["gold"]) == (1, 2, 2)
    assert r["precision"] == r["recall"] == r["f1"] == pytest.approx(0.5)


def test_span_level_sums_overlapping_characters_over_the_set():
    preds = [[Span(0, 10)], [(0, 4)], []]
    golds = [[Span(5, 15)], [], [{"start": 0, "end": 6}]]
    r = span_prf(preds, golds)
    # overlap 5; predicted 10 + 4 = 14; gold 10 + 6 = 16
    assert (r["overlap_chars"], r["predicted_chars"], r["gold_chars"]) == (5, 14, 16)
    assert r["precision"] == pytest.approx(5 / 14) and r["recall"] == pytest.approx(5 / 16)
    assert r["f1"] == pytest.approx(2 * (5 / 14) * (5 / 16) / (5 / 14 + 5 / 16))


def test_overlapping_spans_count_each_character_once():
    # the case: one gold character range marked twice must not give precision 1.5
    r = span_prf([[(0, 10)]], [[(0, 10), (5, 10)]])
    assert (r["overlap_chars"], r["predicted_chars"], r["gold_chars"]) == (10, 10, 10)
    assert r["precision"] == r["recall"] == r["f1"] == 1.0
    r = span_prf([[(0, 10), (5, 10), (8, 14)]], [[(12, 20)]])
    assert (r["overlap_chars"], r["predicted_chars"], r["gold_chars"]) == (2, 14, 8)


def test_empty_sets_give_zero_not_an_error():
    assert span_prf([[]], [[]])["f1"] == 0.0
    assert response_prf([], [])["f1"] == 0.0


def test_evaluate_splits_by_task_and_overall():
    preds = [[(0, 2)], [], [(0, 3)]]
    golds = [[(0, 2)], [(0, 1)], []]
    ev = evaluate(preds, golds, ["QA", "QA", "Summary"])
    assert ev["overall"]["n"] == 3 and set(ev["by_task"]) == {"QA", "Summary"}
    assert ev["by_task"]["QA"]["response"]["precision"] == 1.0
    assert ev["by_task"]["QA"]["response"]["recall"] == 0.5
    assert ev["by_task"]["Summary"]["span"]["precision"] == 0.0
    assert ev["overall"]["span"]["overlap_chars"] == 2


def test_sweeps_trade_precision_for_recall():
    points = response_sweep([0.9, 0.6, 0.2], [True, False, True], thresholds=[0.1, 0.5, 0.95])
    assert [p["recall"] for p in points] == [1.0, 0.5, 0.0]
    spans = span_sweep([[Span(0, 5, score=0.9), Span(5, 10, score=0.3)]], [[(0, 5)]], thresholds=[0.2, 0.5])
    assert spans[0]["span"]["precision"] == 0.5 and spans[1]["span"]["precision"] == 1.0
