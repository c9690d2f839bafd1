"""Labeling by hand: the queue and every annotator action, span checks, and agreement between
annotators with adjudication.

May import: `store`, `data`, `detection` (evidence for accepted detector spans, span metrics).
"""
