"""Labeled synthetic hallucinations with exact spans, for training the `span` detector.

Faithful answers (responses whose annotators found nothing) and source excerpts are perturbed;
each edit replaces characters of the original and the replacement is the gold span:

- numbers, years, months and weekdays swapped for others (from the same source when it has
  some, else jittered);
- names (capitalised phrases) swapped for another name from the same source or another one;
- a JSON record's value claimed in the answer swapped for another record's value of the key;
- negations added or removed, comparatives and antonyms flipped;
- a sentence from an unrelated answer grafted in (baseless information).

Everything is driven by one `random.Random(seed)`: the same rows and seed give the same data.
Only rows of the tuning split may be fed in (the lockbox stays unseen).
"""
from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass

from hallu_core.detection.detectors.base import DetectItem
from hallu_core.detection.detectors.span_model import compact_source, context_text
from hallu_core.detection.detectors.span_train import TrainExample
from hallu_core.detection.detectors.text import sentences

Edit = tuple[int, int, str]  # replace original[start:end] with the string

_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
_MONTHS = "January February March April May June July August September October November December".split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_CALENDAR = re.compile(r"\b(" + "|".join(_MONTHS + _DAYS) + r")\b")
_NAME = re.compile(r"(?<=[a-z,;:] )[A-Z][a-z]+(?: (?:[A-Z][a-z]+|of|de|la))*(?: [A-Z][a-z]+)?")
_NEGATED = re.compile(r"\b(is|are|was|were|does|do|did|can|will|has|have|could|should|would)( not|n't)\b")
_PLAIN_VERB = re.compile(r"\b(is|are|was|were|can|will|could|should|would)\b(?! not|n't)")
_ANTONYMS = dict(pair for a, b in [
    ("more", "less"), ("higher", "lower"), ("larger", "smaller"), ("increase", "decrease"),
    ("increased", "decreased"), ("before", "after"), ("first", "last"), ("best", "worst"),
    ("cheap", "expensive"), ("positive", "negative"), ("open", "closed"), ("always", "never"),
    ("allowed", "prohibited"), ("north", "south"), ("east", "west"), ("early", "late"),
    ("older", "younger"), ("longer", "shorter"), ("most", "least"), ("above", "below"),
    ("good", "bad"), ("high", "low"), ("large", "small"), ("rise", "fall"), ("won", "lost"),
    ("available", "unavailable"), ("free", "paid"), ("casual", "formal"), ("quiet", "loud"),
    ("men", "women"), ("supports", "opposes"), ("accepted", "rejected"), ("popular", "unpopular")]
    for pair in ((a, b), (b, a)))
_OPPOSITE = re.compile(r"\b(" + "|".join(sorted(_ANTONYMS, key=len, reverse=True)) + r")\b", re.IGNORECASE)
KINDS = ("number", "calendar", "name", "record_value", "negation", "antonym", "graft")


@dataclass
class Pools:
    """Replacement material gathered from every row given (all of the tuning split)."""
    names: list[str]
    sentences_by_task: dict[str, list[tuple[str, str]]]  # task -> [(source key, sentence)]
    record_values: dict[str, list[str]]  # JSON key -> values seen across records


def apply_edits(text: str, edits: list[Edit]) -> tuple[str, list[tuple[int, int]]]:
    """The edited text and each replacement's (start, end) in it, without the whitespace an
    insertion carries around it; edits must not overlap."""
    out, spans, pos, shift = [], [], 0, 0
    for start, end, new in sorted(edits):
        if start < pos:
            raise ValueError("overlapping edits")
        out += [text[pos:start], new]
        lead = len(new) - len(new.lstrip())
        spans.append((start + shift + lead, start + shift + lead + len(new.strip())))
        shift += len(new) - (end - start)
        pos = end
    out.append(text[pos:])
    return "".join(out), spans


