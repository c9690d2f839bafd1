"""Hallucination detection: the detectors, running them, metrics, evaluation, calibration, retraining."""
