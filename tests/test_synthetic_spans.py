"""The synthetic hallucination generator: its spans are exactly where the perturbation is."""
import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from hallu_core.detection.detectors.synthetic_spans import KINDS, Pools, apply_edits, perturb, synthesize

PIECES = ["The museum", "is", "was not", "open", "more", "than", "1,250", "visitors", "in", "March", "1998",
          "and", "Maria Lopez", "said", "it", "can", "be", "higher", "on", "Monday", ",", "Zoë", "café", "3.5",
          "stars", "does not", "offer", "free", "parking", "before", "Paris"]
POOLS = Pools(names=["Anna Berg", "Tokyo", "Helmut Kohl"],
              sentences_by_task={"QA": [("other", "The river floods every spring."),
                                        ("s1", "A sentence of the row's own source.")]},
              record_values={"city": ["Springfield", "Shelbyville"]})


@st.composite
def texts(draw):
    words = draw(st.lists(st.sampled_from(PIECES), min_size=3, max_size=25))
    sentences = " ".join(words).replace(" ,", ",")
    return sentences + draw(st.sampled_from([".", ". It is open.", "! More later.", ""]))


@settings(max_examples=200, deadline=None)
@given(text=texts(), seed=st.integers(0, 10_000), kinds=st.permutations(KINDS), want=st.integers(1, 3))
def test_spans_are_exactly_the_perturbed_characters(text, seed, kinds, want):
    row = {"source_id": "s1", "task_type": "QA", "source": json.dumps({"city": "Paris", "note": "open in March"})}
    edits, done = perturb(text, row, random.Random(seed), POOLS, tuple(kinds), want)
    assert len(edits) == len(done) <= want
    new, spans = apply_edits(text, edits)
    # walking both texts: outside the spans they are the same characters, inside are the edits' strings
    pos_old, pos_new = 0, 0
    for (start, end, replacement), (s, e) in zip(sorted(edits), spans):
        lead = len(replacement) - len(replacement.lstrip())
        assert new[pos_new:s - lead] == text[pos_old:start]
        assert new[s:e] == replacement.strip() and new[s:e]
        assert new[s:e] != text[start:end]  # a perturbation always changes what the span covers
        pos_old, pos_new = end, e + (len(replacement) - lead - len(replacement.strip()))
    assert new[pos_new:] == text[pos_old:]


def test_overlapping_edits_are_refused():
    import pytest

    with pytest.raises(ValueError, match="overlapping"):
        apply_edits("abcdef", [(0, 3, "x"), (2, 4, "y")])


def rows():
    source = "Question: when did it open?\n\nPassages:\nThe museum opened in March 1998 with 1,250 visitors. " \
             "Maria Lopez runs it. It is not open on Monday. Tickets are cheap and parking is free."
    return [{"id": f"r{i}", "source_id": f"s{i % 3}", "task_type": "QA", "source": source, "question": "when?",
             "response": "The museum opened in March 1998. Maria Lopez said it is not open on Monday; tickets are cheap.",
             "labels": [] if i % 2 else [{"start": 0, "end": 3}]} for i in range(6)]


def test_synthesis_is_reproducible_and_every_example_carries_exact_spans():
    first, again = synthesize(rows(), seed=3), synthesize(rows(), seed=3)
    assert first == again and first != synthesize(rows(), seed=4)
    assert all(ex.spans for ex in first)
    faithful = {r["response"] for r in rows() if not r["labels"]}
    for ex in first:
        assert ex.origin.startswith("synthetic:")
        for s, e in ex.spans:
            assert 0 <= s < e <= len(ex.output) and ex.output[s:e].strip() == ex.output[s:e]
    assert any(ex.output != text for ex in first for text in faithful)
