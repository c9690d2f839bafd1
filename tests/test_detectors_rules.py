"""Lexical support, self-contradiction and token confidence on hand-written cases."""
from hallu_core.detection.detectors import DetectItem, available_detectors, get_detector
from hallu_core.store.types import Token

SOURCE = "Ada Byron was born in London in 1815. She worked with Charles Babbage on the engine."


def flagged(result, text):
    return [text[s.start:s.end] for s in result.spans]


def test_lexical_flags_a_wrong_year_as_conflict_with_source_evidence():
    out = "Ada Byron was born in London in 1820."
    [r] = get_detector("lexical").detect([DetectItem("a", out, source=SOURCE)])
    [span] = [s for s in r.spans if out[s.start:s.end] == "1820"]
    assert span.type == "conflict" and span.evidence["text"] == "1815"
    assert SOURCE[span.evidence["start"]:span.evidence["end"]] == "1815"
    [clean] = get_detector("lexical").detect([DetectItem("b", "Ada Byron was born in London in 1815.", source=SOURCE)])
    assert r.response_score > clean.response_score  # (calibrated: see test_calibration_maps.py)


def test_lexical_flags_an_unknown_name_as_baseless_and_passes_supported_text():
    out = "She worked with Charles Babbage and Michael Faraday."
    [r] = get_detector("lexical").detect([DetectItem("a", out, source=SOURCE)])
    assert flagged(r, out) == ["Michael Faraday"] and r.spans[0].type == "baseless"
    [clean] = get_detector("lexical").detect([DetectItem("b", "Ada Byron was born in London.", source=SOURCE)])
    assert clean.spans == [] and clean.response_score < r.response_score


def test_lexical_reads_clock_hours_and_unicode():
    src = '{"hours": {"Monday": "11:0-21:0"}, "name": "Café Zoë"}'
    out = "Café Zoë opens Monday from 11 am to 9 pm, and 10 pm on Fridays — naïvely."
    [r] = get_detector("lexical").detect([DetectItem("a", out, source=src)])
    texts = flagged(r, out)
    assert not any("Zoë" in t or "11" in t or t == "9" for t in texts)
    assert any("10" in t for t in texts)
    assert all(0 <= s.start < s.end <= len(out) for s in r.spans)


def test_lexical_without_any_overlap_flags_everything_and_empty_output_nothing():
    det = get_detector("lexical")
    [r] = det.detect([DetectItem("a", "Quantum zebras juggle 42 neutrinos.", source="Le chat dort sur le tapis.")])
    assert r.spans and r.spans[0].start == 0 and r.spans[-1].end == len("Quantum zebras juggle 42 neutrinos")
    assert det.detect([DetectItem("b", "", source=SOURCE)])[0].spans == []


def test_self_contradiction_flags_the_second_value_with_the_first_as_evidence():
    out = "Maria was born in Lisbon. Later in life, she said she was born in Porto."
    [r] = get_detector("self_contradiction").detect([DetectItem("a", out)])
    [span] = r.spans
    assert out[span.start:span.end] == "Porto" and span.type == "self_contradiction"
    assert out[span.evidence["start"]:span.evidence["end"]] == "Lisbon"
    [ok] = get_detector("self_contradiction").detect([DetectItem("b", "Maria was born in Lisbon. She loves Lisbon.")])
    assert ok.spans == []


def test_token_confidence_flags_unlikely_tokens_and_needs_tokens():
    out = "Paris is in Germany."
    tokens = [Token(0, 5, -0.1, 0.5), Token(5, 8, -0.05, 0.2), Token(8, 11, -0.1, 0.3), Token(11, 19, -3.0, 3.0),
              Token(19, 20, -0.01, 0.1)]
    [r] = get_detector("confidence").detect([DetectItem("a", out, tokens=tokens)])
    assert flagged(r, out) == ["Germany"] and r.response_score > 0.9
    assert get_detector("confidence").detect([DetectItem("b", out)])[0].spans == []


def test_registry_names_every_family_and_hashes_configs():
    assert {"lexical", "semantic", "confidence", "consistency", "self_contradiction", "learned", "lettuce", "nli",
            "default"} <= set(available_detectors())
    assert get_detector("lexical").config_hash != get_detector("lexical", max_gap=0).config_hash
    assert get_detector("lexical").config_hash == get_detector("lexical").config_hash
