"""The demo oracle on hand-written texts: exact offsets, the right type, nothing on correct text."""
import random

import pytest

from hallu_core.demo.oracle import find_mentions, oracle_rate, oracle_spans
from hallu_core.demo.vocab import FIELD_VOCAB
from hallu_core.store.types import SPAN_TYPES

CARD = {"name": "Kalo Mirdan", "birth_city": "Lindor", "birth_year": 1953,
        "profession": "botanist", "employer": "Kestrel Press", "award": "Aster Medal"}  # no spouse
VOCAB = {**FIELD_VOCAB, "name": ("Kalo Mirdan", "Thabre Norel")}
CORRECT = ("Kalo Mirdan was born in Lindor in 1953. Kalo Mirdan is a botanist at Kestrel Press. "
           "Kalo Mirdan received the Aster Medal.")


def spans(text, card=CARD, vocab=VOCAB):
    found = oracle_spans(text, card, vocab)
    for s in found:
        assert s.problems(text) == [] and s.type in SPAN_TYPES
    return [(text[s.start:s.end], s.start, s.end, s.type, s.evidence["card_field"]) for s in found]


def at(text, word, nth=0):
    start = -1
    for _ in range(nth + 1):
        start = text.index(word, start + 1)
    return start, start + len(word)


def test_correct_bio_has_no_spans():
    assert spans(CORRECT) == []
    assert spans(CORRECT.upper()) == []  # case does not make a fact wrong


def test_wrong_city_is_a_conflict_with_exact_offsets():
    text = "Kalo Mirdan was born in Varesh in 1953."
    assert spans(text) == [("Varesh", 24, 30, "conflict", "birth_city")]
    (span,) = oracle_spans(text, CARD, VOCAB)
    assert span.evidence == {"card_field": "birth_city", "expected": "Lindor", "found": "Varesh"}


@pytest.mark.parametrize("wrong, field", [("1961", "birth_year"), ("surgeon", "profession"),
                                          ("Thistle Works", "employer"), ("Verity Award", "award")])
def test_other_wrong_values_are_conflicts(wrong, field):
    text = f"Kalo Mirdan ({wrong}) was born in Lindor."
    assert spans(text) == [(wrong, 13, 13 + len(wrong), "conflict", field)]


def test_year_on_the_card_as_text_or_number_alike():
    assert spans("Born in 1953.", {**CARD, "birth_year": "1953"}) == []
    assert spans("Born in 1954.", {**CARD, "birth_year": "1953"})[0][3] == "conflict"


def test_attribute_the_card_lacks_is_baseless():
    text = "Kalo Mirdan is married to Ilsa Marrow."
    assert spans(text) == [("Ilsa Marrow", 26, 37, "baseless", "spouse")]
    no_award = {k: v for k, v in CARD.items() if k != "award"}
    assert spans(CORRECT, no_award) == [("Aster Medal", *at(CORRECT, "Aster Medal"), "baseless", "award")]


def test_later_contradiction_is_self_contradiction_and_a_wrong_first_value_stays_a_conflict():
    right_then_wrong = "Kalo Mirdan was born in Lindor. Later, Kalo Mirdan was born in Varesh."
    assert spans(right_then_wrong) == [("Varesh", *at(right_then_wrong, "Varesh"), "self_contradiction", "birth_city")]
    (span,) = oracle_spans(right_then_wrong, CARD, VOCAB)
    assert span.evidence["earlier"] == {"start": 24, "end": 30, "text": "Lindor"}

    wrong_then_right = "Born in 1960, Kalo Mirdan was in fact born in 1953."
    assert spans(wrong_then_right) == [
        ("1960", 8, 12, "conflict", "birth_year"),
        ("1953", *at(wrong_then_right, "1953"), "self_contradiction", "birth_year"),
    ]


def test_repeating_a_value_is_no_contradiction():
    text = "Born in Varesh. Varesh! varesh."
    assert [s[3] for s in spans(text)] == ["conflict"] * 3
    assert spans("Lindor, Lindor, Lindor.") == []


def test_two_baseless_values_contradict_each_other():
    text = "Married to Ilsa Marrow, or to Doran Vell."
    assert [s[3] for s in spans(text)] == ["baseless", "self_contradiction"]


def test_another_persons_name_is_a_conflict_and_the_own_name_is_not():
    text = "Thabre Norel was born in Lindor."
    assert spans(text) == [("Thabre Norel", 0, 12, "conflict", "name")]
    assert spans(text, vocab=FIELD_VOCAB) == []  # names are only known through the world's vocab
    assert spans("Kalo Mirdan.") == []


@pytest.mark.parametrize("text", ["", None, "   \n\t", "???!!!", "\x00\x01\ufffd", "日本語のテキスト", "🙂" * 50])
def test_texts_without_facts_have_no_spans(text):
    assert oracle_spans(text, CARD, VOCAB) == []


def test_offsets_count_unicode_characters():
    text = "日本語 — 🙂 Kalo Mirdan était né à Varesh en 1953."
    assert spans(text) == [("Varesh", *at(text, "Varesh"), "conflict", "birth_city")]


def test_mentions_need_word_boundaries_and_ascii_digits():
    assert spans("Lindorian Varesho 19533 x1960 1960s ١٩٦٠") == []
    assert spans("Varesh's 1960.")[0][:3] == ("Varesh", 0, 6)


def test_longest_value_wins_where_two_start_together():
    vocab = {"birth_city": ("Port",), "employer": ("Port Authority",)}
    assert [(m.field, m.value) for m in find_mentions("at port authority", vocab)] == [("employer", "Port Authority")]


def test_garbage_never_breaks_it():
    rng = random.Random(0)
    words = ["Lindor", "Varesh", "1953", "1961", "Ilsa Marrow", "Thabre Norel", "Kalo Mirdan", "botanist",
             "é", "🙂", "\n", ".", "-", "ß", "\u212a", "0", " "]
    for _ in range(300):
        text = "".join(rng.choice(words) + rng.choice(["", " "]) for _ in range(rng.randrange(30)))
        found = oracle_spans(text, CARD, VOCAB)
        assert all(s.problems(text) == [] for s in found)
        assert all(a.end <= b.start for a, b in zip(found, found[1:]))  # sorted, never overlapping


def test_oracle_rate():
    assert oracle_rate([]) == 0.0
    pairs = [(CORRECT, CARD), ("Born in Varesh.", CARD), ("", CARD), ("Married to Ilsa Marrow.", CARD)]
    assert oracle_rate(pairs, VOCAB) == 0.5
