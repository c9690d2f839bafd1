"""Per-word features for the learned detector: every other detector's signal, word-aligned.

One row per output word (stopwords included, so predicted spans come out contiguous).
Features need no labels, so they can be computed once for a whole file.
"""
from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

from hallu_core.detection.detectors.base import DetectItem
from hallu_core.detection.detectors.consistency import clause_consistency
from hallu_core.detection.detectors.contradiction import SelfContradiction
from hallu_core.detection.detectors.lexical import find_conflict, support_vocab, tag_words
from hallu_core.detection.detectors.semantic import support_matrix
from hallu_core.detection.detectors.text import Piece, is_content, is_name, is_number, normalize, sentences, words

TASKS = ("QA", "Summary", "Data2txt")
FEATURES = (
    [f"task_{t}" for t in TASKS] + ["task_other", "kind_number", "kind_name", "kind_word", "kind_stop",
     "unsupported", "bigram_unsupported", "trigram_unsupported", "sample_support", "conflict",
     "clause_support", "clause_consistency", "has_samples", "clause_unsupported", "clause_values_unsupported",
     "sentence_unsupported", "window_unsupported", "clause_sample_support", "position", "sentence_position",
     "first_sentence", "last_sentence", "log_output_len", "log_source_len", "response_unsupported",
     "response_min_support", "has_tokens", "token_logprob", "token_entropy", "self_contradiction"])


def _ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return set(zip(*(tokens[i:] for i in range(n))))


def _locate(pieces: list[Piece], pos: int) -> int:
    """Index of the piece containing char `pos` (the one before it when between pieces)."""
    return max(0, bisect_right([p.start for p in pieces], pos) - 1)


def _mean(values: list[float], default: float = 0.0) -> float:
    return sum(values) / len(values) if values else default


def item_features(item: DetectItem, clauses_, clause_support, consistency) -> tuple[list[Piece], np.ndarray]:
    text = item.output
    ws = words(text)
    if not ws:
        return ws, np.zeros((0, len(FEATURES)), dtype=np.float32)
    vocab = support_vocab(item.grounding) if item.grounding.strip() else set()
    ground_norms = [normalize(w.text) for w in words(item.grounding)]
    bigrams, trigrams = _ngrams(ground_norms, 2), _ngrams(ground_norms, 3)
    sample_vocabs = [{normalize(w.text) for w in words(s)} for s in item.samples]
    norms = [normalize(w.text) for w in ws]
    content = [is_content(w.text) for w in ws]
    unsupported = [c and n not in vocab for c, n in zip(content, norms)]
    tagged = tag_words(text)
    tagged_index = {t.start: k for k, t in enumerate(tagged)}
    src_tagged = tag_words(item.grounding)
    contradicted = {s.start for s in SelfContradiction().detect_one(item).spans}
    sents = sentences(text)
    clause_of = [_locate(clauses_, w.start) for w in ws] if clauses_ else [0] * len(ws)
    sent_of = [_locate(sents, w.start) for w in ws] if sents else [0] * len(ws)

    def frac(idx, values):
        sel = [values[i] for i in idx if content[i]]
        return _mean([float(v) for v in sel])

    by_clause, by_sent = {}, {}
    for i, (c, s) in enumerate(zip(clause_of, sent_of)):
        by_clause.setdefault(c, []).append(i)
        by_sent.setdefault(s, []).append(i)
    sample_support = [(_mean([n in v for v in sample_vocabs], 1.0) if content[i] else 1.0) for i, n in enumerate(norms)]
    token_stats = _token_stats(item, ws)
    n_samples = len(item.samples)
    resp_unsup = frac(range(len(ws)), unsupported)
    min_support = float(clause_support.min()) if clause_support is not None and len(clause_support) else 1.0
    task = [float(item.task == t) for t in TASKS] + [float(item.task not in TASKS)]
    rows = []
    kinds = ["stop" if not content[i] else "number" if is_number(w.text) else "name" if is_name(w.text, w.start, text)
             else "word" for i, w in enumerate(ws)]
    for i, w in enumerate(ws):
        kind = kinds[i]
        prev_n, next_n = (norms[i - 1] if i else "^"), (norms[i + 1] if i + 1 < len(ws) else "$")
        k = tagged_index.get(w.start)
        conflict = unsupported[i] and k is not None and find_conflict(tagged[k], tagged, k, src_tagged) is not None
        c, s = clause_of[i], sent_of[i]
        window = range(max(0, i - 3), min(len(ws), i + 4))
        values_unsup = sum(1 for j in by_clause[c] if unsupported[j] and kinds[j] in ("number", "name"))
        rows.append(task + [float(kind == x) for x in ("number", "name", "word", "stop")] + [
            float(unsupported[i]),
            float(content[i] and (prev_n, norms[i]) not in bigrams),
            float(content[i] and (prev_n, norms[i], next_n) not in trigrams),
            sample_support[i], float(conflict),
            float(clause_support[c]) if clause_support is not None and len(clause_support) else 0.0,
            float(consistency[c]) if consistency is not None else 0.5, float(n_samples > 0),
            frac(by_clause[c], unsupported), min(values_unsup, 3) / 3,
            frac(by_sent[s], unsupported), sum(unsupported[j] for j in window) / len(window),
            _mean([sample_support[j] for j in by_clause[c] if content[j]], 1.0),
            i / len(ws), s / max(1, len(sents)), float(s == 0), float(s == len(sents) - 1),
            math.log1p(len(text)) / 10, math.log1p(len(item.grounding)) / 10, resp_unsup, min_support,
            *token_stats[i], float(w.start in contradicted)])
    return ws, np.asarray(rows, dtype=np.float32)


def _token_stats(item: DetectItem, ws: list[Piece]) -> list[tuple[float, float, float]]:
    """(has tokens, min logprob, max entropy) of the tokens overlapping each word."""
    if not item.tokens:
        return [(0.0, 0.0, 0.0)] * len(ws)
    out = []
    for w in ws:
        toks = [t for t in item.tokens if t.start < w.end and t.end > w.start]
        out.append((1.0, max(-10.0, min((t.logprob for t in toks), default=0.0)) / 10,
                    min(max((t.entropy for t in toks), default=0.0), 10.0) / 10))
    return out


def batch_features(items: list[DetectItem], model_path: str | None = None) -> list[tuple[list[Piece], np.ndarray]]:
    """Features of every item; the MiniLM parts are encoded for the whole batch at once."""
    support = support_matrix(items, model_path)
    consistency = clause_consistency(items, model_path)
    out = []
    for item, (clauses_, _, sim), (_, cons) in zip(items, support, consistency):
        best = sim.max(axis=1) if sim.size else None
        out.append(item_features(item, clauses_, best, cons))
    return out
