"""Word signals against a structured record (RAGTruth Data2txt: a Yelp business as JSON).

Lexical support is fooled by records: "trendy" occurs in the source as the key of
`"trendy": false`, so a response calling the place trendy looks supported. Annotators
label exactly those claims (and `due_to_null` ones about null fields), so each output word
is checked against what the record says of it.
"""
from __future__ import annotations

import json
import re

import numpy as np

from hallu_core.detection.detectors.text import Piece, normalize, words

RECORD_FEATURES = ["record_false_key", "record_review_only", "record_absent", "record_true_key"]
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_NEGATIVE = {"none", "no", "u'no'", "'no'", "false", "u'none'", "'none'"}
_REVIEWS = "review_info"


def _key_words(key: str) -> set[str]:
    return {normalize(p) for p in _CAMEL.split(key) if p} | {normalize(key)}


def record_vocab(source: str) -> tuple[set[str], set[str], set[str], set[str]] | None:
    """(keys whose value is false/null, keys with a real value, words only reviews use,
    every structured word), or None when the source is not a JSON object."""
    try:
        record = json.loads(source)
    except (ValueError, TypeError):
        return None
    if not isinstance(record, dict):
        return None
    false, true, values = set(), set(), set()

    def walk(obj, key: str = "") -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k != _REVIEWS:
                    walk(v, k)
        elif isinstance(obj, list):
            for v in obj:
                walk(v, key)
        elif obj is None or obj is False or str(obj).strip().lower() in _NEGATIVE:
            false.update(_key_words(key))
        else:
            true.update(_key_words(key))
            values.update(normalize(w.text) for w in words(str(obj)))

    walk(record)
    reviews = record.get(_REVIEWS) or []
    review_text = " ".join(r.get("review_text", "") for r in reviews if isinstance(r, dict))
    review_words = {normalize(w.text) for w in words(review_text)}
    structured = values | true
    return false - true, true, review_words - structured, structured


def record_features(source: str | None, ws: list[Piece]) -> np.ndarray:
    """One row of RECORD_FEATURES per output word; zeros when the source is no record."""
    out = np.zeros((len(ws), len(RECORD_FEATURES)), dtype=np.float32)
    vocab = record_vocab(source) if source and source.lstrip().startswith("{") else None
    if vocab is None:
        return out
    false, true, review_only, structured = vocab
    false_stems = {f[:5] for f in false if len(f) > 2}  # "kids" ~ "GoodForKids", "reservation(s)"
    for k, w in enumerate(ws):
        n = normalize(w.text)
        out[k] = [n in false or (len(n) > 3 and n[:5] in false_stems), n in review_only,
                  n not in structured and n not in review_only, n in true]
    return out