def _jitter_number(token: str, rng: random.Random) -> str:
    digits = token.replace(",", "")
    if re.fullmatch(r"(1[5-9]|20)\d\d", digits):  # a year
        return str(int(digits) + rng.choice([-1, 1]) * rng.randint(1, 12))
    if "." in digits:
        whole, frac = digits.split(".", 1)
        return f"{max(0, int(whole) + rng.randint(1, 9) * rng.choice([-1, 1]))}.{frac}"
    value = int(digits)
    new = value + rng.choice([-1, 1]) * max(1, rng.randint(1, max(1, value // 2 + 3)))
    new = abs(new) if new != value else value + 1
    return f"{new:,}" if "," in token else str(new)


def _number_edit(text: str, context: str, rng: random.Random, pools: Pools) -> Edit | None:
    found = list(_NUMBER.finditer(text))
    if not found:
        return None
    m = rng.choice(found)
    others = sorted({n for n in _NUMBER.findall(context) if n != m.group() and len(n) <= 8})
    new = rng.choice(others) if others and rng.random() < 0.5 else _jitter_number(m.group(), rng)
    return (m.start(), m.end(), new) if new != m.group() else None


def _calendar_edit(text: str, context: str, rng: random.Random, pools: Pools) -> Edit | None:
    found = list(_CALENDAR.finditer(text))
    if not found:
        return None
    m = rng.choice(found)
    group = _MONTHS if m.group() in _MONTHS else _DAYS
    return m.start(), m.end(), rng.choice([x for x in group if x != m.group()])


def _name_edit(text: str, context: str, rng: random.Random, pools: Pools) -> Edit | None:
    found = [m for m in _NAME.finditer(text) if m.group() not in _MONTHS + _DAYS]
    if not found:
        return None
    m = rng.choice(found)
    same_source = sorted({n for n in _NAME.findall(context) if n != m.group() and n not in text})
    pool = same_source if same_source and rng.random() < 0.5 else pools.names
    choices = [n for n in pool if n != m.group() and n not in context]
    return (m.start(), m.end(), rng.choice(choices)) if choices else None


def _record_edit(text: str, source: str, rng: random.Random, pools: Pools) -> Edit | None:
    try:
        record = json.loads(source)
    except (ValueError, TypeError):
        return None
    claimed = [(k, v) for k, v in _flat(record) if isinstance(v, str) and len(v) >= 3 and v in text]
    if not claimed:
        return None
    key, value = rng.choice(claimed)
    choices = [v for v in pools.record_values.get(key, []) if v != value and v not in source]
    if not choices:
        return None
    start = rng.choice([m.start() for m in re.finditer(re.escape(value), text)])
    return start, start + len(value), rng.choice(choices)


def _negation_edit(text: str, context: str, rng: random.Random, pools: Pools) -> Edit | None:
    negated = list(_NEGATED.finditer(text))
    plain = list(_PLAIN_VERB.finditer(text))
    if negated and (not plain or rng.random() < 0.5):
        m = rng.choice(negated)  # "is not" -> "is": the remaining verb is the hallucinated claim
        return m.start(), m.end(), m.group(1)
    if plain:
        m = rng.choice(plain)
        return m.start(), m.end(), m.group(1) + " not"
    return None


def _antonym_edit(text: str, context: str, rng: random.Random, pools: Pools) -> Edit | None:
    found = list(_OPPOSITE.finditer(text))
    if not found:
        return None
    m = rng.choice(found)
    new = _ANTONYMS[m.group().lower()]
    return m.start(), m.end(), new.capitalize() if m.group()[0].isupper() else new


def _graft_edit(text: str, source_key: str, task: str, rng: random.Random, pools: Pools) -> Edit | None:
    choices = [s for key, s in pools.sentences_by_task.get(task, []) if key != source_key]
    bounds = [p.end for p in sentences(text)]
    if not choices or not bounds:
        return None
    at = rng.choice(bounds)
    return at, at, " " + rng.choice(choices)


def _flat(value, key: str = ""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flat(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _flat(v, key)
    else:
        yield key, value


def build_pools(rows: list[dict]) -> Pools:
    names, by_task, values = set(), defaultdict(list), defaultdict(set)
    for row in rows:
        names |= set(_NAME.findall(row["response"]))
        if not row.get("labels"):
            by_task[row["task_type"]] += [(str(row["source_id"]), p.text) for p in sentences(row["response"])
                                          if 40 <= len(p.text) <= 220 and "\n" not in p.text]
        try:
            for k, v in _flat(json.loads(row["source"])):
                if isinstance(v, str) and 3 <= len(v) <= 60:
                    values[k].add(v)
        except (ValueError, TypeError):
            pass
    return Pools(sorted(names - set(_MONTHS + _DAYS)), {t: sorted(set(v)) for t, v in by_task.items()},
                 {k: sorted(v) for k, v in values.items()})


def perturb(text: str, row: dict, rng: random.Random, pools: Pools, kinds: tuple[str, ...],
            want: int | None = None) -> tuple[list[Edit], list[str]]:
    """Non-overlapping edits of `text`, one per kind that applies, in order, until `want` are
    made (all kinds by default); returns the edits and the kinds that made them."""
    edits, done = [], []
    for kind in kinds:
        if want is not None and len(edits) >= want:
            break
        if kind == "graft":
            edit = _graft_edit(text, str(row["source_id"]), row["task_type"], rng, pools)
        elif kind == "record_value":
            edit = _record_edit(text, row["source"], rng, pools)
        else:
            edit = {"number": _number_edit, "calendar": _calendar_edit, "name": _name_edit, "negation": _negation_edit,
                    "antonym": _antonym_edit}[kind](text, row["source"], rng, pools)
        if edit and not any(edit[0] < e and s < edit[1] or edit[0] == s for s, e, _ in edits):
            edits.append(edit)
            done.append(kind)
    return edits, done


def synthesize(rows: list[dict], seed: int = 0, per_row: int = 5, excerpts: int = 2) -> list[TrainExample]:
    """Synthetic examples from the faithful rows among `rows` (RAGTruth-schema dicts): `per_row`
    perturbed copies of each faithful answer and `excerpts` perturbed source excerpts per source."""
    rng = random.Random(seed)
    pools = build_pools(rows)
    out: list[TrainExample] = []
    seen_sources: set[str] = set()
    for row in sorted(rows, key=lambda r: r["id"]):
        item = DetectItem(row["id"], row["response"], source=row["source"], question=row.get("question"),
                          task=row["task_type"])
        context = context_text(item)
        texts = []
        if not row.get("labels"):
            texts += [row["response"]] * per_row
        if str(row["source_id"]) not in seen_sources and row["task_type"] != "Data2txt":
            seen_sources.add(str(row["source_id"]))
            parts = [p.text for p in sentences(compact_source(row["source"])) if len(p.text) > 30]
            for _ in range(excerpts if len(parts) >= 3 else 0):
                k = rng.randrange(len(parts) - 2)
                texts.append(" ".join(parts[k:k + rng.randint(2, 3)]))
        for text in texts:
            edits, done = perturb(text, row, rng, pools, tuple(rng.sample(KINDS, k=len(KINDS))), rng.choice([1, 1, 2]))
            if not edits:
                continue
            new, spans = apply_edits(text, edits)
            out.append(TrainExample(context, new, tuple(spans), row["task_type"], "synthetic:" + "+".join(done)))
    return out
