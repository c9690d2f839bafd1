"""Evidence only when real: each detector points at the passage a span conflicts with or was
compared with, or at nothing (and says so); a human label keeps only such a passage."""
from __future__ import annotations

from hallu_core.detection.detectors import DetectItem, get_detector
from hallu_core.detection.detectors.evidence import NONE_FOUND, real_passage
from hallu_core.labeling import suggestions
from hallu_core.store.types import Checkpoint, Detection, Example, Generation, Run, Span

BIO = "Name: Sarbel Eltam\nBorn: 1994 in Drennick\nProfession: journalist\nEmployer: Tidewater Surveys"
BIO_REF = "Sarbel Eltam was born in the city of Drennick in 1994. Sarbel Eltam is employed by Tidewater Surveys."


def lexical(output: str, **fields):
    det = get_detector("lexical")
    det.use_calibration = False  # evidence, not scores, is under test
    [r] = det.detect([DetectItem("a", output, **fields)])
    return {output[s.start:s.end]: s for s in r.spans}


def assert_reads_true(span, fields):
    ev = span.evidence
    assert fields[ev["field"]][ev["start"]:ev["end"]] == ev["text"]


def test_a_wrong_year_points_at_the_sources_year_not_at_a_neighbouring_name():
    out = "Born in Varesh in 1987, Bretam Eltam Ulra grew up there."
    spans = lexical(out, source=BIO, reference=BIO_REF)
    year = spans["1987"]
    assert year.type == "conflict" and year.evidence["text"] == "1994"
    assert year.evidence["relation"] == "conflicting value"
    assert_reads_true(year, {"source": BIO, "reference": BIO_REF})
    # the place could be Drennick or the name Sarbel (both sit by "born" and "Eltam"): ambiguous, so no evidence
    assert spans["Varesh"].evidence is None and NONE_FOUND in spans["Varesh"].note
    # "Bretam Eltam" vs the record's "Sarbel Eltam": the same slot, a real rival name
    assert spans["Bretam"].evidence["text"] == "Sarbel"
    assert_reads_true(spans["Bretam"], {"source": BIO, "reference": BIO_REF})
    assert spans["Ulra grew"].evidence is None  # no source name sits where "Ulra" does


def test_a_conflict_keeps_its_own_span_and_evidence_when_neighbours_merge():
    src = "Ada Byron was born in London in 1815."
    out = "Ada Byron was born in Paris in 1820 with great fanfare."
    spans = lexical(out, source=src)
    assert spans["1820"].evidence["text"] == "1815" and spans["Paris"].evidence["text"] == "London"
    # baseless words after it merge, but never take a conflict's evidence with them
    assert all(s.evidence is None for t, s in spans.items() if t not in ("1820", "Paris"))


def test_a_value_in_a_list_is_baseless_not_in_conflict_with_its_neighbours():
    src = "Ada Byron was born in London in 1815. She worked with Charles Babbage on the engine."
    spans = lexical("She worked with Charles Babbage and Michael Faraday.", source=src)
    assert list(spans) == ["Michael Faraday"]
    assert spans["Michael Faraday"].type == "baseless" and spans["Michael Faraday"].evidence is None


def test_evidence_found_in_the_reference_has_offsets_into_the_reference():
    ref = "The bridge opened in 1932 after six years of work."
    spans = lexical("The bridge opened in 1941 after six years of work.", source="A bridge story.", reference=ref)
    ev = spans["1941"].evidence
    assert ev["field"] == "reference" and ref[ev["start"]:ev["end"]] == "1932"


def test_self_contradiction_evidence_is_the_earlier_value_in_the_output():
    out = "Maria was born in Lisbon. Later in life, she said she was born in Porto."
    [r] = get_detector("self_contradiction").detect([DetectItem("a", out)])
    ev = r.spans[0].evidence
    assert ev["relation"] == "earlier value" and out[ev["start"]:ev["end"]] == "Lisbon" and ev["field"] == "output"


def test_real_passage_needs_a_relation_and_the_same_text_at_its_offsets():
    texts = {"source": "Born: 1994 in Drennick", "output": "x"}
    good = {"text": "1994", "start": 6, "end": 10, "field": "source", "relation": "conflicting value"}
    assert real_passage(good, texts) is good
    assert real_passage({**good, "relation": None}, texts) is None  # made before evidence was checked
    assert real_passage({**good, "start": 0, "end": 4}, texts) is None  # offsets no longer read the text
    assert real_passage({**good, "field": "grounding"}, texts) is None
    assert real_passage({"logprob": -3.2}, texts) is None and real_passage(None, texts) is None


def _workspace(store, spans: list[Span]) -> None:
    store.add_examples([Example("e1", "bio", "Write a bio.", source=BIO, reference=BIO_REF, task="bio")])
    store.add_run(Run("r", "run", "tiny"))
    store.add_checkpoint(Checkpoint("c", "r", 1, "step-1"))
    store.add_generations([Generation("g", "e1", "c", "Born in Varesh in 1987, Bretam Eltam Ulra grew up there.")])
    store.add_detections([Detection("g", "lexical", "h", spans, 0.9)])


def test_accepting_a_span_keeps_real_evidence_and_drops_a_stray_word(store):
    real = Span(18, 22, "conflict", 0.9, {"text": "1994", "start": 25, "end": 29, "field": "source",
                                          "relation": "conflicting value"})
    # what the old lexical detector stored: "1987" merged with a name, evidence a word of the grounding
    stray = Span(8, 14, "conflict", 0.9, {"text": "Sarbel", "start": 93, "end": 99, "field": "grounding"})
    _workspace(store, [real, stray])
    suggestions.accept_detector_span(store, "g", "ann", "lexical", real)
    label = suggestions.accept_detector_span(store, "g", "ann", "lexical", stray)
    by_start = {s.start: s for s in label.spans}
    assert by_start[18].evidence == real.evidence and BIO[25:29] == "1994"
    assert by_start[8].evidence is None and by_start[8].detector == "lexical"
