"""Semantic support and sampling consistency with the bundled MiniLM encoder (offline)."""
from hallu_core.detectors import DetectItem, get_detector

SOURCE = ("The Eiffel Tower is a wrought-iron lattice tower in Paris. It was completed in 1889. "
          "Gustave Eiffel's company designed and built it.")


def test_semantic_flags_the_unsupported_clause_with_its_best_source_sentence():
    out = "The Eiffel Tower is an iron lattice tower in Paris. Penguins migrate across Antarctica every winter."
    [r] = get_detector("semantic").detect([DetectItem("a", out, source=SOURCE)])
    texts = [out[s.start:s.end] for s in r.spans]
    assert texts == ["Penguins migrate across Antarctica every winter."]
    ev = r.spans[0].evidence
    assert ev["field"] == "source" and SOURCE[ev["start"]:ev["end"]] == ev["text"]


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
    # the overlong output is cut into encoder-sized windows, each scored, none past the end
    assert len(results[3].spans) <= 6


def test_consistency_flags_what_the_other_samples_do_not_say():
    samples = ["The tower was completed in 1889 in Paris.", "Built in Paris, the tower opened in 1889.",
               "Paris got its tower in 1889."]
    out = "The tower was completed in 1889 in Paris. Its architect later moved to Brazil to farm coffee."
    [r] = get_detector("consistency").detect([DetectItem("a", out, samples=samples)])
    assert [out[s.start:s.end] for s in r.spans] == ["Its architect later moved to Brazil to farm coffee."]
    [none] = get_detector("consistency").detect([DetectItem("b", out)])
    assert none.spans == []  # no samples, no opinion
