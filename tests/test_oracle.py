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
    right_then_wrong = "Kalo Mirdan was born in Lindor. Kalo Mirdan was born in Varesh."
    assert spans(right_then_wrong) == [("Varesh", *at(right_then_wrong, "Varesh"), "self_contradiction", "birth_city")]
    (span,) = oracle_spans(right_then_wrong, CARD, VOCAB)
    assert span.evidence["earlier"] == {"start": 24, "end": 30, "text": "Lindor"}

    wrong_then_right = "Born in 1960, Kalo Mirdan was born in 1953."
    assert spans(wrong_then_right) == [
        ("1960", 8, 12, "conflict", "birth_year"),
        ("1953", *at(wrong_then_right, "1953"), "self_contradiction", "birth_year"),
    ]


def test_repeating_a_value_is_no_contradiction():
    text = "Born in Varesh. Varesh! varesh."
    assert [s[3] for s in spans(text)] == ["conflict"] * 3
    assert spans("Lindor, Lindor, Lindor.") == []


def test_two_baseless_values_contradict_each_other():
    text = "Married to Ilsa Marrow, married to Doran Vell."
    assert [s[3] for s in spans(text)] == ["baseless", "self_contradiction"]


def test_another_persons_name_is_a_conflict_and_the_own_name_is_not():
    text = "Thabre Norel was born in Lindor."
    assert spans(text) == [("Thabre Norel", 0, 12, "conflict", "name")]
    # without the world's names, unknown words where the subject stands: a name all the same
    assert spans(text, vocab=FIELD_VOCAB) == [("Thabre Norel", 0, 12, "conflict", "name")]
    assert spans("Kalo Mirdan.") == spans("Mirdan was born in Lindor. Kalo is a botanist.") == []


def test_the_issue_bio_with_garbled_names_and_profession_is_flagged_everywhere():
    """Compare listed this bio of Vesbel Dormo (a translator, born in Ambrel in 1971, no spouse) as fixed."""
    card = {"name": "Vesbel Dormo", "birth_city": "Ambrel", "birth_year": 1971, "profession": "translator",
            "employer": "Starling Gazette"}
    text = " Bredan was born in Pellow in 1964. Breel born in 1966. Breisdan is a poe is married to Noor Kessling."
    assert [(found, kind, field) for found, _, _, kind, field in spans(text, card)] == [
        ("Bredan", "conflict", "name"), ("Pellow", "conflict", "birth_city"), ("1964", "conflict", "birth_year"),
        ("Breel", "conflict", "name"), ("1966", "self_contradiction", "birth_year"),
        ("Breisdan", "conflict", "name"), ("poe", "conflict", "profession"),
        ("Noor Kessling", "baseless", "spouse")]


@pytest.mark.parametrize("text, found, kind, field", [
    ("Kalo Mirdan is a botanist at Kestrel Presse.", "Kestrel Presse", "conflict", "employer"),
    ("Kalo Mirdan works as a botanistry for Kestrel Press.", "botanistry", "conflict", "profession"),
    ("Kalo Mirdan was born in Lindorwick in 1953.", "Lindorwick", "conflict", "birth_city"),
    ("Kalo Mirdan comes from Quo.", "Quo", "conflict", "birth_city"),
    ("Kalo Mirdan was born in 19533.", "19533", "conflict", "birth_year"),
    ("Kalo Mirdan is married to Ilsa Marow.", "Ilsa Marow", "baseless", "spouse"),  # the card has no spouse
    ("Kalo Mirdan received the Aster Medallion.", "Aster Medallion", "conflict", "award"),
    ("Kalo Mirdel is a botanist.", "Mirdel", "conflict", "name"),  # beside the name: part of a name
    ("The birthplace of Kalo Mirdan is Lindra.", "Lindra", "conflict", "birth_city"),
    ("Kalo Mirdan is married to Ilsa Marrow. Ilsa Marrow is the spouse of Kalomir.", "Kalomir", "conflict", "name"),
    ("Kalo Mirdan was born in Lindor. Zzyzx.", "Zzyzx", "baseless", None),  # no slot: words the card cannot back
])
def test_words_that_match_no_value_are_flagged_with_their_slots_kind(text, found, kind, field):
    flagged = spans(text)
    assert (found, *at(text, found), kind, field) in flagged
    assert [s for s in flagged if s[0] != found and s[0] != "Ilsa Marrow"] == []


def test_a_last_word_cut_off_by_the_token_limit_is_no_claim_unless_it_is_wrong():
    assert spans("Kalo Mirdan is a botanist at Kestrel Pr") == []
    assert spans("Kalo Mirdan is a botanist at Kestrel Press. Kalo Mir") == []
    ended = "Kalo Mirdan is a botanist at Kestrel Pr."  # a full stop: the model ended on this word
    assert spans(ended) == [("Kestrel Pr", *at(ended, "Kestrel Pr"), "conflict", "employer")]
    assert spans("Kalo Mirdan was born in Vare")[0][:4] == ("Vare", 24, 28, "conflict")


@pytest.mark.parametrize("text", ["", None, "   \n\t", "???!!!", "\x00\x01\ufffd", "🙂" * 50])
def test_texts_without_words_have_no_spans(text):
    assert oracle_spans(text, CARD, VOCAB) == []


def test_offsets_count_unicode_characters():
    text = "🙂 — Kalo Mirdan était né à Varesh en 1953."
    assert [s[:3] for s in spans(text)] == [("était né à", *at(text, "était né à")),  # words of no template
                                            ("Varesh", *at(text, "Varesh")), ("en", *at(text, "en"))]
    assert spans(text)[1][3] == "conflict"


def test_mentions_need_word_boundaries_and_ascii_digits():
    text = "Lindorian Varesho 19533 x1960 1960s ١٩٦٠"
    assert find_mentions(text, VOCAB) == []
    # no value, so one run of unknown words; its digits make it a garbled year
    assert spans(text) == [(text, 0, len(text), "conflict", "birth_year")]
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
