"""How labeled items were chosen, and what a rate estimator reads back.

Every label records its `selection` (store.types.SELECTIONS): the queue order that offered the item, "link"
for a deep link, "import" for imported gold. Only a random draw is a fair sample of its scope; an
estimator treats the others as chosen on purpose (hallu_core/rates).

The random order is a seeded shuffle: each generation id gets a fixed pseudo-random key, so the order
is the same on every reload, in every session and for every annotator (their random labels overlap,
which agreement needs), and outputs added later do not reorder the others.
"""
from __future__ import annotations

import zlib
from collections import defaultdict
from typing import Iterable

import numpy as np

from hallu_core.labeling.spans import ADJUDICATED
from hallu_core.store.database import Store

SHUFFLE_SEED = 0x68616C6C  # "hall": fixed, so that the random order never changes
_MASK = np.uint64(0xFFFFFFFF)


def shuffle_keys(ids: list[str]) -> np.ndarray:
    """A pseudo-random 32-bit key per id: CRC-32 of the id (fast in C, but linear), mixed by MurmurHash3's
    finalizer so that ids differing in a character or two ("17", "18") land far apart."""
    h = np.fromiter((zlib.crc32(i.encode("utf-8"), SHUFFLE_SEED) for i in ids), dtype=np.uint64, count=len(ids))
    for shift, multiplier in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        h ^= h >> np.uint64(shift)
        h = (h * np.uint64(multiplier)) & _MASK
    return h ^ (h >> np.uint64(16))


def random_order(rows: list[tuple[str, int]], limit: int) -> list[tuple[str, int]]:
    """(generation id, finished) rows, the unfinished first, each part in the seeded random order."""
    if not rows:
        return []
    ids = [r[0] for r in rows]
    finished = np.fromiter((r[1] for r in rows), dtype=np.int8, count=len(rows))
    return [rows[i] for i in np.lexsort((shuffle_keys(ids), finished))[:limit]]


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
