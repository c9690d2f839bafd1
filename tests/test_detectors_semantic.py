"""Semantic support and sampling consistency with the bundled MiniLM encoder (offline)."""
from collections import Counter

import numpy as np

from hallu_core.detection.detectors import DetectItem, encoder, get_detector
from hallu_core.detection.detectors.encoder import WINDOW_WORDS, windowed
from hallu_core.detection.detectors.text import clauses

SOURCE = ("The Eiffel Tower is a wrought-iron lattice tower in Paris. It was completed in 1889. "
          "Gustave Eiffel's company designed and built it.")


def test_semantic_flags_the_unsupported_clause_and_shows_evidence_only_when_related():
    out = "The Eiffel Tower is an iron lattice tower in Paris. Penguins migrate across Antarctica every winter."
    [r] = get_detector("semantic").detect([DetectItem("a", out, source=SOURCE)])
    texts = [out[s.start:s.end] for s in r.spans]
    assert texts == ["Penguins migrate across Antarctica every winter."]
    # no source sentence is about penguins: the closest one is no evidence, and the note says so
    assert r.spans[0].evidence is None and "no supporting or conflicting passage found" in r.spans[0].note
    related = "The tower was painted bright green by its architect."
    [r] = get_detector("semantic").detect([DetectItem("b", related, source=SOURCE)])
    ev = r.spans[0].evidence
    assert ev["field"] == "source" and SOURCE[ev["start"]:ev["end"]] == ev["text"] == SOURCE.split(". ")[0] + "."


def test_semantic_handles_unicode_empty_no_overlap_and_overlong_output():
    det = get_detector("semantic")
    long_out = " ".join(["Der Turm steht in Paris und ist sehr hoch"] * 60)  # ~540 words, no full stop
    items = [DetectItem("u", "Der Eiffelturm – 1889 fertiggestellt – steht in Paris. 埃菲尔铁塔", source=SOURCE),
             DetectItem("e", "", source=SOURCE),
             DetectItem("n", "Quarterly revenue rose by nine percent.", source="Zebras sleep standing up."),
             DetectItem("l", long_out, source=SOURCE),
             DetectItem("s", "Some text.", source=None)]
    results = det.detect(items)
    assert results[1].spans == [] and results[4].spans == []
    assert results[2].spans and results[2].spans[0].start == 0
    for item, r in zip(items, results):
        assert all(0 <= s.start < s.end <= len(item.output) for s in r.spans)
    # the overlong output (one clause) is cut into consecutive encoder-sized windows, each scored alone
    windows = [(p.start, p.end) for p in windowed(clauses(long_out), long_out)]
    assert len(windows) == 5 and windows[0][0] == 0 and windows[-1][1] == len(long_out)
    assert all(len(long_out[a:b].split()) <= WINDOW_WORDS for a, b in windows)
    assert all(b + 1 == a for (_, b), (a, _) in zip(windows, windows[1:]))
    assert [(s.start, s.end) for s in results[3].spans] == windows  # German, unlike the source: all flagged


def test_each_window_of_an_overlong_clause_is_judged_on_its_own():
    supported = " ".join(["The Eiffel Tower is a wrought iron tower in Paris"] * 12)  # 120 words: one window
    unsupported = " ".join(["Penguins migrate across Antarctica every winter"] * 20)  # the next 120 words
    out = f"{supported} {unsupported}"
    [r] = get_detector("semantic").detect([DetectItem("w", out, source=SOURCE)])
    assert [(s.start, s.end) for s in r.spans] == [(len(supported) + 1, len(out))]


def test_a_full_cache_encodes_each_text_once(monkeypatch):
    model = encoder.load_encoder(None)
    encoded = Counter()
    real_encode = model.encode

    def counting_encode(texts, **kwargs):
        encoded.update(texts)
        return real_encode(texts, **kwargs)

    monkeypatch.setattr(model, "encode", counting_encode)
    monkeypatch.setattr(encoder, "_CACHE", {})
    monkeypatch.setattr(encoder, "CACHE_SIZE", 5)
    first, second = [f"sentence number {i}" for i in range(4)], [f"another line {i}" for i in range(3)]
    encoder.encode(first)
    out = encoder.encode(second + first[:1])  # overflows the cache: it starts afresh, encoding each text once
    assert encoded == Counter(first + second + first[:1])
    assert np.allclose(out[-1], encoder.encode(first[:1])[0])


def test_consistency_flags_what_the_other_samples_do_not_say():
    samples = ["The tower was completed in 1889 in Paris.", "Built in Paris, the tower opened in 1889.",
               "Paris got its tower in 1889."]
    out = "The tower was completed in 1889 in Paris. Its architect later moved to Brazil to farm coffee."
    [r] = get_detector("consistency").detect([DetectItem("a", out, samples=samples)])
    assert [out[s.start:s.end] for s in r.spans] == ["Its architect later moved to Brazil to farm coffee."]
    [none] = get_detector("consistency").detect([DetectItem("b", out)])
    assert none.spans == []  # no samples, no opinion
