"""The generation detail shared by Inspect and Compare: output with spans, source with evidence."""
from __future__ import annotations

import streamlit as st

from hallu_core.data import prompts
from hallu_core.ui import thresholds
from hallu_core.ui.judge import JUDGE, adopt_url_judge
from hallu_core.ui.widgets import show_html
from hallu_core.views import generation_list, judges, render


def span_toggles(detail: dict, key: str) -> tuple[list[str], list[str]]:
    """Per-detector and per-annotator toggles; returns the chosen detectors and annotators."""
    dets = sorted({d.detector for d in detail["detections"]})
    anns = sorted({lab.annotator for lab in detail["labels"]})
    options = dets + [f"labels:{a}" for a in anns]
    if not options:
        return [], []
    names = {o: judges.describe(("labels", o[7:]) if o.startswith("labels:") else ("detector", o)) for o in options}
    chosen = st.pills("Spans from", options, selection_mode="multi", default=default_toggles(dets, anns),
                      key=key, format_func=names.get,
                      help="By default the judge's labels (people's first) and one detector (`default`).") or []
    return [o for o in chosen if o in dets], [o.split(":", 1)[1] for o in chosen if o.startswith("labels:")]


def default_toggles(dets: list[str], anns: list[str]) -> list[str]:
    """The chosen judge (or the best labels of this output) and one detector, not every detector at once."""
    adopt_url_judge()
    choice = st.session_state.get(JUDGE, "")
    out = []
    if choice.startswith("labels:") and choice[7:] in anns:
        out.append(choice)
    elif anns:
        out.append("labels:" + judges.rank({("labels", a): 1 for a in anns})[0][1])
    if choice in dets:
        out.append(choice)
    elif dets:
        out.append(judges.DEFAULT_DETECTOR if judges.DEFAULT_DETECTOR in dets else dets[0])
    return out


def output_html(detail: dict, detectors: list[str] | None, annotators: list[str]) -> str:
    spans = generation_list.detail_spans(detail, detectors, annotators)
    return render.highlight_spans(detail["generation"].text, spans)


def header(detail: dict) -> str:
    gen, ckpt, run, ex = detail["generation"], detail["checkpoint"], detail["run"], detail["example"]
    decoding, template = prompts.split(gen.decoding_name or "-")
    parts = [f"{run.name if run else '?'} / {ckpt.name if ckpt else '?'}", f"decoding {decoding}",
             *([f"prompt template {template}"] if template != prompts.CLOSED_BOOK else []),
             f"sample {gen.sample_index}", f"task {ex.task if ex else '-'}", f"example {gen.example_id}"]
    return " · ".join(parts)


def show_detail(detail: dict, key: str) -> None:
    """Prompt, source (evidence highlighted) and reference beside the highlighted output."""
    gen, ex = detail["generation"], detail["example"]
    st.caption(render.md_escape(header(detail)))
    detectors, annotators = span_toggles(detail, key=f"{key}-toggles")
    spans = threshold_filter(detail, detectors, annotators, key)
    left, right = st.columns(2)
    with left:
        grounding(ex, spans)
        seen = prompts.as_seen(gen.meta, ex.prompt, ex.source) if ex else None
        if seen is not None:
            with st.expander("Prompt as the model saw it"):
                st.code(seen, language=None, wrap_lines=True)  # st.code shows text, never HTML
    with right:
        st.markdown("**Output**")
        show_html(render.highlight_spans(gen.text, spans))
        show_html(render.legend(evidence=True))
        st.markdown(f"**Spans** ({len(spans)})")
        show_html(render.span_list(spans, gen.text))
        st.markdown("**Token confidence** (darker red = less likely)")
        show_html(render.token_heatmap(gen.text, gen.tokens))
    scores = {d.detector: f"{d.response_score:.3f}" + (" (raw)" if thresholds.is_raw(d.detector, d.spans) else "")
              for d in detail["detections"]}
    if scores:
        st.caption(render.md_escape("Response scores (probability the output is hallucinated): "
                                    + ", ".join(f"{k} {v}" for k, v in scores.items())))


def threshold_filter(detail: dict, detectors: list[str], annotators: list[str], key: str) -> list[dict]:
    """The chosen spans, each detector's at or above its threshold (sliders in an expander)."""
    spans = generation_list.detail_spans(detail, detectors, annotators)
    shown = {d.detector: thresholds.scale(d.spans) for d in detail["detections"] if d.detector in detectors}
    if not shown:
        return spans
    with st.expander("Span thresholds (calibrated: 0.5 = as likely hallucinated as not)"):
        limits = thresholds.sliders(shown, key=f"{key}-threshold")
    for line in thresholds.notes(shown):
        st.caption(render.md_escape(line))
    kept = thresholds.keep(spans, limits)
    if len(kept) < len(spans):
        st.caption(f"{len(spans) - len(kept)} detector span(s) under the threshold hidden.")
    return kept


def grounding(ex, spans, what: str | None = "evidence") -> None:
    """Prompt, source and reference of an example, with the spans' evidence highlighted (`what` None: none)."""
    st.markdown("**Prompt**")
    show_html(render.plain_text(ex.prompt if ex else ""))
    st.markdown(f"**Source** ({what} highlighted)" if what else "**Source**")
    show_html(render.highlight_evidence(ex.source if ex else "", spans))
    if ex and ex.reference:
        st.markdown("**Reference**")
        show_html(render.highlight_evidence(ex.reference, spans, field="reference"))
