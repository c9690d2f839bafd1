"""Who judges a rate: the sensible default, synthetic annotators, and saying what a rate pools.

A judge is a rate source (`queries.Source`): an annotator's labels or a detector. The
default for a scope (some checkpoints, or the whole workspace) prefers people over
programs: adjudicated labels, then imported gold, then the person who labeled most of
the scope, then a synthetic annotator (the demo's `oracle`), then the `default` detector,
then any detector. People count only where they labeled a fair part of the scope, or a few
hundred outputs of it (`covers`): two labels among seven hundred outputs do not make a rate,
303 gold labels among 6,000 outputs do. Synthetic annotators are marked as such and never
count as people.
"""
from __future__ import annotations

from typing import Iterable

from hallu_core.labeling.spans import SYNTHETIC_ANNOTATORS
from hallu_core.store.database import Store, marks

Source = tuple[str, str]
PREFERRED_HUMANS = ("adjudicated", "gold")
DEFAULT_DETECTOR = "default"
MIN_COVERAGE = 30  # outputs a person must have labeled in a scope (or all of it) to be its default judge
ENOUGH_LABELS = 200  # ...and a tenth of the scope, unless they labeled this many: a real evaluation set


def is_synthetic(annotator: str) -> bool:
    return annotator in SYNTHETIC_ANNOTATORS


def describe(source: Source) -> str:
    """How a judge is shown in pickers and captions: synthetic annotators say so."""
    kind, name = source
    if kind == "detector":
        return f"detector {name}"
    return f"labels: {name}" + (" (synthetic)" if is_synthetic(name) else "")


def judged_counts(store: Store, checkpoint_ids: Iterable[str] | None = None) -> dict[Source, int]:
    """Generations each source judged (done labels / detections), within the checkpoints if given."""
    where, params = "", []
    if checkpoint_ids is not None:
        ids = list(checkpoint_ids)
        if not ids:
            return {}
        where = f"WHERE checkpoint_id IN ({marks(ids)})"
        params = ids
    rows = store.query(f"SELECT source_kind, source, SUM(judged) FROM source_summary {where} "
                       f"GROUP BY source_kind, source HAVING SUM(judged) > 0", params)
    return {(r[0], r[1]): int(r[2]) for r in rows}


def covers(judged: int, most: int) -> bool:
    """Whether a person's labels cover enough of a scope to judge it (a handful of labels do not)."""
    return judged >= min(MIN_COVERAGE, most) and (judged >= 0.1 * most or judged >= ENOUGH_LABELS)


def rank(counts: dict[Source, int]) -> list[Source]:
    """Sources best judge first (see the module docstring); people who labeled only a few of the
    scope's outputs come after the oracle and the `default` detector."""
    most = max(counts.values(), default=0)

    def key(source: Source):
        kind, name = source
        if kind == "labels" and not is_synthetic(name):
            tier = PREFERRED_HUMANS.index(name) if name in PREFERRED_HUMANS else 2
            tier = tier if covers(counts.get(source, 0), most) else 5
        elif kind == "labels":
            tier = 3
        else:
            tier = 4 if name == DEFAULT_DETECTOR else 6
        return tier, -counts.get(source, 0), name
    return sorted(counts, key=key)


def default_judge(store: Store, checkpoint_ids: Iterable[str] | None = None,
                  kinds: tuple[str, ...] = ("labels", "detector")) -> Source | None:
    """The best judge of the scope: human labels if it has them, else synthetic labels, else `default`."""
    ranked = [s for s in rank(judged_counts(store, checkpoint_ids)) if s[0] in kinds]
    return ranked[0] if ranked else None


def human_labeled(store: Store) -> int:
    """Generations with a done label by at least one person (synthetic annotators do not count)."""
    names = [a for a in _annotators(store) if not is_synthetic(a)]
    if not names:
        return 0
    return store.query(f"SELECT COUNT(DISTINCT generation_id) FROM labels WHERE status = 'done' "
                       f"AND annotator IN ({marks(names)})", names)[0][0]


def _annotators(store: Store) -> list[str]:
    from hallu_core.views.queries import annotators

    return annotators(store)


def pool(rows: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Rate rows pooled over everything but `keys` (e.g. over decodings): n, positive, rate; rows that
    are estimates (`rates.judge_rates`) pool as estimates (labeled summed, the interval combined)."""
    from hallu_core.rates.estimator import pool as pool_estimates

    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(x) for x in keys), []).append(r)
    out = []
    for k, parts in groups.items():
        row = {**dict(zip(keys, k)), "n": sum(p["n"] for p in parts), "positive": sum(p["positive"] for p in parts)}
        row["rate"] = row["positive"] / row["n"] if row["n"] else 0.0
        if all("estimate" in p for p in parts):
            e = pool_estimates(parts)
            row.update(labeled=sum(p["labeled"] for p in parts), estimate=e.estimate, ci_low=e.ci_low,
                       ci_high=e.ci_high, method=e.method, rate=e.estimate)
        out.append(row)
    return out
