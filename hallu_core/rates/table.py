"""Rates from the store: one estimate per group of outputs (a task, a checkpoint, a decoding...).

Per group, the summary tables give the outputs and the detector's newest scores summed
(store/score_summary.py; a task grouping sums them in one pass instead), and SQL sums the labeled
outputs' outcomes and scores by how they were chosen: nothing per output reaches Python. Labels drawn at random, and imported gold, are the random sample; labels chosen otherwise
(score order, a deep link) are the census stratum (estimator.py says why).
"""
from __future__ import annotations

from hallu_core.labeling.spans import SYNTHETIC_ANNOTATORS
from hallu_core.rates.estimator import Estimate, Sample, estimate_from_sums
from hallu_core.store.connection import marks
from hallu_core.store.database import Store
from hallu_core.store.types import RANDOM_SELECTIONS

# --by name -> SQL expression over generations g / checkpoints c / examples e / example_knowledge k
GROUPINGS = {"task": "e.task", "checkpoint": "g.checkpoint_id", "decoding_name": "g.decoding_name",
             "run": "c.run_id", "knowledge": "COALESCE(k.knowledge, '')"}
# the groupings the summary tables (keyed checkpoint, decoding, knowledge) answer without reading every output
SUMMARY_KEYS = {"checkpoint": "s.checkpoint_id", "decoding_name": "s.decoding_name", "run": "c.run_id",
                "knowledge": "s.knowledge"}


def _from(by: list[str]) -> str:
    tables = "FROM generations g JOIN checkpoints c ON c.id = g.checkpoint_id"
    if "task" in by:
        tables += " JOIN examples e ON e.id = g.example_id"
    if "knowledge" in by:
        tables += " LEFT JOIN example_knowledge k ON k.example_id = g.example_id"
    return tables + " LEFT JOIN detection_latest dl ON dl.generation_id = g.id AND dl.detector = ?"


def _scope(run_id: str | None, checkpoint_ids, decodings, alias: str = "g") -> tuple[str, list]:
    clauses, params = [], []
    if run_id is not None:
        clauses.append("c.run_id = ?")
        params.append(run_id)
    for column, values in (("checkpoint_id", checkpoint_ids), ("decoding_name", decodings)):
        if values is not None:
            values = list(values)
            clauses.append(f"{alias}.{column} IN ({marks(values)})" if values else "0")
            params += values
    return " AND ".join(clauses) or "1", params


def _group_sql(keys: list[str]) -> tuple[str, str]:
    select = ", ".join(f"{expr} AS k{i}" for i, expr in enumerate(keys)) or "'' AS k0"
    return select, "GROUP BY " + ", ".join(f"k{i}" for i in range(max(1, len(keys))))


def _sizes(store: Store, detector, by, run_id, checkpoint_ids, decodings) -> dict[tuple, list]:
    """group key -> [outputs, outputs the detector scored, sum of its scores]: from the summary tables
    where the grouping allows (constant time), else one pass over the outputs."""
    if set(by) <= set(SUMMARY_KEYS):
        select, group = _group_sql([SUMMARY_KEYS[k] for k in by])
        scope, params = _scope(run_id, checkpoint_ids, decodings, alias="s")
        on = "JOIN checkpoints c ON c.id = s.checkpoint_id"
        out = {tuple(r[:-1]): [r[-1], 0, 0.0] for r in store.query(
            f"SELECT {select}, SUM(s.generations) FROM generation_summary s {on} WHERE {scope} {group}", params)}
        for r in store.query(f"SELECT {select}, SUM(s.scored), SUM(s.score_sum) FROM score_summary s {on} "
                             f"WHERE s.detector = ? AND {scope} {group}", [detector or "", *params]):
            out.setdefault(tuple(r[:-2]), [0, 0, 0.0])[1:] = [r[-2], r[-1]]
        return {k: v for k, v in out.items() if v[0]}
    select, group = _group_sql([GROUPINGS[k] for k in by])
    scope, params = _scope(run_id, checkpoint_ids, decodings)
    return {tuple(r[:-3]): list(r[-3:]) for r in store.query(
        f"SELECT {select}, COUNT(*), COUNT(dl.response_score), COALESCE(SUM(dl.response_score), 0) "
        f"{_from(by)} WHERE {scope} {group}", [detector or "", *params])}


