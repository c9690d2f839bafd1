"""The learned detector trains in seconds, flags what its labels taught it, and round-trips."""
import random

import pytest

from hallu_core.detection.detectors import DetectItem, get_detector
from hallu_core.detection.detectors.learned import LearnedDetector
from hallu_core.store.types import Span

CITIES = ["Lisbon", "Oslo", "Cairo", "Lima", "Hanoi", "Quito", "Dakar", "Riga"]


def make_items(n=40, seed=0):
    rng = random.Random(seed)
    items, golds = [], []
    for i in range(n):
        city, wrong = rng.sample(CITIES, 2)
        year = rng.randint(1900, 1990)
        source = f"Person {i} was born in {city} in {year}. They work as a baker."
        bad = i % 2 == 0
        out = f"Person {i} was born in {wrong if bad else city} in {year}. They work as a baker."
        items.append(DetectItem(str(i), out, source=source, task="QA"))
        start = out.index(wrong) if bad else 0
        golds.append([Span(start, start + len(wrong), "conflict")] if bad else [])
    return items, golds


def test_learned_detector_learns_from_labels_and_round_trips(tmp_path):
    items, golds = make_items()
    det = LearnedDetector().fit(items, golds)
    test_items, test_golds = make_items(10, seed=1)
    results = det.detect(test_items)
    hits = [bool(r.spans) == bool(g) for r, g in zip(results, test_golds)]
    assert sum(hits) >= 8
    bad = results[0]
    assert any(s.start <= test_golds[0][0].start < s.end for s in bad.spans)
    det.save(tmp_path)
    assert (tmp_path / "learned.json").read_text().startswith("{")  # plain JSON, no pickle
    again = LearnedDetector.load(tmp_path).detect(test_items)
    assert [r.spans for r in again] == [r.spans for r in results]
    assert [r.response_score for r in again] == pytest.approx([r.response_score for r in results])


def test_as_a_member_of_default_every_output_gets_word_spans_and_keeps_its_gate_score():
    items, golds = make_items()
    det = LearnedDetector().fit(items, golds)
    test_items, _ = make_items(10, seed=1)
    alone = det.detect(test_items)
    assert any(not r.spans for r in alone)  # its own gate calls some outputs clean
    det.operate = False  # how default runs it: default's operating threshold decides
    member = det.detect(test_items)
    assert all(r.spans for r in member)
    assert [r.response_score for r in member] == pytest.approx([r.response_score for r in alone])


def test_untrained_learned_detector_says_so():
    with pytest.raises(RuntimeError, match="not trained"):
        LearnedDetector().detect([DetectItem("a", "x")])


def test_default_detector_runs_on_edge_cases():
    det = get_detector("default")
    items = [DetectItem("e", "", source="Some source.", task="Summary"),
             DetectItem("u", "Zoë’s café — ☕ opened in 2031.", source="Zoë runs a café since 2001.", task="Data2txt")]
    results = det.detect(items)
    assert results[0].spans == []
    assert all(0 <= s.start < s.end <= len(items[1].output) for s in results[1].spans)


def test_default_reports_record_claims_with_the_record_as_evidence():
    source = ('{"name": "Café Zoë", "hours": {"Tuesday": "11:0-21:0"},\n'
              ' "attributes": {"WiFi": "no", "OutdoorSeating": true}}')
    out = "Café Zoë offers outdoor seating and free WiFi."
    [result] = get_detector("default").detect([DetectItem("r", out, source=source, task="Data2txt")])
    [claim] = [s for s in result.spans if "WiFi" in out[s.start:s.end]]
    assert claim.type == "conflict" and source[claim.evidence["start"]:claim.evidence["end"]] == '"WiFi": "no"'
    assert not any("outdoor" in out[s.start:s.end] for s in result.spans)
    assert result.response_score >= claim.score
