"""Hallucination detectors: one protocol (`base`), one module per family, a lazy registry."""
from .base import DetectItem, DetectResult, Detector
from .registry import available_detectors, get_detector

__all__ = ["DetectItem", "DetectResult", "Detector", "available_detectors", "get_detector"]
