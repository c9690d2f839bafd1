"""Compare: checkpoints, imported models or decodings side by side, span diffs, regressions and fixes."""
from __future__ import annotations

import streamlit as st

from hallu_core.data import prompts
from hallu_core.ui import charts, thresholds
from hallu_core.ui.data import q
from hallu_core.ui.judge import judge_picker
from hallu_core.ui.rates import interval
from hallu_core.ui.widgets import context, empty_state, frame, show_html
from hallu_core.views import compare, generation_list, judges, render

frame()
st.title("Compare")
ckpts = [c for c in q("checkpoints") if c["generations"]]
sides_all = [(c["checkpoint_id"], d) for c in ckpts for d in c["decodings"]]
if len(sides_all) < 2:
    empty_state("Comparing needs generations from at least two checkpoints, models or decodings.")
    st.stop()
names = {c["checkpoint_id"]: c["label"] for c in ckpts}


def side_label(side: tuple[str, str]) -> str:
    return f"{names.get(side[0], side[0])} · {side[1] or 'default'}"


ctx = context()  # the sidebar's checkpoint / decoding is B by default; A is the first of B's run (its base)
run_of = {c["checkpoint_id"]: c["run_id"] for c in ckpts}
b_default = ctx if ctx in sides_all else sides_all[-1]
# B with a prompt template ("greedy · grounded"): A is the same checkpoint's closed-book prompts
closed_book = (b_default[0], prompts.split(b_default[1] or "")[0])
a_default = closed_book if closed_book != b_default and closed_book in sides_all else next(
    (s for s in sides_all if run_of[s[0]] == run_of[b_default[0]] and s[1] == b_default[1] and s != b_default),
    next(s for s in sides_all if s != b_default))
default = [a_default, b_default]
c1, c2 = st.columns([3, 1])
sides = c1.multiselect("Checkpoints / models / decodings (the first is A, the second B)", sides_all, default=default,
                       format_func=side_label, key="cmp-sides")
with c2:
    source = judge_picker("Spans from (judge)", "cmp-source", checkpoint_ids=sorted({c for c, _ in sides}))
if len(sides) < 2 or source is None:
    st.info("Choose at least two sides, and a detector or labels to compare by.")
    st.stop()
side_a, side_b = sides[0], sides[1]
src_name = judges.describe(source)

st.subheader("Aggregate deltas")
changes = q("changes", side_a, side_b, source, limit=100)  # one pass over the eval set: deltas + both rankings
agg = changes["aggregate"]
st.caption(render.md_escape(f"A = {side_label(side_a)}, B = {side_label(side_b)}; over the {agg['n']:,} prompts "
                             f"both answered and {src_name} judged."))
m = st.columns(5)
paired = q("paired_rates", source, side_a, side_b)
if paired is None:
    m[0].metric("Hallucination rate B", "n/a", help="Neither labels nor detector scores on both sides.")
else:
    m[0].metric("Hallucination rate B", f"{paired['b']['estimate']:.1%}", f"{paired['estimate']:+.1%} vs A",
                delta_color="inverse", help=f"Estimated on the {paired['n']:,} prompts both answered "
                                            f"({paired['b']['method']}); B's 95% interval: {interval(paired['b'])}.")
m[1].metric("Mean spans B", f"{agg['b_mean_spans']:.2f}", f"{agg['b_mean_spans'] - agg['a_mean_spans']:+.2f}",
            delta_color="inverse")
m[2].metric("Regressions", f"{agg['regressions']:,}", help="prompts with more spans in B than in A")
m[3].metric("Fixes", f"{agg['fixes']:,}", help="prompts with fewer spans in B than in A")
m[4].metric("Newly flagged / cleared", f"{agg['newly_flagged']:,} / {agg['cleared']:,}")
if paired is not None:
    st.caption(render.md_escape(
        f"Rate B - rate A: {100 * paired['estimate']:+.1f} points, {interval(paired, difference=True)} paired on "
        f"the {paired['n']:,} prompts both answered ({paired['method']}; {paired['labeled_a']:,} / "
        f"{paired['labeled_b']:,} outputs labeled on A / B). Regressions, fixes and flags are the judge's own counts."))
rates = [r for r in q("judge_rates", source) if r["decoding"] == side_a[1]]
if rates:
    st.plotly_chart(charts.rate_bars(rates, title=f"Hallucination rate per checkpoint ({src_name}, {side_a[1]})"),
                    key="cmp-rates")

