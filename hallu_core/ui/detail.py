"""The generation detail shared by Inspect and Compare: output with spans, source with evidence."""
from __future__ import annotations

import streamlit as st

from .. import queries, render
from .widgets import show_html


def span_toggles(detail: dict, key: str) -> tuple[list[str], list[str]]:
    """Per-detector and per-annotator toggles; returns the chosen detectors and annotators."""
    dets = sorted({d.detector for d in detail["detections"]})
    anns = sorted({lab.annotator for lab in detail["labels"]})
    options = dets + [f"labels:{a}" for a in anns]
    if not options:
        return [], []
    chosen = st.pills("Spans from", options, selection_mode="multi", default=dets or options, key=key) or []
    return [o for o in chosen if o in dets], [o.split(":", 1)[1] for o in chosen if o.startswith("labels:")]


def output_html(detail: dict, detectors: list[str] | None, annotators: list[str]) -> str:
    spans = queries.detail_spans(detail, detectors, annotators)
    return render.highlight_spans(detail["generation"].text, spans)


def header(detail: dict) -> str:
    gen, ckpt, run, ex = detail["generation"], detail["checkpoint"], detail["run"], detail["example"]
    parts = [f"{run.name if run else '?'} / {ckpt.name if ckpt else '?'}", f"decoding {gen.decoding_name or '-'}",
             f"sample {gen.sample_index}", f"task {ex.task if ex else '-'}", f"example {gen.example_id}"]
    return " · ".join(parts)


def show_detail(detail: dict, key: str) -> None:
    """Prompt, source (evidence highlighted) and reference beside the highlighted output."""
    gen, ex = detail["generation"], detail["example"]
    st.caption(render.md_escape(header(detail)))
    detectors, annotators = span_toggles(detail, key=f"{key}-toggles")
    spans = queries.detail_spans(detail, detectors, annotators)
    left, right = st.columns(2)
    with left:
        grounding(ex, spans)
    with right:
        st.markdown("**Output**")
        show_html(render.highlight_spans(gen.text, spans))
        show_html(render.legend(evidence=True))
        st.markdown(f"**Spans** ({len(spans)})")
        show_html(render.span_list(spans, gen.text))
        st.markdown("**Token confidence** (darker red = less likely)")
        show_html(render.token_heatmap(gen.text, gen.tokens))
    scores = {d.detector: round(d.response_score, 3) for d in detail["detections"]}
    if scores:
        st.caption("Response scores: " + ", ".join(f"{k} {v}" for k, v in scores.items()))


def grounding(ex, spans, what: str = "evidence") -> None:
    """Prompt, source and reference of an example, with the spans' evidence highlighted."""
    st.markdown("**Prompt**")
    show_html(render.plain_text(ex.prompt if ex else ""))
    st.markdown(f"**Source** ({what} highlighted)")
    show_html(render.highlight_evidence(ex.source if ex else "", spans))
    if ex and ex.reference:
        st.markdown("**Reference**")
        show_html(render.highlight_evidence(ex.reference, spans, field="reference"))
