"""Detector registry: names to classes, imported lazily so heavy backends load on use."""
from __future__ import annotations

import importlib

# name -> (module inside hallu_core.detection.detectors, class name, default config)
_REGISTRY: dict[str, tuple[str, str, dict]] = {
    "lexical": ("lexical", "LexicalSupport", {}),
    "semantic": ("semantic", "SemanticSupport", {}),
    "confidence": ("confidence", "TokenConfidence", {}),
    "consistency": ("consistency", "SamplingConsistency", {}),
    "self_contradiction": ("contradiction", "SelfContradiction", {}),
    "record": ("record_claims", "RecordClaims", {}),
    "learned": ("learned", "LearnedDetector", {}),
    "lettuce": ("plugins", "LettuceDetector", {}),
    "nli": ("plugins", "NLIDetector", {}),
    "span": ("span", "SpanDetector", {}),
    "default": ("routed", "PerTaskDefault", {}),
}


def available_detectors() -> list[str]:
    return list(_REGISTRY)


def get_detector(name: str, **config):
    """A detector by name; `config` overrides its defaults (e.g. model=... for plug-ins)."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown detector {name!r}; choose from {', '.join(_REGISTRY)}")
    module_name, class_name, defaults = _REGISTRY[name]
    module = importlib.import_module(f"hallu_core.detection.detectors.{module_name}")
    detector = getattr(module, class_name)(**{**defaults, **config})
    detector.name = name
    return detector