def rate_table(store: Store, detector: str | None = "default", annotator: str | None = None,
               by: list[str] | tuple[str, ...] = ("checkpoint",), run_id: str | None = None,
               checkpoint_ids=None, decodings=None, confidence: float = 0.95) -> list[dict]:
    """One row per group: group (its key values), n, labeled, random_labeled, estimate, ci_low, ci_high, method.

    `detector` None estimates from labels alone; `annotator` None takes every person's done labels.
    """
    by = list(by)
    unknown = [k for k in by if k not in GROUPINGS]
    if unknown:
        raise ValueError(f"cannot group rates by {unknown}; choose from {sorted(GROUPINGS)}")
    sizes = _sizes(store, detector, by, run_id, checkpoint_ids, decodings)
    labeled = (_labeled_from_summary(store, annotator, by, run_id, checkpoint_ids, decodings)
               if not any(scored for _, scored, _ in sizes.values()) else None)
    if labeled is None:
        labeled = _labeled(store, annotator, by, detector, run_id, checkpoint_ids, decodings)
    out = []
    for key, (n, scored, score_sum) in sorted(sizes.items(), key=lambda kv: [str(k) for k in kv[0]]):
        census, sampled = labeled.get((*key, 0)), labeled.get((*key, 1))
        c_n, c_y, c_nf, c_f = census[:4] if census else (0, 0, 0, 0.0)
        rest_scored, rest_sum = scored - c_nf, score_sum - c_f
        rest_mean = rest_sum / rest_scored if detector and rest_scored > 0 else None
        sample = _sample(sampled, rest_mean)
        e = estimate_from_sums(n, sample, c_n, c_y, rest_mean, confidence)
        out.append({"group": dict(zip(by, key)), "n": n, "labeled": c_n + sample.n, "random_labeled": sample.n,
                    "scored": scored, **fields(e)})
    return out


def _sample(sums, rest_mean: float | None) -> Sample:
    """The random labels' sums; an output the detector did not score takes the rest's mean score."""
    if not sums:
        return Sample(0, 0.0)
    n, y, nf, f, yf, ff, y_unscored = sums
    if rest_mean is None:
        return Sample(n, y)
    return Sample(n, y, f + (n - nf) * rest_mean, yf + y_unscored * rest_mean, ff + (n - nf) * rest_mean ** 2)


def fields(e: Estimate) -> dict:
    return {"estimate": e.estimate, "ci_low": e.ci_low, "ci_high": e.ci_high, "method": e.method}


def people(annotator: str | None, label: str = "l") -> tuple[str, list]:
    if annotator:
        return f"{label}.annotator = ?", [annotator]
    return f"{label}.annotator NOT IN ({marks(SYNTHETIC_ANNOTATORS)})", sorted(SYNTHETIC_ANNOTATORS)


def done_labels(annotator: str | None, within: tuple[str, list] = ("", [])) -> tuple[str, list]:
    """SQL of one row per labeled output, (generation_id, n_spans, drawn), and its parameters: the annotator's
    done label, or (annotator None) the newest by a person (synthetic annotators such as the demo's oracle
    are no person). `drawn` is 1 for a random draw; pooled, only when every person who labeled the output
    drew it at random: one chosen on purpose by anyone is in the census stratum, whoever labeled first, so
    the random draws stay a random sample of the outputs nobody chose. `within`: (SQL selecting generation ids,
    its parameters) to read only those outputs' labels."""
    who, who_params = people(annotator, "labels")
    if within[0]:
        who += f" AND generation_id IN ({within[0]})"
    drawn = f"COALESCE(selection IN ({marks(RANDOM_SELECTIONS)}), 0)"
    if annotator:
        sql = f"SELECT generation_id, n_spans, {drawn} AS drawn FROM labels WHERE status = 'done' AND {who}"
    else:  # windows over people's labels, one pass
        sql = (f"SELECT generation_id, n_spans, drawn FROM (SELECT generation_id, n_spans, MIN({drawn}) OVER "
               "(PARTITION BY generation_id) AS drawn, ROW_NUMBER() OVER (PARTITION BY generation_id "
               f"ORDER BY updated_at DESC, rowid DESC) AS newest FROM labels WHERE status = 'done' AND {who}) "
               "WHERE newest = 1")
    return sql, [*RANDOM_SELECTIONS, *who_params, *within[1]]


