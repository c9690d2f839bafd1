"""Hallucination detection: the detector protocol and its families (`detectors/`), running them over
a workspace, metrics and evaluation against labels, calibration, and retraining learned detectors.

May import: `store`, `data`.
"""
