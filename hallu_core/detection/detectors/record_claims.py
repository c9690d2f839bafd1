"""Claims about a structured record, checked against it (RAGTruth Data2txt: a Yelp business).

Word support cannot judge "offers outdoor seating" when the record says
`"OutdoorSeating": false` (every word occurs in the source), nor "open Monday through
Sunday from 10 AM to 8 PM" against an hours table. This module finds such claims in the
output (attribute mentions with their polarity, opening days and times, star ratings) and
compares each with the record's value: a different value is a `conflict`; a claim about a
field the record leaves null is `baseless` (RAGTruth's "due to null").
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from hallu_core.detection.detectors.base import BaseDetector, DetectItem, DetectResult, result_from_spans
from hallu_core.detection.detectors.evidence import NONE_FOUND, passage
from hallu_core.detection.detectors.record_hours import hours_claims, parse_hours
from hallu_core.detection.detectors.text import sentences
from hallu_core.store.types import Span

# output phrase -> record attribute path; `park` marks phrases that only count in a clause about parking
SLOTS: list[tuple[str, str]] = [
    (r"reservations?|book(?:ing)? a table", "RestaurantsReservations"),
    (r"outdoor (?:seating|dining|tables|area)|patio|outside seating|al fresco|sidewalk seating", "OutdoorSeating"),
    (r"wi-?fi|wireless internet|internet access", "WiFi"),
    (r"take-?\s?out|carry-?out|to-go orders", "RestaurantsTakeOut"),
    (r"(?:large )?groups?", "RestaurantsGoodForGroups"),
    (r"(?:live )?music|\bdj\b", "Music"),
    (r"deliver(?:y|ies|s)?", "RestaurantsDelivery"),
    (r"kids|children|families|family-friendly|kid-friendly", "GoodForKids"),
    (r"cater(?:s|ing)?", "Caters"),
    (r"happy hours?", "HappyHour"),
    (r"full bar|cocktails?|craft beers?|tequila|mezcal", "Alcohol"),
    (r"dogs?|dog-friendly|pet-friendly|pets", "DogsAllowed"),
    (r"wheelchair(?: accessible)?", "WheelchairAccessible"),
    (r"tvs?|televisions?", "HasTV"),
    (r"drive-?thru|drive-through", "DriveThru"),
    (r"credit cards?", "BusinessAcceptsCreditCards"),
    (r"vegetarians?|vegans?|gluten-free|halal|kosher|organic|locally sourced|farm-to-table", "diet"),
    (r"affordable|reasonabl[ey](?: priced| prices?)?|inexpensive|cheap|pricey|overpriced|expensive|budget-friendly"
     r"|great value|prices?", "RestaurantsPriceRange2"),
    (r"yelp|google|tripadvisor", "platform"),
    (r"garage", "BusinessParking.garage"),
    (r"street(?: parking)?", "BusinessParking.street"),
    (r"(?:parking )?lot", "BusinessParking.lot"),
    (r"valet", "BusinessParking.valet"),
    (r"validated", "BusinessParking.validated"),
    *((rf"{w}", f"Ambience.{w}") for w in ("romantic", "intimate", "touristy", "hipster", "divey", "classy",
                                          "trendy", "upscale", "casual")),
    (r"hip", "Ambience.hipster"),
    (r"dive bar", "Ambience.divey"),
]
_SLOT_RE = re.compile(r"\b(?:" + "|".join(f"(?P<s{i}>{p})" for i, (p, _) in enumerate(SLOTS)) + r")\b", re.I)
# a claim about a field the record lacks is supported only when the source mentions it anyway
_MENTIONED = {"RestaurantsPriceRange2": re.compile(r"pric|expensive|cheap|afford|value|\$", re.I)}
_TAIL = re.compile(r"(?:\s+(?:options?|services?|seating|parking|areas?|facilities|available|menu|dining|is available"
                   r"|are available|atmosphere|ambiance|ambience|vibe|setting))*\.?", re.I)
_PARKING_ONLY = {"BusinessParking.street", "BusinessParking.lot", "BusinessParking.validated"}
_NEGATION = re.compile(r"\b(?:no|not|never|without|lacks?|lacking|neither|nor|unavailable)\b|n't\b", re.I)
_SCOPE_END = re.compile(r"^(?:while|although|though|despite|since|even though)\b[^,]*,|"  # "While it has no X, Y is"
                        r"\b(?:but|however|although|though|while|whereas|yet|except|apart from|other than|besides)\b|;", re.I)
# "WiFi is not available", "garage, street, and valet parking are not"
_NEGATED_AFTER = re.compile(r"^[^.;]*?\b(?:is|are|was|were)\s+(?:not\b|unavailable)|^\s+(?:not available|unavailable)", re.I)
_CASUAL_MEAL = re.compile(r"\s*(?:dining|dinner|lunch|breakfast|meals?|bites?|sandwich|appearance|eats?)\b", re.I)
_TRUE_STRINGS = {"free", "paid", "yes", "true"}
_FALSE_STRINGS = {"no", "none", "false", "u'no'", "'no'", "u'none'", "'none'"}

_STARS = re.compile(r"\b((?:rating|rated)\s+(?:of\s+)?)?(\d(?:\.\d)?)(\s*(?:out of|/)\s*(?:5|five)(?:\.0)?)?"
                    r"(\s*[- ]?stars?)?\b", re.I)


@dataclass(frozen=True)
class Record:
    attributes: dict[str, object]  # flattened path ("Ambience.casual") -> True / False / None / string
    text: str  # the whole source, for claims about fields the record lacks
    hours: dict[str, tuple[int, int]] | None  # open days -> (open, close) in minutes; None = not given
    stars: float | None
    review_stars: frozenset[float]


@dataclass(frozen=True)
class Claim:
    start: int
    end: int
    field: str  # record path, "hours" or "business_stars"
    verdict: str  # "conflict", "baseless" or "supported"
    said: str  # what the record says, for the evidence


def parse_record(source: str | None) -> Record | None:
    """The record behind a JSON source, or None when the source is not a JSON object."""
    if not source or not source.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(source)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    attributes: dict[str, object] = {}

    def flatten(obj, path: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                flatten(v, f"{path}.{k}" if path else k)
        else:
            attributes[path] = obj

    flatten(data.get("attributes") or {}, "")
    reviews = [r for r in data.get("review_info") or [] if isinstance(r, dict)]
    return Record(attributes, source, parse_hours(data.get("hours")), _number(data.get("business_stars")),
                  frozenset(s for s in (_number(r.get("review_stars")) for r in reviews) if s is not None))


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def truth(value) -> bool | None:
    """A record value as yes / no / unknown."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _FALSE_STRINGS:
        return False
    if text in _TRUE_STRINGS:
        return True
    return None if text in ("", "null") else True