def _labeled(store: Store, annotator, by, detector, run_id, checkpoint_ids, decodings) -> dict[tuple, tuple]:
    """(group key..., random 0/1) -> (n, Σy, scored, Σf, Σyf, Σf², Σy unscored) of the labeled outputs in
    scope, one label an output (`done_labels`)."""
    select, group = _group_sql([GROUPINGS[k] for k in by])
    scope, params = _scope(run_id, checkpoint_ids, decodings)
    done, done_params = done_labels(annotator)
    y, f = "(l.n_spans > 0)", "dl.response_score"
    tables = _from(by).replace("FROM generations g", f"FROM ({done}) l JOIN generations g ON g.id = l.generation_id", 1)
    rows = store.query(
        f"SELECT {select}, l.drawn AS is_random, COUNT(*), SUM({y}), COUNT({f}), COALESCE(SUM({f}), 0), "
        f"COALESCE(SUM({y} * {f}), 0), COALESCE(SUM({f} * {f}), 0), SUM(CASE WHEN {f} IS NULL THEN {y} ELSE 0 END) "
        f"{tables} WHERE {scope} {group}, is_random",
        [*done_params, detector or "", *params])
    width = max(1, len(by))
    return {tuple(r[:width + 1]): tuple(r[width + 1:]) for r in rows}


def one_way_drawn(store: Store, annotator: str) -> bool | None:
    """Whether the annotator's done labels, all chosen one way, are random draws (True) or not (False); None
    when they were chosen several ways. With one way, a count of labels (the summary table, a side's packed
    label vector) says as much as reading each label."""
    ways = [r[0] for r in store.query(
        "SELECT DISTINCT COALESCE(selection, '') FROM labels WHERE annotator = ? AND status = 'done'", [annotator])]
    return None if len(ways) > 1 else bool(ways) and ways[0] in RANDOM_SELECTIONS


def _labeled_from_summary(store: Store, annotator, by, run_id, checkpoint_ids, decodings) -> dict | None:
    """`_labeled` in constant time where no score enters: one annotator whose done labels were all chosen the
    same way, counted by the summary table (outputs judged and flagged per key); None where that does not hold."""
    if not annotator or not set(by) <= set(SUMMARY_KEYS):
        return None
    drawn = one_way_drawn(store, annotator)
    if drawn is None:
        return None
    random = int(drawn)
    select, group = _group_sql([SUMMARY_KEYS[k] for k in by])
    scope, params = _scope(run_id, checkpoint_ids, decodings, alias="s")
    rows = store.query(f"SELECT {select}, SUM(s.judged), SUM(s.flagged) FROM source_summary s "
                       f"JOIN checkpoints c ON c.id = s.checkpoint_id WHERE s.source_kind = 'labels' AND "
                       f"s.source = ? AND {scope} {group}", [annotator, *params])
    return {(*r[:-2], random): (r[-2], r[-1], 0, 0.0, 0.0, 0.0, r[-1]) for r in rows if r[-2]}


def checkpoint_rates(store: Store, run_id: str, detector: str = "default", annotator: str | None = None,
                     confidence: float = 0.95) -> list[dict]:
    """A run's rate per checkpoint (every decoding pooled): checkpoint_id, step, n, labeled, estimate, ci..."""
    steps = dict(store.query("SELECT id, step FROM checkpoints WHERE run_id = ?", [run_id]))
    rows = rate_table(store, detector, annotator, by=["checkpoint"], run_id=run_id, confidence=confidence)
    out = [{"checkpoint_id": r["group"]["checkpoint"], "step": steps.get(r["group"]["checkpoint"]),
            **{k: v for k, v in r.items() if k != "group"}} for r in rows]
    return sorted(out, key=lambda r: (r["step"] is None, r["step"]))
