"""Hallucination rates as estimates with intervals: estimator.py holds the maths (labels drawn at random
plus a detector's scores, labels chosen otherwise as a census), table.py reads a group's sums from the
store. May import: `store`, `labeling` (what a synthetic annotator is); `views` builds the pages' rates on it.
"""
from hallu_core.rates.estimator import Estimate, estimate_rate, paired_difference
from hallu_core.rates.table import GROUPINGS, checkpoint_rates, rate_table

__all__ = ["Estimate", "estimate_rate", "paired_difference", "GROUPINGS", "checkpoint_rates", "rate_table"]
