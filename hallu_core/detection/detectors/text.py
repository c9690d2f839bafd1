"""Text plumbing shared by detectors: sentences, clauses and words with char offsets.

Everything returns (start, end) offsets into the original string so spans never drift.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_WORD = re.compile(r"\$?\d+(?:[.,:]\d+)*%?|\w+(?:['’]\w+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”)\]]*\s+|\n+")
_CLAUSE_BREAK = re.compile(r"[,;:]\s+|\s+(?:but|while|whereas|although|however)\s+")

STOPWORDS = frozenset("""
a an the and or but if then than so of in on at to for from by with without about into over under
is are was were be been being am do does did done have has had having will would shall should can
could may might must it its it's this that these those there here their they them he she his her
him we our us you your i me my as not no nor also such which who whom whose what when where why how
all any each both more most other some few many much very just only own same too up down out off
again further once s t based provided passage passages information text according mentioned
""".split())

NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}


@dataclass(frozen=True)
class Piece:
    start: int
    end: int
    text: str


def _pieces(text: str, breaks: re.Pattern, offset: int = 0) -> list[Piece]:
    out, pos = [], 0
    for m in breaks.finditer(text):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    result = []
    for s, e in out:
        chunk = text[s:e]
        stripped = chunk.strip()
        if stripped:
            s2 = s + (len(chunk) - len(chunk.lstrip()))
            result.append(Piece(offset + s2, offset + s2 + len(stripped), stripped))
    return result


def sentences(text: str) -> list[Piece]:
    return _pieces(text, _SENTENCE_END)


def clauses(text: str, min_words: int = 3) -> list[Piece]:
    """Sentences cut at commas/semicolons/contrast words; tiny fragments stay merged."""
    out = []
    for sent in sentences(text):
        parts = _pieces(sent.text, _CLAUSE_BREAK, sent.start)
        merged: list[Piece] = []
        for p in parts:
            if merged and len(words(p.text)) < min_words:
                prev = merged.pop()
                p = Piece(prev.start, p.end, text[prev.start:p.end])
            merged.append(p)
        if len(merged) > 1 and len(words(merged[0].text)) < min_words:
            first, second = merged[0], merged[1]
            merged[:2] = [Piece(first.start, second.end, text[first.start:second.end])]
        out.extend(merged)
    return out


def words(text: str) -> list[Piece]:
    return [Piece(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]


def is_number(word: str) -> bool:
    return word.lower() in NUMBER_WORDS or bool(re.fullmatch(r"\$?\d[\d.,:]*%?", word))


@lru_cache(maxsize=200_000)
def normalize(word: str) -> str:
    """Lower-cased crude stem; numbers lose '$', thousands commas and trailing '.0'."""
    w = word.lower().replace("’", "'")
    if w in NUMBER_WORDS:
        return NUMBER_WORDS[w]
    if is_number(w):
        w = w.strip("$%").replace(",", "")
        return re.sub(r"\.0+$", "", w)
    w = re.sub(r"'s$", "", w)
    for suffix in ("ingly", "edly", "ing", "ies", "ed", "es", "ly", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def is_content(word: str) -> bool:
    return is_number(word) or (word.lower() not in STOPWORDS and len(word) > 1)


def is_name(word: str, start: int, text: str) -> bool:
    """Capitalised word that does not open a sentence: a likely name."""
    if not word[:1].isupper() or word.lower() in STOPWORDS:
        return False
    before = text[max(0, start - 20):start].rstrip()  # a window: cheap on long texts
    return start > 0 and (not before or before[-1] not in ".!?\n:\"“")
