"""Per-detector span thresholds on the common calibrated scale, shared by Inspect, Compare and Detectors.

Each detector starts at its own threshold (the one its calibration map ships with); a threshold
the user picks is kept for the session, per detector, across pages. Detections stored before
their detector was calibrated (spans without a raw score) carry raw scores: they start at 0
(everything shown) and are marked as raw, since a calibrated threshold means nothing on them.
"""
from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from hallu_core.detection import workspace_calibration
from hallu_core.detection.detectors import calibrate
from hallu_core.ui.data import store

CHOSEN = "span_thresholds"  # session key: detector -> threshold the user picked (never a widget key)


def own_threshold(detector: str) -> float:
    """The threshold detection runs in this workspace use (its refitted map, else the shipped one)."""
    return workspace_calibration.own_threshold(store(), detector) or 0.0


def scale(spans: Iterable) -> str:
    """"calibrated" when the detection's spans carry their raw score, "raw" when they do not, "" without spans."""
    flags = {(s.get("raw_score") if isinstance(s, dict) else s.raw_score) is not None for s in spans}
    return "calibrated" if flags == {True} else "raw" if flags else ""


def default_threshold(detector: str, on_scale: str) -> float:
    return own_threshold(detector) if on_scale != "raw" else 0.0


def threshold_for(detector: str, on_scale: str = "calibrated") -> float:
    chosen = st.session_state.get(CHOSEN, {}).get((detector, on_scale == "raw"))
    return default_threshold(detector, on_scale) if chosen is None else chosen


def note(detector: str, on_scale: str) -> str:
    if on_scale != "raw":
        return ""
    if workspace_calibration.own_threshold(store(), detector) is None:
        return no_map(detector)
    return (f"{detector}'s detections here were stored before it was calibrated (and before its evidence was "
            "checked): raw scores, shown unfiltered; re-run detection to put them on the common scale.")


def slider(detector: str, key: str, on_scale: str = "calibrated", container=None) -> float:
    """A 0-1 threshold slider for one detector, starting at its remembered or own threshold."""
    where = container or st
    own = default_threshold(detector, on_scale)
    raw = on_scale == "raw"
    widget = f"{key}-{detector}" + ("-raw" if raw else "")  # a raw and a calibrated slider never share a value

    def remember() -> None:  # a callback, so whatever the page drew before the slider sees the new value
        chosen = st.session_state.setdefault(CHOSEN, {})
        chosen[(detector, raw)] = st.session_state[widget]
    return where.slider(
        f"{detector} span threshold" + (" (raw scores)" if raw else ""), 0.0, 1.0, threshold_for(detector, on_scale),
        0.01, key=widget, on_change=remember,
        help=(f"Show {detector}'s spans scoring at least this. Scores are probabilities that the span is "
              f"hallucinated, calibrated on labels, so one threshold means the same for every detector; "
              f"{detector}'s own threshold is {own:.2f}.") if not raw else note(detector, on_scale))


def sliders(detections: dict[str, str], key: str, container=None) -> dict[str, float]:
    """{detector: threshold} from one slider per detector ({detector: scale} in)."""
    return {detector: slider(detector, key, on_scale, container) for detector, on_scale in detections.items()}


def notes(detections: dict[str, str]) -> list[str]:
    return [n for detector, on_scale in detections.items() if (n := note(detector, on_scale))]


def keep(spans: list[dict], thresholds: dict[str, float]) -> list[dict]:
    """Label spans, and detector spans scoring at least their detector's threshold."""
    return [s for s in spans if not s.get("detector") or s.get("score", 1.0) >= thresholds.get(s["detector"], 0.0)]


def provenance(detector: str) -> str:
    """Where the detector's current calibration comes from, in one line."""
    for directory, where in ((workspace_calibration.map_dir(store()), "this workspace"), (None, "Hallu")):
        try:
            cal = calibrate.load(detector, directory)
        except ValueError as exc:
            return f"{detector}'s calibration map cannot be read: {exc}"
        if cal is not None:
            fitted = cal.meta.get("fitted_on", "labels")
            return (f"{detector}'s scores are calibrated by a map from {where}, fitted on {fitted}; "
                    f"its own threshold is {cal.threshold:.2f}.")
    return no_map(detector)


def no_map(detector: str) -> str:
    return f"{detector} has no calibration map: its scores are raw, not comparable with other detectors'."


def is_raw(detector: str, spans: Iterable) -> bool:
    """Whether a detection's scores are raw: spans without raw scores, or no spans from a detector with no map."""
    on_scale = scale(spans)
    return on_scale == "raw" or (not on_scale and workspace_calibration.own_threshold(store(), detector) is None)

