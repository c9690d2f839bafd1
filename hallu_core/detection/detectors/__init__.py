"""Hallucination detectors: one protocol (`base`), one module per family, a lazy registry."""
from hallu_core.detection.detectors.base import DetectItem, DetectResult, Detector
from hallu_core.detection.detectors.registry import available_detectors, get_detector

__all__ = ["DetectItem", "DetectResult", "Detector", "available_detectors", "get_detector"]
