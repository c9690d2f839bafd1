"""Detector calibration: monotone maps into [0, 1], recovered on synthetic data, applied inside detect()."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hallu_core.detection.detectors import DetectItem, calibrate, get_detector
from hallu_core.detection.detectors.base import DetectResult
from hallu_core.store.types import Span

SOURCE = "Ada Byron was born in London in 1815. She worked with Charles Babbage on the engine."


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_platt_recovers_a_known_logistic_mapping():
    rng = np.random.default_rng(0)
    s = rng.uniform(0.01, 0.99, 6000)
    p = _sigmoid(2.0 * np.log(s / (1 - s)) - 1.0)
    cal = calibrate.fit(s, rng.random(len(s)) < p, method="platt")
    assert cal.kind == "platt" and abs(cal.a - 2.0) < 0.2 and abs(cal.b + 1.0) < 0.15
    grid = np.linspace(0.02, 0.98, 50)
    assert np.abs(cal.apply(grid) - _sigmoid(2.0 * np.log(grid / (1 - grid)) - 1.0)).max() < 0.04


def test_isotonic_recovers_a_known_step_mapping_and_auto_picks_it_for_many_labels():
    rng = np.random.default_rng(1)
    s = rng.uniform(0, 1, 20000)
    p = np.where(s < 0.3, 0.1, np.where(s < 0.7, 0.5, 0.9))
    cal = calibrate.fit(s, rng.random(len(s)) < p)
    assert cal.kind == "isotonic"
    assert np.allclose(cal.apply(np.array([0.15, 0.5, 0.85])), [0.1, 0.5, 0.9], atol=0.03)
    assert calibrate.fit(s[:50], (rng.random(50) < p[:50])).kind == "platt"  # few labels: no step function


def test_fractional_targets_give_the_expected_share():
    # every span scored 0.8 is 30% hallucinated characters: its calibrated score is 0.3
    cal = calibrate.fit([0.8] * 40 + [0.2] * 40, [0.3] * 40 + [0.05] * 40, method="isotonic")
    assert cal.apply(0.8) == pytest.approx(0.3) and cal.apply(0.2) == pytest.approx(0.05)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=300),
       st.sampled_from(["platt", "isotonic", "auto"]))
def test_any_fitted_map_is_monotone_and_inside_0_1(rows, method):
    scores, targets = zip(*rows)
    cal = calibrate.fit(scores, targets, method=method)
    grid = np.r_[-3.0, np.linspace(0, 1, 101), 4.0]
    out = cal.apply(grid)
    assert ((0 <= out) & (out <= 1)).all() and (np.diff(out) >= -1e-12).all()
    again = calibrate.Calibrator.from_dict(cal.to_dict())
    assert np.array_equal(again.apply(grid), out)  # what is stored maps exactly as what was fitted


def test_anticorrelated_scores_give_the_base_rate_not_a_flipped_curve():
    cal = calibrate.fit([0.1] * 30 + [0.9] * 30, [1] * 30 + [0] * 20 + [1] * 10, method="platt")
    assert cal.a == 0 and cal.apply(0.1) == pytest.approx(cal.apply(0.9)) == pytest.approx(40 / 60, abs=1e-3)


def test_stored_maps_that_are_not_monotone_are_refused():
    with pytest.raises(ValueError, match="non-decreasing"):
        calibrate.Calibrator.from_dict({"kind": "isotonic", "xs": [0, 1], "ys": [0.9, 0.1]})
    with pytest.raises(ValueError, match="slope"):
        calibrate.Calibrator.from_dict({"kind": "platt", "a": -1, "b": 0})


def test_span_target_is_the_share_of_gold_characters():
    assert calibrate.span_target(Span(0, 10), [Span(5, 20)]) == 0.5
    assert calibrate.span_target(Span(0, 10), [Span(0, 3), Span(2, 4)]) == 0.4  # overlaps counted once
    assert calibrate.span_target(Span(0, 10), []) == 0.0


def _map(detector, threshold: float, span=None, response=None) -> calibrate.DetectorCalibration:
    det = get_detector(detector)
    det.use_calibration = False
    return calibrate.DetectorCalibration(detector, det.fingerprint(), span or calibrate.Calibrator("identity"),
                                         response or calibrate.Calibrator("identity"), threshold)


def test_a_detector_never_reports_a_span_below_its_threshold(tmp_path, monkeypatch):
    monkeypatch.setattr(calibrate, "MAP_DIR", tmp_path)
    out = "Ada Byron was born in Paris in 1820 and liked quiet gardens."
    raw_det = get_detector("lexical")
    raw_det.use_calibration = False
    [raw] = raw_det.detect([DetectItem("a", out, source=SOURCE)])
    assert {s.score for s in raw.spans} == {0.9, 0.75, 0.45}  # numbers, names, words
    calibrate.save(_map("lexical", 0.5, span=calibrate.Calibrator("platt", a=1.0, b=0.0)))
    det = get_detector("lexical")
    assert det.calibrated_threshold == 0.5 and det.config_hash != raw_det.config_hash
    [r] = det.detect([DetectItem("a", out, source=SOURCE)])
    assert r.spans and all(s.score >= 0.5 for s in r.spans)
    assert len(r.spans) < len(raw.spans)  # the 0.45 word span was dropped, not shown under the threshold
    assert all(s.raw_score in (0.9, 0.75) for s in r.spans)


def test_a_map_fitted_on_another_scorer_is_not_applied(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(calibrate, "MAP_DIR", tmp_path)
    stale = _map("lexical", 0.99)
    calibrate.save(calibrate.DetectorCalibration("lexical", "another-scorer", stale.span, stale.response, 0.99))
    det = get_detector("lexical")
    [r] = det.detect([DetectItem("a", "Born in 1820.", source=SOURCE)])
    assert det.calibration is None and r.spans and r.spans[0].raw_score is None
    assert "fitted on another scorer" in caplog.text


def test_calibration_is_applied_once_and_per_task():
    cal = calibrate.DetectorCalibration(
        "x", "f", calibrate.Calibrator("identity"), calibrate.Calibrator("platt", a=0.0, b=0.0), 0.2,
        {"QA": calibrate.Calibrator("platt", a=0.0, b=float(np.log(0.1 / 0.9)))})
    results = [DetectResult([Span(0, 3, score=0.6)], 0.6), DetectResult([Span(0, 3, score=0.6)], 0.6)]
    qa, other = cal.apply(results, ["QA", "Summary"])
    assert qa.spans == [] and qa.response_score == 0.5  # QA's map puts the span at 0.1, under 0.2
    assert other.spans[0].score == 0.6 and other.spans[0].raw_score == 0.6


@pytest.mark.parametrize("name", sorted(p.stem for p in calibrate.MAP_DIR.glob("*.json")))
def test_shipped_maps_load_and_report_nothing_under_their_threshold(name):
    cal = calibrate.load(name)
    assert 0 <= cal.threshold <= 1 and cal.meta.get("fitted_on", "").startswith("RAGTruth dev slice, tuning part")
    grid = np.linspace(0, 1, 201)
    for m in [cal.span, cal.response, *cal.span_by_task.values()]:
        out = m.apply(grid)
        assert ((0 <= out) & (out <= 1)).all() and (np.diff(out) >= 0).all()


def test_shipped_detectors_report_nothing_under_their_own_threshold_on_ragtruth_rows(ragtruth_path):
    from hallu_core.detection.detectors.filemode import items_from_records, read_records

    records = read_records(ragtruth_path)
    items = items_from_records([r for task in ("QA", "Summary", "Data2txt") for r in records if r.task == task][::10])
    for name in ("lexical", "record"):  # the fast detectors that ship a map
        det = get_detector(name)
        if det.calibration is None:
            pytest.skip(f"{name} ships no calibration map")
        results = det.detect(items)
        spans = [s for r in results for s in r.spans]
        assert spans and all(det.calibrated_threshold <= s.score <= 1 and s.raw_score is not None for s in spans)
        assert all(0 <= r.response_score <= 1 for r in results)
