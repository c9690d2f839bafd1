"""Compare: checkpoints (or imported models, or decodings) against each other.

A "side" is a (checkpoint id, decoding name) pair; a source is a rate source of
`hallu_core.views.queries` (a detector or an annotator's labels). Two sides are paired on their
prompts from `side_vectors` (hallu_core/store/side_vectors.py: each side's span counts and scores
packed by prompt number), decoded and paired in numpy: a join of 100,000 rows in SQLite
cost about 0.2 s, this about 0.04 s. Outputs of two sides share no offsets, so span diffs
match spans on their text.
"""
from __future__ import annotations

import json
from typing import Iterable, NamedTuple

import numpy as np

from hallu_core.store import side_vectors
from hallu_core.store.database import Store, marks
from hallu_core.views.queries import Source, dicts, like_pattern

Side = tuple[str, str]


def example_generations(store: Store, example_id: str) -> list[dict]:
    """All generations of one example (sample 0 first) with their checkpoint names."""
    return dicts(store.query(
        """SELECT g.id, g.checkpoint_id, g.decoding_name AS decoding, g.sample_index, c.name AS checkpoint,
                  c.step, r.name AS run FROM generations g JOIN checkpoints c ON c.id = g.checkpoint_id
           JOIN runs r ON r.id = c.run_id WHERE g.example_id = ? ORDER BY g.sample_index, r.created_at, c.step""",
        (example_id,)))


# -- pairing two sides: their side_vectors (hallu_core/store/side_vectors.py) decoded and paired in numpy ----------
_W = side_vectors.RECORD_WIDTH
_POW10 = 10.0 ** np.arange(0, 131)  # exact up to 1e22: the usual scores divide by an exact power
_SIDE_ROWS = ("SELECT chunk, data FROM side_vectors WHERE source_kind = ? AND source = ? AND checkpoint_id = ? "
              "AND decoding_name = ?")  # sample 0: the only one packed


class _Side(NamedTuple):
    numbers: np.ndarray  # prompt numbers (example_numbers.no)
    spans: np.ndarray
    scores: np.ndarray  # NaN where the score is NULL