st.subheader("Same prompt, side by side")
search = st.text_input("Find a prompt", key="cmp-search")
shared = q("shared_examples", sides, limit=200, search=search)
options = {r["example_id"]: f"{r['example_id']} — {r['prompt']}" for r in shared}
wanted = st.query_params.get("example")
if wanted and wanted not in options:
    if not any(q("side_generation", wanted, side) for side in sides):  # a link to a prompt no side answered
        st.warning(render.md_escape(f"No prompt {wanted!r} answered by the chosen sides in this workspace "
                                    "(the link's ?example=); showing the first shared prompt instead."))
        del st.query_params["example"]
        wanted = None
    else:
        options = {wanted: wanted, **options}
if not options:
    st.info("No prompt was answered by every chosen side.")
else:
    ids = list(options)
    example_id = st.selectbox("Prompt", ids, index=ids.index(wanted) if wanted in ids else 0, format_func=options.get)
    st.query_params["example"] = example_id
    panels, texts, example = [], [], None
    limits = {}
    if source[0] == "detector":  # one threshold for the judging detector, on whatever scale its spans are
        shown = [det for side in sides if (g := q("side_generation", example_id, side))
                 for det in q("generation_detail", g)["detections"] if det.detector == source[1]]
        on_scale = thresholds.scale([s for det in shown for s in det.spans])
        limits = {source[1]: thresholds.slider(source[1], "cmp-threshold", on_scale)}
        for line in thresholds.notes({source[1]: on_scale}):
            st.caption(render.md_escape(line))
        if limits[source[1]] != thresholds.own_threshold(source[1]) and on_scale != "raw":
            st.caption("The aggregates and rankings above count the stored spans (the detector's own threshold); "
                       "this threshold filters the side-by-side view.")
    for side in sides:
        gid = q("side_generation", example_id, side)
        detail = q("generation_detail", gid) if gid else None
        example = example or (detail and detail["example"])
        if detail is None:
            panels.append((side_label(side), render.plain_text("", empty="(no output for this prompt)")))
            texts.append(("", []))
            continue
        kind, name = source
        spans = generation_list.detail_spans(detail, [name] if kind == "detector" else [], [name] if kind == "labels" else [])
        spans = thresholds.keep(spans, limits)
        panels.append((side_label(side), render.highlight_spans(detail["generation"].text, spans)))
        texts.append((detail["generation"].text, spans))
    with st.expander("Prompt, source and reference"):
        show_html(render.side_by_side([("Prompt", render.plain_text(example.prompt if example else "")),
                                       ("Source", render.plain_text(example.source if example else "")),
                                       ("Reference", render.plain_text(example.reference if example else ""))]))
    show_html(render.side_by_side(panels))
    show_html(render.legend())
    diff = compare.span_diff(texts[0][0], texts[0][1], texts[1][0], texts[1][1])
    d1, d2, d3 = st.columns(3)
    with d1:
        st.markdown(f"**Introduced in B** ({len(diff['introduced'])})")
        show_html(render.span_list(diff["introduced"], texts[1][0]))
    with d2:
        st.markdown(f"**Fixed since A** ({len(diff['fixed'])})")
        show_html(render.span_list(diff["fixed"], texts[0][0]))
    with d3:
        st.markdown(f"**In both** ({len(diff['kept'])})")
        show_html(render.span_list(diff["kept"], texts[1][0]))

st.subheader("Regressions and fixes over the eval set")
cols = ["example_id", "prompt", "a_spans", "b_spans", "delta", "a_score", "b_score"]
config = {"prompt": st.column_config.TextColumn(width="large"),
          "a_score": st.column_config.NumberColumn(format="%.2f"),
          "b_score": st.column_config.NumberColumn(format="%.2f")}
for tab, kind in zip(st.tabs(["Regressions (B worse)", "Fixes (B better)"]), ["regressions", "fixes"]):
    with tab:
        ranked = changes[kind]
        if not ranked:
            st.caption(render.md_escape(f"No {kind} between A and B by {src_name}."))
            continue
        picked = st.dataframe(ranked, column_order=cols, column_config=config, hide_index=True, on_select="rerun",
                              selection_mode="single-row", key=f"cmp-{kind}")
        rows = picked.selection.rows if picked is not None else []
        pick = ranked[rows[0]]["example_id"] if rows else None
        if pick and st.session_state.get(f"cmp-{kind}-applied") != pick:
            st.session_state[f"cmp-{kind}-applied"] = pick  # apply a new pick once, then the picker rules
            st.query_params["example"] = pick
            st.rerun()
