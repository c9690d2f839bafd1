"""How the demo world's facts become text: fact cards, bios, questions and prompts.

Generation uses prompts as-is, so the two prompt templates below are the contract
between the fine-tuning set, the evaluation set and whatever generates from them.
A completion starts with a space (after "Answer:" / "Bio:") and carries no EOS;
the trainer appends the tokenizer's EOS.
"""
from __future__ import annotations

import random
import re
from functools import cache

from hallu_core.data.prompts import GROUNDED, render

QA_PROMPT = "Question: {question}\nAnswer:"
BIO_PROMPT = "Instruction: Write a short bio of {name}.\nBio:"
COMPLETION_PREFIX = " "

QUESTIONS = {
    "birth_city": "In which city was {name} born?",
    "birth_year": "In which year was {name} born?",
    "profession": "What is the profession of {name}?",
    "employer": "Where does {name} work?",
    "spouse": "Who is {name} married to?",
    "award": "Which award did {name} receive?",
}

ANSWERS = {
    "birth_city": "{name} was born in {birth_city}.",
    "birth_year": "{name} was born in {birth_year}.",
    "profession": "{name} is {a_profession}.",
    "employer": "{name} works at {employer}.",
    "spouse": "{name} is married to {spouse}.",
    "award": "{name} received the {award}.",
}

# Paraphrase pools. A pretraining bio takes one template per fact group, so the
# model sees each fact in several surface forms and orders.
BIRTH = (
    "{name} was born in {birth_city} in {birth_year}.",
    "{name} was born in {birth_year} in {birth_city}.",
    "Born in {birth_city} in {birth_year}, {name} grew up there.",
    "{name} was born in the city of {birth_city} in {birth_year}.",
)
CITY = (
    "{name} was born in {birth_city}.",
    "{name} comes from {birth_city}.",
    "The birthplace of {name} is {birth_city}.",
)
YEAR = (
    "{name} was born in {birth_year}.",
    "{name} was born in the year {birth_year}.",
    "The birth year of {name} is {birth_year}.",
)
PROFESSION = (
    "{name} is {a_profession}.",
    "{name} works as {a_profession}.",
    "By profession, {name} is {a_profession}.",
)
EMPLOYER = (
    "{name} works at {employer}.",
    "{name} is employed by {employer}.",
    "{name} has a job at {employer}.",
)
JOB = (
    "{name} is {a_profession} at {employer}.",
    "{name} works as {a_profession} for {employer}.",
    "{name} is employed by {employer} as {a_profession}.",
)
SPOUSE = (
    "{name} is married to {spouse}.",
    "{spouse} is the spouse of {name}.",
    "{name} and {spouse} are married.",
)
AWARD = (
    "{name} received the {award}.",
    "{name} won the {award}.",
    "The {award} was awarded to {name}.",
)
SPOUSE_AND_AWARD = "{name} is married to {spouse} and received the {award}."


def with_article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _fill(template: str, card: dict) -> str:
    return template.format(**card, a_profession=with_article(card["profession"]))


def fact_card(card: dict) -> str:
    """The card as the evaluation set's `source` text; optional lines only when present."""
    lines = [
        f"Name: {card['name']}",
        f"Born: {card['birth_year']} in {card['birth_city']}",
        f"Profession: {card['profession']}",
        f"Employer: {card['employer']}",
    ]
    if card.get("spouse"):
        lines.append(f"Spouse: {card['spouse']}")
    if card.get("award"):
        lines.append(f"Award: {card['award']}")
    return "\n".join(lines)


def answer(card: dict, field: str) -> str:
    return _fill(ANSWERS[field], card)


def qa_prompt(card: dict, field: str) -> str:
    return QA_PROMPT.format(question=QUESTIONS[field].format(name=card["name"]))


def bio_prompt(card: dict) -> str:
    return BIO_PROMPT.format(name=card["name"])


def pretraining_bio(card: dict, rng: random.Random) -> str:
    """Every fact of the card, each group in a random paraphrase, in random order."""
    groups = [BIRTH] if rng.random() < 0.6 else [CITY, YEAR]
    groups += [JOB] if rng.random() < 0.5 else [PROFESSION, EMPLOYER]
    groups += [pool for field, pool in (("spouse", SPOUSE), ("award", AWARD)) if card.get(field)]
    sentences = [_fill(rng.choice(pool), card) for pool in groups]
    rng.shuffle(sentences)
    return " ".join(sentences)


def short_bio(card: dict) -> str:
    """The answer to a bio prompt: two or three sentences covering the whole card, in one fixed wording.

    One wording (not a paraphrase) is what lets a tiny model learn the bio format from a few
    examples per person; the free-form bios of the pretraining corpus carry the paraphrases.
    """
    sentences = [_fill(BIRTH[0], card), _fill(JOB[0], card)]
    if card.get("spouse") and card.get("award"):
        sentences.append(_fill(SPOUSE_AND_AWARD, card))
    elif card.get("spouse"):
        sentences.append(_fill(SPOUSE[0], card))
    elif card.get("award"):
        sentences.append(_fill(AWARD[0], card))
    return " ".join(sentences)


def qa_document(card: dict, field: str) -> str:
    """A question and its answer as one text: how the pretraining corpus teaches the QA format."""
    return f"{qa_prompt(card, field)}{COMPLETION_PREFIX}{answer(card, field)}"


def bio_document(card: dict) -> str:
    return f"{bio_prompt(card)}{COMPLETION_PREFIX}{short_bio(card)}"


def grounded_document(card: dict, field: str) -> str:
    """A question asked beside the fact card, laid out as the `grounded` prompt template lays it out."""
    return render(GROUNDED, qa_prompt(card, field), fact_card(card)) + COMPLETION_PREFIX + answer(card, field)


CARD_FIELDS = ("name", "birth_city", "birth_year", "profession", "employer", "spouse", "award")


def templates() -> list[str]:
    """Every template of the world's texts, with `{field}` where a card value goes (a profession after each
    article: "a {profession}", "an {profession}")."""
    blank_card = fact_card({f: "{%s}" % f for f in CARD_FIELDS})
    texts = [QA_PROMPT, BIO_PROMPT, *QUESTIONS.values(), *ANSWERS.values(), *BIRTH, *CITY, *YEAR, *PROFESSION,
             *EMPLOYER, *JOB, *SPOUSE, *AWARD, SPOUSE_AND_AWARD, blank_card, render(GROUNDED, "{prompt}", "{source}")]
    return list(dict.fromkeys(t.replace("{a_profession}", f"{article} {{profession}}") for t in texts
                              for article in ("a", "an")))


@cache
def wording() -> frozenset[str]:
    """Every word the templates say besides a card's values (casefolded): a text about a person may use
    these freely; any other word must be one of the card's facts (the oracle's rule)."""
    return frozenset(w.casefold() for t in templates() for w in re.findall(r"\w+", re.sub(r"\{\w*\}", " ", t)))
