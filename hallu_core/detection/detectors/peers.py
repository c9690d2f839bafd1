"""Peer support: judging an output against the other outputs for the same prompt (`DetectItem.samples`).

Models answering one prompt share its difficulty: a passage that leaves every answer partly
unsupported raises all their scores alike. Taken against the peers' median, a score says how much
more suspect this output is than the others. On RAGTruth's tuning part (6 models per source) that
ranked QA responses at AUC 0.82 (learned score alone: 0.72) and Summary at 0.76 (coverage: 0.64),
and Data2txt worse (0.76 vs 0.84: models misread the same record fields alike); bench/peer_support.py.
"""
from __future__ import annotations

import statistics


def relative_to_peers(score: float, peer_scores: list[float]) -> float:
    """(score - the peers' median + 1) / 2, in [0, 1]: 0.5 is as suspect as the typical peer. Without
    peers nothing is subtracted: (score + 1) / 2 keeps such an output on the same scale as the rest
    (mapping it to 0.5 instead cost Summary's ranking AUC 0.04 on tuning; the raw score, 0.16)."""
    median = statistics.median(peer_scores) if peer_scores else 0.0
    return round((score - median + 1) / 2, 4)