def read_side(store: Store, source: Source, side: Side) -> _Side:
    """Every record of one (judge, side), sample 0, from its chunks: a few hundred rows, decoded at once."""
    rows = store.query(_SIDE_ROWS, (source[0], source[1], side[0], side[1]))
    data = "".join(r[1] for r in rows).encode("ascii")
    u = np.frombuffer(data, dtype=np.uint8).reshape(-1, _W)

    def digits(lo: int, hi: int) -> np.ndarray:  # column by column: twice as fast as a matrix product
        value = u[:, lo] - np.int64(ord("0"))
        for at in range(lo + 1, hi):
            value = value * 10 + (u[:, at] - np.int64(ord("0")))
        return value

    chunks = np.repeat(np.array([r[0] for r in rows], dtype=np.int64),
                       [len(r[1]) // _W for r in rows]) if rows else np.zeros(0, np.int64)
    numbers = (chunks << side_vectors.CHUNK_BITS) + digits(1, 3)
    spans = digits(3, 8)
    mantissa = (digits(10, 11) * 10 ** 15 + digits(12, 27)).astype(np.float64)
    exponent = np.where(u[:, 28] == ord("-"), -digits(29, 31), digits(29, 31)) - 15
    scores = np.where(exponent < 0, mantissa / _POW10[np.maximum(-exponent, 0)],
                      mantissa * _POW10[np.maximum(exponent, 0)])
    scores = np.where(u[:, 8] == ord("1"), np.where(u[:, 9] == ord("-"), -scores, scores), np.nan)
    return _Side(numbers, spans, scores)


class _Pairs(NamedTuple):
    numbers: np.ndarray  # prompts both sides answered (sample 0) and the judge judged on both, ascending
    a_spans: np.ndarray
    b_spans: np.ndarray
    a_scores: np.ndarray
    b_scores: np.ndarray


def _pairs(store: Store, side_a: Side, side_b: Side, source: Source) -> _Pairs:
    """One entry per prompt both sides answered (sample 0) and the source judged on both."""
    kind = source[0]
    if kind not in ("detector", "labels"):
        raise ValueError(f"unknown rate source kind {kind!r}")
    a, b = read_side(store, source, side_a), read_side(store, source, side_b)
    size = int(max(a.numbers.max(initial=-1), b.numbers.max(initial=-1))) + 1
    at_a, at_b = np.full(size, -1), np.full(size, -1)
    at_a[a.numbers], at_b[b.numbers] = np.arange(len(a.numbers)), np.arange(len(b.numbers))
    numbers = np.flatnonzero((at_a >= 0) & (at_b >= 0))
    ia, ib = at_a[numbers], at_b[numbers]
    return _Pairs(numbers, a.spans[ia], b.spans[ib], a.scores[ia], b.scores[ib])


def _mean(values: np.ndarray) -> float:
    """SQL's AVG then COALESCE(…, 0): NULLs (NaN) skipped, 0 over nothing."""
    values = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    return float(values.mean()) if len(values) else 0


def _aggregate(p: _Pairs) -> dict:
    a, b = p.a_spans, p.b_spans
    return {"n": len(p.numbers), "a_rate": _mean(a > 0), "b_rate": _mean(b > 0), "a_mean_spans": _mean(a),
            "b_mean_spans": _mean(b), "a_score": _mean(p.a_scores), "b_score": _mean(p.b_scores),
            "regressions": int((b > a).sum()), "fixes": int((b < a).sum()),
            "newly_flagged": int(((a == 0) & (b > 0)).sum()), "cleared": int(((a > 0) & (b == 0)).sum())}


RANKINGS = ("regressions", "fixes")  # more spans in B than in A / fewer
RANKED_COLUMNS = ("example_id", "a_id", "b_id", "a_spans", "b_spans", "a_score", "b_score", "delta", "prompt")


def _ranked(store: Store, p: _Pairs, side_a: Side, side_b: Side, source: Source, kind: str, limit: int,
            offset: int) -> list[dict]:
    """One page of a ranking: by span change, then score change (a NULL score counts as no change), then
    prompt id. Numbers sort the change; ids are read for the page and the rows tied with its last one."""
    sign = 1 if kind == "regressions" else -1
    change = sign * (p.b_spans - p.a_spans)
    score_change = np.nan_to_num(sign * (p.b_scores - p.a_scores), nan=0.0)
    moved = np.flatnonzero(change > 0)
    need = int(offset) + int(limit)
    if need <= 0 or not len(moved):
        return []
    if len(moved) > need:  # keep the page and every row tied with its last one (the prompt id breaks the tie)
        counts = np.bincount(change[moved])  # changes are span counts: small integers, counted not sorted
        from_top = np.cumsum(counts[::-1])  # rows with at least each change, from the largest down
        cut = len(counts) - 1 - int(np.searchsorted(from_top, need))  # the need-th largest change
        above, at_cut = moved[change[moved] > cut], moved[change[moved] == cut]
        rest = need - len(above)  # rows of the page with the cut's change: the greatest score changes among them
        score_cut = np.partition(score_change[at_cut], len(at_cut) - rest)[len(at_cut) - rest]
        moved = np.concatenate([above, at_cut[score_change[at_cut] >= score_cut]])
    order = moved[np.lexsort((-score_change[moved], -change[moved]))]
    ids = _example_ids(store, p.numbers[order])
    picked = sorted(order, key=lambda i: (-change[i], -score_change[i], ids[p.numbers[i]]))[int(offset):need]
    if not picked:
        return []
    numbers = [int(p.numbers[i]) for i in picked]
    examples = [ids[n] for n in numbers]
    gen_a, gen_b = (_generations(store, source, side, examples) for side in (side_a, side_b))
    return [{"example_id": ex, "a_id": gen_a[ex][0], "b_id": gen_b[ex][0], "a_spans": int(p.a_spans[i]),
             "b_spans": int(p.b_spans[i]), "a_score": gen_a[ex][1], "b_score": gen_b[ex][1],
             "delta": int(p.b_spans[i] - p.a_spans[i]), "prompt": None} for i, ex in zip(picked, examples)]


def _example_ids(store: Store, numbers: np.ndarray) -> dict[int, str]:
    return dict(store.query("SELECT no, example_id FROM example_numbers WHERE no IN "
                            "(SELECT value FROM json_each(?))", (json.dumps(numbers.tolist()),)))


def _generations(store: Store, source: Source, side: Side, examples: list[str]) -> dict[str, tuple]:
    """example id -> (generation id, exact score) of one side's judged outputs (sample 0)."""
    rows = store.query("SELECT example_id, generation_id, score FROM side_scores WHERE source_kind = ? AND source = ? "
                       "AND checkpoint_id = ? AND decoding_name = ? AND sample_index = 0 AND example_id IN "
                       "(SELECT value FROM json_each(?))", (*source, *side, json.dumps(examples)))
    return {r[0]: (r[1], r[2]) for r in rows}


def _add_prompts(store: Store, rows: list[dict]) -> None:
    """The pages' prompts in one lookup (not one per change)."""
    ids = sorted({r["example_id"] for r in rows})
    prompts = dict(store.query("SELECT id, substr(prompt, 1, 160) FROM examples "
                               f"WHERE id IN ({marks(ids)})", ids)) if ids else {}
    for r in rows:
        r["prompt"] = prompts.get(r["example_id"])


def aggregate_deltas(store: Store, side_a: Side, side_b: Side, source: Source) -> dict:
    """Over the examples both sides answered: hallucination rate, mean spans and score of A and B."""
    return _aggregate(_pairs(store, side_a, side_b, source))


def ranked_changes(store: Store, side_a: Side, side_b: Side, source: Source,
                   kind: str = "regressions", limit: int = 50, offset: int = 0) -> list[dict]:
    """Examples whose span count rose (regressions) or fell (fixes) most from A to B: one page, ranked."""
    if kind not in RANKINGS:
        raise ValueError("kind must be regressions or fixes")
    rows = _ranked(store, _pairs(store, side_a, side_b, source), side_a, side_b, source, kind, limit, offset)
    _add_prompts(store, rows)
    return rows


def changes(store: Store, side_a: Side, side_b: Side, source: Source, limit: int = 100) -> dict:
    """`aggregate_deltas` and the first `limit` regressions and fixes, from one read of the two sides.

    Each side is read from `side_vectors` (about 1,600 rows per 100,000 prompts) and the pairing,
    aggregate and rankings are numpy passes; only the pages' rows touch side_scores and examples.
    """
    pairs = _pairs(store, side_a, side_b, source)
    out = {"aggregate": _aggregate(pairs)}
    for kind in RANKINGS:
        out[kind] = _ranked(store, pairs, side_a, side_b, source, kind, limit, 0)
    _add_prompts(store, out["regressions"] + out["fixes"])
    return out


def shared_examples(store: Store, sides: list[Side], limit: int = 200, search: str = "") -> list[dict]:
    """Examples answered by every chosen (checkpoint, decoding), for the prompt picker."""
    if not sides:
        return []
    first, rest = sides[0], sides[1:]
    clauses, params = [], [first[0], first[1]]
    for ckpt, dec in rest:
        clauses.append("EXISTS (SELECT 1 FROM generations h WHERE h.example_id = g.example_id "
                       "AND h.checkpoint_id = ? AND h.decoding_name = ?)")
        params += [ckpt, dec]
    if search.strip():
        clauses.append("e.prompt LIKE ? ESCAPE '\\'")
        params.append(like_pattern(search.strip()))
    extra = "".join(" AND " + c for c in clauses)
    return dicts(store.query(
        f"""SELECT DISTINCT g.example_id, substr(e.prompt, 1, 120) AS prompt, e.task FROM generations g
            JOIN examples e ON e.id = g.example_id
            WHERE g.checkpoint_id = ? AND g.decoding_name = ? AND g.sample_index = 0{extra}
            ORDER BY g.rowid LIMIT ?""", params + [int(limit)]))


def side_generation(store: Store, example_id: str, side: Side) -> str | None:
    # by prompt: left alone, SQLite walks the side's whole range of generations_cover (100,000 entries)
    rows = store.query("SELECT id FROM generations INDEXED BY generations_by_example WHERE example_id = ? "
                       "AND checkpoint_id = ? AND decoding_name = ? ORDER BY sample_index LIMIT 1",
                       (example_id, side[0], side[1]))
    return rows[0][0] if rows else None


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .,;:!?\"'")


def span_diff(text_a: str, spans_a: Iterable, text_b: str, spans_b: Iterable) -> dict:
    """Spans introduced in B, fixed since A, and kept, matched on their (normalised) text.

    Two outputs of the same prompt share no offsets, so spans are matched by what they say.
    """
    def items(text, spans):
        out = []
        for s in spans:
            start, end = (s["start"], s["end"]) if isinstance(s, dict) else (s.start, s.end)
            start, end = max(0, start), min(len(text), end)
            if start < end:
                out.append({**(s if isinstance(s, dict) else s.to_dict()), "text": text[start:end]})
        return out

    a, b = items(text_a or "", spans_a), items(text_b or "", spans_b)
    keys_a, keys_b = {_norm(x["text"]) for x in a}, {_norm(x["text"]) for x in b}
    return {"introduced": [x for x in b if _norm(x["text"]) not in keys_a],
            "fixed": [x for x in a if _norm(x["text"]) not in keys_b],
            "kept": [x for x in b if _norm(x["text"]) in keys_a]}
