"""How labeled items were chosen, and what a rate estimator reads back.

Every label records its `selection` (store.types.SELECTIONS): the queue order that offered the item, "link"
for a deep link, "import" for imported gold. Only a random draw is a fair sample of its scope; an
estimator treats the others as chosen on purpose (hallu_core/rates).

The random order (queue.py) follows each generation's fixed pseudo-random key (store/shuffle.py): the same
on every reload, in every session and for every annotator (their random labels overlap, which agreement
needs), and outputs added later do not reorder the others.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from hallu_core.labeling.spans import ADJUDICATED
from hallu_core.store.database import Store


def labeled_outcomes(store: Store, annotator: str | None, generation_ids: Iterable[str] | None = None
                     ) -> dict[str, tuple[bool, str]]:
    """generation id -> (has a hallucination, how the item was chosen), for each done label in scope.

    `annotator` None pools every annotator's done labels: the adjudicated label where there is one, else
    the majority (a tie counts as hallucinated: annotators miss a span more often than they invent one);
    the item counts as a random draw when anyone drew it at random (a union of random draws is one too).
    A label made before Hallu recorded selections reads "unknown". Drafts and skipped items are left out.
    """
    sql = "SELECT generation_id, annotator, n_spans > 0, selection FROM labels WHERE status = 'done'"
    sql += " AND annotator = ? ORDER BY rowid" if annotator else " ORDER BY rowid"
    rows = store.query(sql, [annotator] if annotator else [])
    wanted = None if generation_ids is None else set(generation_ids)
    items: dict[str, list[tuple[str, bool, str]]] = defaultdict(list)
    for gid, who, flagged, selection in rows:
        if wanted is None or gid in wanted:
            items[gid].append((who, bool(flagged), selection or "unknown"))
    return {gid: _pooled(labels) for gid, labels in items.items()}


def _pooled(labels: list[tuple[str, bool, str]]) -> tuple[bool, str]:
    if len(labels) == 1:
        return labels[0][1:]
    people = [lab for lab in labels if lab[0] != ADJUDICATED]
    final = [flagged for who, flagged, _ in labels if who == ADJUDICATED]
    flagged = final[0] if final else 2 * sum(f for _, f, _ in people) >= len(people)
    chosen = [s for *_, s in people]
    return flagged, "random" if "random" in chosen else chosen[0]