def find_claims(text: str, record: Record) -> list[Claim]:
    claims = []
    for sent in sentences(text):
        claims += _attribute_claims(text, sent.start, sent.end, record)
        claims += [Claim(lo, hi, "hours", verdict, said)
                   for lo, hi, verdict, said in hours_claims(text, sent.start, sent.end, record.hours)]
        claims += _star_claims(text, sent.start, sent.end, record)
    return claims


def _attribute_claims(text: str, start: int, end: int, record: Record) -> list[Claim]:
    sent = text[start:end]
    out, prev_end = [], 0
    for m in _SLOT_RE.finditer(sent):
        path = SLOTS[int(m.lastgroup[1:])][1]  # groups are named s0, s1, ... after SLOTS
        if path in _PARKING_ONLY and "park" not in sent.lower():
            continue
        if path == "Ambience.casual" and _CASUAL_MEAL.match(sent, m.end()):
            continue  # "a casual lunch" says nothing of the ambience
        before = sent[:m.start()]
        scope = before[max((e.end() for e in _SCOPE_END.finditer(before)), default=0):]
        after = sent[m.end():]
        after = after[:min((e.start() for e in _SCOPE_END.finditer(after)), default=len(after))]
        negated = bool(_NEGATION.search(scope)) or bool(_NEGATED_AFTER.match(after))
        clause_start = max(prev_end, max((m2.end() for m2 in re.finditer(r"[,;:]\s+|\b(?:but|and|however)\s+", before)),
                                         default=0))
        prev_end = m.end()
        value = record.attributes.get(path)
        if path not in record.attributes and not path.startswith(("BusinessParking", "Ambience")):
            mentioned = _MENTIONED.get(path, re.compile(re.escape(m.group()[:5]), re.I)).search(record.text)
            verdict = "supported" if mentioned or negated else "baseless"
        else:
            said = truth(value)
            verdict = "baseless" if said is None else "supported" if said != negated else "conflict"
        lo = clause_start if not path.startswith("Ambience") else m.start()
        hi = m.end() + len(_TAIL.match(sent, m.end()).group())  # "takeout" -> "takeout options."
        out.append(Claim(start + lo, start + hi, path, verdict, f"{path}: {json.dumps(value)}"))
    return out


def _star_claims(text: str, start: int, end: int, record: Record) -> list[Claim]:
    sent = text[start:end]
    about_reviews = bool(re.search(r"\breview|customer|reviewer|guest|visitor", sent, re.I))
    out = []
    for m in _STARS.finditer(sent):
        if not (m.group(1) or m.group(3) or m.group(4)):
            continue
        value = float(m.group(2))
        reviews = record.review_stars if about_reviews else frozenset()
        supported = value == record.stars or (reviews and min(reviews) <= value <= max(reviews))
        verdict = "baseless" if record.stars is None else "supported" if supported else "conflict"
        out.append(Claim(start + m.start(), start + m.end(), "business_stars", verdict,
                         f"business_stars: {record.stars}"))
    return out


def evidence_span(source: str, field: str) -> dict | None:
    """Where the record states the field: `"key": value` (the value parsed to its exact end),
    found inside its parent object for nested paths ("BusinessParking.garage"); None when the
    record has no such field (nothing in the source is evidence then)."""
    parts = field.split(".")
    at = 0
    for k, part in enumerate(parts):
        m = re.compile(rf'"{re.escape(part)}"\s*:\s*').search(source, at)
        if m is None:
            return None
        at = m.end() if k < len(parts) - 1 else m.start()
    try:
        _, end = json.JSONDecoder().raw_decode(source, m.end())
    except ValueError:
        end = m.end()
    return passage(source[at:end], at, end, "source", "record field")


class RecordClaims(BaseDetector):
    """Spans of output claims that a JSON record contradicts (or leaves null)."""
    name = "record"

    def __init__(self, conflict_score: float = 0.9, baseless_score: float = 0.6):
        super().__init__(conflict_score=conflict_score, baseless_score=baseless_score)

    def detect_one(self, item: DetectItem) -> DetectResult:
        record = parse_record(item.source)
        if record is None:
            return DetectResult([], 0.0)
        spans = []
        for c in find_claims(item.output, record):
            if c.verdict == "supported":
                continue
            evidence = evidence_span(item.source, c.field)
            note = c.said if evidence else f"{c.said} (the record has no such field: {NONE_FOUND})"
            spans.append(Span(c.start, c.end, c.verdict, self.config[f"{c.verdict}_score"], evidence, note=note))
        return result_from_spans(spans)
