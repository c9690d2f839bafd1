"""Record claims: attribute, hours and rating claims checked against a JSON record."""
import json

from hallu_core.detection.detectors import DetectItem, get_detector
from hallu_core.detection.detectors.record_claims import find_claims, parse_record

RECORD = json.dumps({
    "name": "Café Zoë", "city": "Santa Barbara", "categories": "Seafood, Bars",
    "hours": {"Monday": "0:0-0:0", "Tuesday": "11:30-21:0", "Wednesday": "11:30-21:0", "Thursday": "11:30-21:0",
              "Friday": "11:30-22:0", "Saturday": "11:30-22:0", "Sunday": "11:30-21:0"},
    "attributes": {"BusinessParking": {"garage": False, "street": False, "lot": True, "valet": False},
                   "OutdoorSeating": True, "WiFi": "no", "RestaurantsReservations": None,
                   "Ambience": {"trendy": True, "upscale": False, "casual": True}},
    "business_stars": 4.5,
    "review_info": [{"review_stars": 5.0, "review_text": "Fresh fish, friendly server."},
                    {"review_stars": 3.0, "review_text": "Good drinks."}],
}, indent=2)


def check(output: str, source: str = RECORD):
    [result] = get_detector("record").detect([DetectItem("x", output, source=source, task="Data2txt")])
    return [(output[s.start:s.end], s.type) for s in result.spans], result


def test_attribute_claims_against_true_false_and_null_values():
    spans, result = check("Café Zoë offers outdoor seating and free WiFi. It takes reservations.")
    assert [t for _, t in spans] == ["conflict", "baseless"]  # WiFi is "no"; reservations are null
    assert "WiFi" in spans[0][0] and "reservations" in spans[1][0]
    assert result.response_score > 0.5  # a contradicted claim makes the response likely hallucinated (calibrated)
    assert check("Café Zoë offers outdoor seating and a lot to park in.")[0] == []


def test_negation_before_and_after_the_mention_and_its_scope():
    assert check("WiFi is not available.")[0] == []
    assert check("It does not offer WiFi, but it has outdoor seating.")[0] == []
    spans, _ = check("It has no outdoor seating.")
    assert [t for _, t in spans] == ["conflict"]
    # the negation of the first clause does not reach past "While ...,"
    spans, _ = check("While it does not offer WiFi, street parking is available.")
    assert [(t, "street" in s) for s, t in spans] == [("conflict", True)]


def test_ambience_words_are_checked_but_a_casual_meal_is_no_ambience_claim():
    spans, _ = check("The ambience is trendy, casual and upscale.")
    assert spans == [("upscale.", "conflict")]  # annotators take the full stop too
    assert check("A great spot for a casual lunch.")[0] == []


def test_opening_days_and_times():
    spans, _ = check("The restaurant is open Monday through Sunday from 11:30 AM to 9 PM.")
    assert [t for _, t in spans] == ["conflict"] and spans[0][0].startswith("is open Monday")
    assert check("It is open Tuesday to Thursday from 11:30 am to 9 pm.")[0] == []
    assert check("It opens 11:30am-10pm on Fridays and Saturdays.")[0] == []
    assert [t for _, t in check("On Mondays, the business remains closed.")[0]] == []
    assert [t for _, t in check("It is closed on Tuesdays.")[0]] == ["conflict"]
    # a sentence pairing each time range with the days beside it
    spans, _ = check("They are open from 11:30 am to 9 pm from Tuesday to Thursday and Sunday from 12 pm to 9 pm.")
    assert [s for s, _ in spans] == ["Sunday from 12 pm to 9 pm."]


def test_hours_missing_from_the_record_are_baseless():
    source = json.dumps({"name": "X", "hours": None, "attributes": {}})
    assert [t for _, t in check("It is open seven days a week.", source)[0]] == ["baseless"]


def test_star_ratings_against_the_business_and_its_reviews():
    assert check("It has a rating of 4.5 out of 5 stars.")[0] == []
    assert [t for _, t in check("It has a 4-star rating.")[0]] == ["conflict"]
    assert check("One reviewer gave it 3 stars.")[0] == []  # a review's own rating


def test_claims_about_fields_the_record_lacks():
    spans, _ = check("They also offer delivery and catering services.")
    assert [t for _, t in spans] == ["baseless", "baseless"]
    assert check("They serve fresh fish with friendly service.")[0] == []


def test_evidence_is_the_record_field_and_its_value_or_none_when_absent():
    spans_result = check("Café Zoë offers free WiFi.")[1]
    [span] = spans_result.spans
    assert RECORD[span.evidence["start"]:span.evidence["end"]] == span.evidence["text"] == '"WiFi": "no"'
    assert span.note == 'WiFi: "no"'
    # a nested field: the parking object's own "street", not another object's key
    [span] = check("Street parking is available.")[1].spans
    assert span.evidence["text"] == '"street": false'
    assert RECORD.index('"BusinessParking"') < span.evidence["start"]
    # a claim about a field the record lacks has no evidence, and says so
    [span] = check("It offers vegan dishes.")[1].spans
    assert span.type == "baseless" and span.evidence is None and "no such field" in span.note


def test_no_record_empty_output_and_offsets_in_range():
    assert check("Open daily.", source="Plain text, no record.")[0] == []
    assert check("", source=RECORD)[0] == []
    assert parse_record("[1, 2]") is None and parse_record("{broken") is None
    text = "Zoë’s café — ouvert lundi — offers WiFi 🎉 and is open Monday to Sunday."
    claims = find_claims(text, parse_record(RECORD))
    assert claims and all(0 <= c.start < c.end <= len(text) for c in claims)
