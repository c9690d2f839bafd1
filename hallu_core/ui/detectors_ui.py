"""Detectors page helpers: cached threshold counts of the label/detection pairs, the PR-curve figure."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from hallu_core.detection.live_counts import LiveCounts
from hallu_core.detection.threshold_counts import ThresholdCounts
from hallu_core.ui.charts import PALETTE
from hallu_core.ui.data import _store, data_version, store, workspace_path


# a few (detector, annotator) pairs are in use at once; each keeps ~450 bytes a labeled output (74 MB at 166,670)
@st.cache_resource(show_spinner=False, max_entries=16)
def _live(path: str, detector: str, annotator: str) -> LiveCounts:
    return LiveCounts(detector, annotator)


@st.cache_data(show_spinner=False, max_entries=128)
def _counts(path: str, version: tuple, detector: str, annotator: str, run_id: str | None) -> ThresholdCounts:
    return _live(path, detector, annotator).counts(_store(path), run_id)


def threshold_counts(detector: str, annotator: str, run_id: str | None = None) -> ThresholdCounts:
    """One detector's labeled pairs, reduced to its figures at any threshold; cached until the workspace
    changes (a few arrays: a cache hit unpickles them in milliseconds), and after a change only the pairs
    it touched are read again (live_counts.py: a full read takes seconds at 166,000 labels)."""
    path = workspace_path()
    store()
    return _counts(path, data_version(path), detector, annotator, run_id)


def pr_figure(curve: list[dict], at: dict, title: str = "") -> go.Figure:
    """Span- and response-level precision over recall; the current threshold marked on both."""
    fig = go.Figure()
    for i, level in enumerate(("span", "response")):
        fig.add_trace(go.Scatter(
            x=[p[f"{level}_recall"] for p in curve], y=[p[f"{level}_precision"] for p in curve],
            mode="lines+markers", name=f"{level} level", line=dict(color=PALETTE[i], shape="hv"),
            customdata=[p["threshold"] for p in curve],
            hovertemplate="threshold %{customdata:.3f}<br>recall %{x:.3f}<br>precision %{y:.3f}"))
        fig.add_trace(go.Scatter(
            x=[at[level]["recall"]], y=[at[level]["precision"]], mode="markers", showlegend=False,
            name=f"{level} at threshold", marker=dict(size=14, color=PALETTE[i], symbol="star",
                                                      line=dict(width=1, color="#212529"))))
    fig.update_layout(title=title or None, height=420, margin=dict(t=40, b=30),
                      xaxis=dict(title="recall", range=[-0.02, 1.02]),
                      yaxis=dict(title="precision", range=[-0.02, 1.02]))
    return fig



def flag_rule(flags: dict) -> str:
    """The rule a stored flag follows, in words (workspace_calibration.flag_thresholds)."""
    per_task = ", ".join(f"{t} {v:.2f}" for t, v in sorted(flags["response"].items()) if t)
    other = flags["response"].get("", 0.0)
    return (f"Stored flags keep spans scoring at least {flags['span']:.2f}" + (
        f", in responses whose score reaches their task's operating threshold ({per_task}; other tasks {other:.2f})"
        if per_task else "") + ": the slider above re-cuts the spans only, to show what another threshold would do.")
