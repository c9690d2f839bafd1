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
  (the text mixed people up). The person's own name, in full or in part, is never flagged;
- any other word that is neither a value nor the templates' own wording (`text.wording`)
  is a claim the card cannot back: a garbled name ("Bredan was born"), value ("is a poe")
  or plain garble. Neighbouring such words form one span, typed by its slot: a run with a
  digit is a year; one touching a value (the person's name included) garbles that value;
  else it takes the template slot whose neighbours (two words before, one after, in its
  sentence) it shares most, at least one of them a word ("is a ___ at" is a profession;
  ties go to the card's first field). A slot the card fills -> `conflict`, one it lacks or
  no slot -> `baseless`. A last word cut off by the token limit ("at Oakhaven Cl") is no
  claim when it starts a word the text could rightly say.

Matching is case-insensitive and on word boundaries; the longest value wins where
two start at the same place. Limit, by design: claims made in template words alone
("she was never married") are invisible. Offsets are character offsets into the text,
end exclusive, as everywhere in Hallu.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping

from hallu_core.demo.text import CARD_FIELDS, templates, wording
from hallu_core.demo.vocab import FIELD_VOCAB
from hallu_core.store.types import Span

YEAR_FIELD = "birth_year"
YEAR = r"1[0-9]{3}|20[0-9]{2}"  # ASCII digits only: \d would take other scripts' digits
WORD = re.compile(r"\w+(?:['’]\w+)*")
SENTENCE_BREAK = re.compile(r"[.!?;\n]")
JOINER = re.compile(r"[^\w.,!?:;\n]*")  # what may part the words of one run: spaces, "&", stray bytes
VALUE, START, END = "*", "^", "$"  # context tokens: a value, the sentence's start and end


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
    fixed vocabularies are used, which know no person names, so another person's name
    counts as unknown words (typed by its slot, a name where it is a sentence's subject).
    """
    text = text or ""
    subject = _norm(card.get("name"))
    first: dict[str, Mention] = {}  # field -> the text's first mention of it
    mentions = find_mentions(text, vocab)
    spans = [_unmatched_span(text, run, card, mentions) for run in _unmatched_runs(text, card, mentions)]
    for m in mentions:
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
    return sorted(spans, key=lambda s: s.start)


def _unmatched_runs(text: str, card: Mapping, mentions: list[Mention]) -> list[tuple[int, int]]:
    """(start, end) of each run of words that are neither a value, the person's name nor template wording,
    neighbours joined unless punctuation parts them; a cut-off last word that starts a right word is left out."""
    own = wording() | _name_words(card)
    runs: list[tuple[int, int]] = []
    at = 0  # index into `mentions`, which are sorted and non-overlapping
    for w in WORD.finditer(text):
        while at < len(mentions) and mentions[at].end <= w.start():
            at += 1
        if at < len(mentions) and mentions[at].start < w.end():
            continue  # part of a value ("Varesh's")
        if re.sub(r"['’]s$", "", w.group().casefold()) in own:
            continue
        if runs and JOINER.fullmatch(text, runs[-1][1], w.start()):
            runs[-1] = (runs[-1][0], w.end())
        else:
            runs.append((w.start(), w.end()))
    if runs and not text[runs[-1][1]:].strip() and _cut_off(text[runs[-1][0]:runs[-1][1]], card, own):
        runs.pop()
    return runs


def _cut_off(fragment: str, card: Mapping, own: frozenset[str]) -> bool:
    """Whether `fragment`, the text's last words, is the start of a card value or a template word."""
    fragment = fragment.casefold()
    return any(word.startswith(fragment) and word != fragment
               for word in (*own, *(str(v).casefold() for v in card.values() if v is not None)))


def _unmatched_span(text: str, run: tuple[int, int], card: Mapping, mentions: list[Mention]) -> Span:
    field = _slot(text, *run, _name_words(card), mentions)
    expected = card.get(field) if field else None
    if expected in (None, ""):
        kind, note = "baseless", f"the card has no {field}" if field else "not on the card"
    else:
        kind, note = "conflict", f"the card says {expected!r}"
    evidence = {"card_field": field, "expected": expected, "found": text[run[0]:run[1]]}
    return Span(*run, kind, 1.0, evidence, note=f"{field or 'unknown words'}: {note}", detector="oracle")


def _slot(text: str, start: int, end: int, name_words: frozenset[str], mentions: list[Mention]) -> str | None:
    """The card field whose value stands at text[start:end], from its neighbours in its sentence."""
    if re.search("[0-9]", text[start:end]):  # no other value of the world has a digit
        return YEAR_FIELD
    if field := _beside(text, start, end, name_words, mentions):
        return field
    sentence_start = max((b.end() for b in SENTENCE_BREAK.finditer(text, 0, start)), default=0)
    sentence_end = next((b.start() for b in SENTENCE_BREAK.finditer(text, end)), len(text))
    before = list(WORD.finditer(text, sentence_start, start))[-2:]
    after = list(WORD.finditer(text, end, sentence_end))[:1]

    def token(word: re.Match) -> str:  # as the templates read: a value (the person's name included) is VALUE
        in_value = any(m.start < word.end() and word.start() < m.end for m in mentions)
        return VALUE if in_value or word.group().casefold() in name_words else word.group().casefold()

    return _closest_slot((*[START] * (2 - len(before)), *map(token, before), *map(token, after),
                          *[END] * (1 - len(after))))


@lru_cache(maxsize=4096)
def _closest_slot(context: tuple[str, str, str]) -> str | None:
    """The field of the template slot sharing most of `context` (ties: the card's first field), None for none."""
    field, score = max(((c[0], _shared(context, c[1:])) for c in _slot_contexts()),
                       key=lambda fs: (fs[1], -CARD_FIELDS.index(fs[0])))
    return field if score else None


def _beside(text: str, start: int, end: int, name_words: frozenset[str], mentions: list[Mention]) -> str | None:
    """The field of a value that touches text[start:end] with only spaces between: the run garbles the same
    value ("Breel Belbre" for Tamel Belbre, "Pellow Foo")."""
    left, right = len(text[:start].rstrip(" \t")), len(text) - len(text[end:].lstrip(" \t"))
    touching = [m.group() for m in (re.search(r"\w+$", text[:left]), re.match(r"\w+", text[right:])) if m]
    if name_words & {w.casefold() for w in touching}:
        return "name"
    return next((m.field for m in mentions if m.end == left or m.start == right), None)


def _shared(mine: tuple, theirs: tuple) -> int:
    """How many context tokens two slots share, 0 unless one of them is a word (not a value or a sentence edge)."""
    same = [a for a, b in zip(mine, theirs) if a == b]
    return len(same) if any(t not in (VALUE, START, END) for t in same) else 0


@lru_cache(maxsize=1)
def _slot_contexts() -> tuple[tuple[str, str, str, str], ...]:
    """(field, two words before, one before, one after) of every value slot of the templates."""
    contexts = []
    for template in templates():
        for sentence in SENTENCE_BREAK.split(template):
            tokens = [(VALUE, m.group(1)) if m.group(1) else (m.group().casefold(), None)
                      for m in re.finditer(r"\{(\w+)\}|\w+", sentence)]
            words = [START, START, *(t for t, _ in tokens), END]
            contexts += [(field, words[i], words[i + 1], words[i + 3]) for i, (_, field) in enumerate(tokens)
                         if field in CARD_FIELDS]
    return tuple(dict.fromkeys(contexts))


def _name_words(card: Mapping) -> frozenset[str]:
    return frozenset(w.casefold() for w in WORD.findall(str(card.get("name") or "")))


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
