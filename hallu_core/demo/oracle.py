"""Gold hallucination spans for any text about a demo person, from their fact card.

In the demo world every value belongs to exactly one card field (a city is always a
birth city, a 4-digit year always a birth year), so each mention in a text can be
judged against the card by its surface form alone:

- a value for a field the card has, with a different value -> `conflict`;
- a value for a field the card lacks (a spouse, an award) -> `baseless`;
- a value that differs from the first value the same text gave for that field ->
  `self_contradiction`, on the later mention. The first mention keeps its own verdict:
  when it is wrong it is also a `conflict`, since it is a factual error on its own
  ("born in Varesh ... born in Lindor" flags Varesh as conflict and Lindor as
  self_contradiction even though Lindor is right: the text contradicts itself there);
- the full name of another person of the world -> `conflict` against the card's name
  (the text mixed people up). The person's own name is never flagged.

Matching is case-insensitive and on word boundaries; the longest value wins where
two start at the same place. Limits, by design: names match only in full (a garbled
name that belongs to nobody goes unnoticed), and claims that use no vocabulary value
("she was never married") are invisible. Offsets are character offsets into the text,
end exclusive, as everywhere in Hallu.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping

from hallu_core.demo.vocab import FIELD_VOCAB
from hallu_core.store.types import Span

YEAR_FIELD = "birth_year"
YEAR = r"1[0-9]{3}|20[0-9]{2}"  # ASCII digits only: \d would take other scripts' digits


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    field: str
    value: str  # the vocabulary's spelling (a year as its digits)


def find_mentions(text: str, vocab: Mapping[str, Iterable[str]] | None = None) -> list[Mention]:
    """Every vocabulary value and 4-digit year in `text`, in order, non-overlapping."""
    pattern, canonical = _matcher(_frozen(vocab if vocab is not None else FIELD_VOCAB))
    mentions = []
    for m in pattern.finditer(text or ""):
        if m.group("year"):
            mentions.append(Mention(m.start(), m.end(), YEAR_FIELD, m.group()))
        elif (hit := canonical.get(m.group().casefold())) is not None:
            mentions.append(Mention(m.start(), m.end(), *hit))
    return mentions


def oracle_spans(text: str, card: Mapping, vocab: Mapping[str, Iterable[str]] | None = None) -> list[Span]:
    """Typed gold spans for `text` about the person of `card`.

    `vocab` maps card fields to their possible values (`World.vocab`); without it the
    fixed vocabularies are used, which know no person names, so other people go unflagged.
    """
    text = text or ""
    subject = _norm(card.get("name"))
    first: dict[str, Mention] = {}  # field -> the text's first mention of it
    spans = []
    for m in find_mentions(text, vocab):
        if m.field == "name":
            if _norm(m.value) != subject:
                spans.append(_span(text, m, "conflict", card.get("name"), "another person"))
            continue
        expected = card.get(m.field)
        earlier = first.setdefault(m.field, m)
        if _norm(m.value) != _norm(earlier.value):
            said = text[earlier.start:earlier.end]
            spans.append(_span(text, m, "self_contradiction", expected, f"contradicts {said!r} earlier", earlier))
        elif expected in (None, ""):
            spans.append(_span(text, m, "baseless", None, f"the card has no {m.field}"))
        elif _norm(m.value) != _norm(expected):
            spans.append(_span(text, m, "conflict", expected, f"the card says {expected!r}"))
    return spans


def oracle_rate(texts_and_cards: Iterable[tuple[str, Mapping]], vocab: Mapping[str, Iterable[str]] | None = None) -> float:
    """Fraction of texts with at least one gold span (0.0 for none)."""
    flags = [bool(oracle_spans(text, card, vocab)) for text, card in texts_and_cards]
    return sum(flags) / len(flags) if flags else 0.0


def _span(text: str, m: Mention, kind: str, expected, note: str, earlier: Mention | None = None) -> Span:
    evidence = {"card_field": m.field, "expected": expected, "found": m.value}
    if earlier is not None:
        evidence["earlier"] = {"start": earlier.start, "end": earlier.end, "text": text[earlier.start:earlier.end]}
    return Span(m.start, m.end, kind, 1.0, evidence, note=f"{m.field}: {note}", detector="oracle")


def _norm(value) -> str:
    return "" if value is None else str(value).strip().casefold()


def _frozen(vocab: Mapping[str, Iterable[str]]) -> tuple:
    return tuple((f, tuple(vs)) for f, vs in vocab.items())


@lru_cache(maxsize=16)
def _matcher(vocab: tuple) -> tuple[re.Pattern, dict[str, tuple[str, str]]]:
    canonical: dict[str, tuple[str, str]] = {}  # casefolded value -> (field, value)
    for field, values in vocab:
        for value in values:
            if value and value.strip():
                canonical.setdefault(value.casefold(), (field, value))
    # Longest first: Python's alternation takes the first alternative that matches.
    terms = sorted((v for _, v in canonical.values()), key=len, reverse=True)
    alternatives = "|".join([re.escape(t) for t in terms] + [f"(?P<year>{YEAR})"])
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), canonical
