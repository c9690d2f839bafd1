"""A flag means something: per task, an operating threshold on the calibrated response score (chosen on
the raw scores' ranking, spans kept out of fold; stored with the map) and a skill verdict a page can read
before painting a task's outputs."""
from __future__ import annotations

import numpy as np
import pytest

from hallu_core.detection.detectors import calibrate, operating
from hallu_core.detection.detectors.base import DetectResult
from hallu_core.detection.detectors.calibrate_fit import fit_detector
from hallu_core.store.types import Span


def identity_map(name: str = "x", **extra) -> calibrate.DetectorCalibration:
    return calibrate.DetectorCalibration(name, "f", calibrate.Calibrator("identity"), calibrate.Calibrator("identity"),
                                         0.0, meta={"fitted_on": "test rows"}, **extra)


def test_a_response_under_its_tasks_threshold_is_reported_clean_and_keeps_its_score():
    cal = identity_map(response_thresholds={"": 0.0, "QA": 0.4})
    results = [DetectResult([Span(0, 3, score=0.9)], 0.3), DetectResult([Span(0, 3, score=0.9)], 0.5),
               DetectResult([Span(0, 3, score=0.9)], 0.3)]
    low_qa, high_qa, other = cal.apply(results, ["QA", "QA", "bio"])
    assert low_qa.spans == [] and low_qa.response_score == 0.3  # a clean call still carries its score
    assert len(high_qa.spans) == 1 and len(other.spans) == 1  # "bio" was never fitted: the "" fallback, 0


def test_thresholds_and_skill_survive_the_stored_map_and_a_bad_one_is_refused(tmp_path):
    skill = {"QA": {"n": 40, "positives": 10, "auc": 0.8, "auc_low": 0.64, "skill": True}}
    cal = identity_map(response_thresholds={"": 0.0, "QA": 0.35}, skill=skill)
    again = calibrate.load("x", calibrate.save(cal, tmp_path).parent)
    assert again.response_threshold("QA") == 0.35 and again.skill == skill and again.id == cal.id
    assert identity_map().to_dict().keys() == identity_map().to_dict().keys() - {"response_thresholds", "skill"}
    with pytest.raises(ValueError, match=r"response \(QA\) threshold must be in \[0, 1\], got 1.5"):
        calibrate.DetectorCalibration.from_dict({**cal.to_dict(), "response_thresholds": {"QA": 1.5}})


def _rows(rng, task: str, n: int, rate: float, informative: bool):
    """Responses whose one span's raw score ranks them (or not) by whether they are hallucinated."""
    results, golds, tasks = [], [], []
    for _ in range(n):
        bad = rng.random() < rate
        score = float(np.clip(rng.normal(0.65 if bad and informative else 0.35, 0.12), 0.01, 0.99))
        results.append(DetectResult([Span(0, 5, score=score)], score))
        golds.append([Span(0, 5)] if bad else [])
        tasks.append(task)
    return results, golds, tasks


def test_fitting_flags_each_task_near_its_rate_and_marks_the_one_it_cannot_rank():
    rng = np.random.default_rng(3)
    ranked, random_ = _rows(rng, "QA", 300, 0.2, True), _rows(rng, "Summary", 300, 0.25, False)
    results, golds, tasks = (a + b for a, b in zip(ranked, random_))
    cal, report = fit_detector("x", "f", tasks, results, golds, [str(i % 60) for i in range(len(tasks))], "test rows")
    assert cal.skill["QA"]["skill"] and cal.skill["QA"]["auc"] > 0.8
    assert not cal.skill["Summary"]["skill"]  # flagged at its rate all the same, and marked as no judge
    assert cal.response_threshold("QA") > 0 and cal.response_threshold("bio") == 0.0  # never seen: the fallback
    for task in ("QA", "Summary"):
        at = report["at_response_thresholds"][task]
        assert abs(at["flagged_share"] - at["true_share"]) <= operating.SHARE_TOLERANCE
    qa = [r for r, t in zip(cal.apply(results, tasks), tasks) if t == "QA"]
    assert abs(np.mean([bool(r.spans) for r in qa]) - np.mean([bool(g) for g, t in zip(golds, tasks) if t == "QA"])) < 0.15


def test_skill_says_why_a_task_has_no_reliable_judge(tmp_path, monkeypatch):
    monkeypatch.setattr(calibrate, "MAP_DIR", tmp_path)
    skill = {"QA": operating.task_skill([0.9, 0.8, 0.7, 0.6, 0.5, 0.4] * 5, [1, 1, 0, 0, 0, 0] * 5),
             "Summary": operating.task_skill([0.5, 0.4, 0.6, 0.5] * 10, [1, 0, 0, 1] * 10),
             "Data2txt": operating.task_skill([0.9, 0.1, 0.2], [1, 0, 0])}
    calibrate.save(identity_map("lexical", skill=skill))
    qa, summary, data2txt = (operating.detector_skill("lexical", t) for t in ("QA", "Summary", "Data2txt"))
    assert qa["skill"] and qa["auc"] == 1.0 and "30 labeled outputs" in qa["reason"]
    assert not summary["skill"] and "not clearly above chance" in summary["reason"]
    assert not data2txt["skill"] and "too few labeled outputs of each kind" in data2txt["reason"]
    mine = operating.detector_skill("lexical", "my_task")
    assert not mine["skill"] and mine["auc"] is None and "never measured on task 'my_task'" in mine["reason"]
    assert not operating.detector_skill("semantic", "QA")["skill"]  # no map at all


def test_auc_interval_needs_more_than_a_handful_to_clear_chance():
    assert operating.auc([0.1, 0.2, 0.3, 0.9], [0, 0, 1, 1]) == 1.0
    assert operating.auc([0.5, 0.5], [0, 1]) == 0.5 and operating.auc([0.1], [1]) is None
    assert operating.auc_low(0.65, 10, 50) < 0.5 < operating.auc_low(0.65, 100, 400)


def test_detect_file_gives_every_response_its_score_and_flags_qa_near_its_rate(tmp_path, ragtruth_path):
    """What a rate estimator reads from a file run: a calibrated score on every line, clean or flagged; and
    the shipped lexical map flags the dev slice's QA answers near their rate, not all of them."""
    import json

    from hallu_core.detection.detectors.filemode import detect_file, read_records

    out = tmp_path / "pred.jsonl"
    detect_file(ragtruth_path, "lexical", out)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert all(0 <= line["response_score"] <= 1 for line in lines)
    assert any(not line["spans"] and line["response_score"] > 0 for line in lines)  # clean, not scoreless
    qa = [line for line, r in zip(lines, read_records(ragtruth_path)) if r.task == "QA"]
    assert 0.05 < sum(bool(line["spans"]) for line in qa) / len(qa) < 0.35  # QA's rate on the dev slice: 18%
