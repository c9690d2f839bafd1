"""Plotly figures for the pages (built from the small aggregated rows of `hallu_core.views.queries`)."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

# sixteen distinguishable colours: a figure gives each of its series its own, across every subplot
# (Tableau 10, then the dark shades of Tableau 20b: no two alike, none too pale on white)
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#000000"]
# the lines of one subplot also differ in dash and marker, so a line drawn over an equal one still shows
# (labels are dotted: people's or the oracle's verdicts, not a detector's)
DASHES = ["solid", "dash", "dashdot", "longdash", "longdashdot"]
SYMBOLS = ["circle", "diamond", "square", "triangle-up", "x", "star", "cross", "triangle-down"]


def run_curves_figure(points: list[dict], title: str = "") -> go.Figure:
    """Loss curves above, hallucination rates below, sharing the step axis: overfitting shows
    as val loss turning up while the rates climb."""
    panels = [p for p in ("loss", "hallucination rate", "metric", "learning rate")
              if any(x["panel"] == p for x in points)]
    panels = panels or ["loss"]
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[p.capitalize() for p in panels])
    series = sorted({(p["panel"], p["series"]) for p in points})
    drawn: dict[tuple, str] = {}  # (panel, the line's points) -> the series first drawn with them
    for i, (panel, name) in enumerate(series):
        mine = [p for p in points if p["series"] == name and p["panel"] == panel]
        xs, ys = [p["step"] for p in mine], [p["value"] for p in mine]
        bars = interval_bars([{**p, "rate": p["value"]} for p in mine])
        j = [s for s in series if s[0] == panel].index((panel, name))  # its place in its subplot
        same = drawn.setdefault((panel, tuple(xs), tuple(ys)), name)  # `default` equal to `lexical`: say so
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name if same == name else f"{name} (= {same})",
                                 error_y=bars, marker=dict(symbol=SYMBOLS[j % len(SYMBOLS)], size=max(5, 10 - 2 * j)),
                                 line=dict(color=PALETTE[i % len(PALETTE)],
                                           dash="dot" if name.startswith("labels:") else DASHES[j % len(DASHES)]),
                                 legendgroup=panel, legendgrouptitle_text=panel),
                      row=panels.index(panel) + 1, col=1)
    if "hallucination rate" in panels:
        fig.update_yaxes(tickformat=".0%", rangemode="tozero", row=panels.index("hallucination rate") + 1, col=1)
    if "learning rate" in panels:  # its own axis: beside grad norms (~1-10) a rate of 3e-4 is drawn flat at 0
        fig.update_yaxes(exponentformat="e", rangemode="tozero", row=panels.index("learning rate") + 1, col=1)
    fig.update_xaxes(title_text="step", row=len(panels), col=1)
    fig.update_layout(height=260 * len(panels) + 60, margin=dict(t=40, b=30), title=title or None,
                      hovermode="x unified")
    return fig


def rate_lines(rows: list[dict], color: str, dash: str | None = None, title: str = "") -> go.Figure:
    """Hallucination rate over checkpoint steps, one line per `color` (and `dash`) value."""
    fig = go.Figure()
    keys = sorted({(str(r.get(color)), str(r.get(dash)) if dash else "") for r in rows})
    colors = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(sorted({k[0] for k in keys}))}
    dashes = {d: s for d, s in zip(sorted({k[1] for k in keys}), ["solid", "dot", "dash", "dashdot", "longdash"] * 4)}
    for c, d in keys:
        sel = sorted((r for r in rows if str(r.get(color)) == c and (not dash or str(r.get(dash)) == d)),
                     key=lambda r: r["step"] or 0)
        fig.add_trace(go.Scatter(x=[r["step"] for r in sel], y=[r["rate"] for r in sel], mode="lines+markers",
                                 name=f"{c} · {d}" if dash else c, error_y=interval_bars(sel),
                                 customdata=[[r["n"], hover_detail(r)] for r in sel],
                                 hovertemplate="step %{x}: %{y:.1%} %{customdata[1]}",
                                 line=dict(color=colors[c], dash=dashes.get(d, "solid"))))
    estimated = any("estimate" in r for r in rows)
    fig.update_layout(height=340, margin=dict(t=40 if title else 20, b=30), title=title or None,
                      yaxis_tickformat=".0%", xaxis_title="step",
                      yaxis_title="hallucination rate (95% interval)" if estimated else "share flagged",
                      showlegend=True, legend_title_text=color)  # a lone line still says what it is
    fig.update_yaxes(rangemode="tozero")
    return fig


def interval_bars(rows: list[dict]) -> dict | None:
    """Plotly error bars from rows' ci_low / ci_high (rate estimates); None where no row has an interval."""
    if not any(r.get("ci_low") is not None for r in rows):
        return None
    return dict(type="data", symmetric=False, thickness=1.2, width=4,
                array=[0 if r.get("ci_high") is None else r["ci_high"] - r["rate"] for r in rows],
                arrayminus=[0 if r.get("ci_low") is None else r["rate"] - r["ci_low"] for r in rows])


def hover_detail(r: dict) -> str:
    """What stands behind a rate, for its hover text: interval, labels, outputs, method."""
    if "estimate" not in r:
        return f"({r['positive']} of {r['n']} flagged)"
    interval = "no interval" if r.get("ci_low") is None else f"95% CI {r['ci_low']:.1%}-{r['ci_high']:.1%}"
    return f"({interval}; {r['labeled']} of {r['n']} outputs labeled; {r['method']})"


def rate_bars(rows: list[dict], title: str = "") -> go.Figure:
    """Hallucination rate per checkpoint as bars (one bar group per checkpoint), with intervals where known."""
    labels = [f"{r['run']} / {r['checkpoint']}" for r in rows]
    fig = go.Figure(go.Bar(x=labels, y=[r["rate"] for r in rows], marker_color=PALETTE[0], error_y=interval_bars(rows),
                           text=[f"{r['rate']:.0%}" for r in rows], textposition="outside",
                           customdata=[hover_detail(r) for r in rows], hovertemplate="%{x}: %{y:.1%} %{customdata}"))
    estimated = any("estimate" in r for r in rows)
    fig.update_layout(height=340, margin=dict(t=40 if title else 20, b=30), title=title or None, yaxis_tickformat=".0%",
                      yaxis_title="hallucination rate (95% interval)" if estimated else "share flagged")
    return fig
