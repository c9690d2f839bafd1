"""Inspect: filter, sort and page through generations; a detail view with highlighted spans."""
from __future__ import annotations

import math

import streamlit as st

from hallu_core.store.types import SPAN_TYPES
from hallu_core.ui.data import q
from hallu_core.ui.detail import show_detail
from hallu_core.ui.labeling_ui import label_link
from hallu_core.ui.widgets import checkpoint_options, context, empty_state, frame
from hallu_core.views import render
from hallu_core.views.generation_list import GenerationFilter, SORTS

frame()
st.title("Inspect")
if not q("overview")["generations"]:
    empty_state("No generations to inspect yet.")
    st.stop()

labels = checkpoint_options()
ANY = "any"
ctx = context()
if "f-ckpt" not in st.session_state or st.session_state.get("inspect-ctx", ctx) != ctx:
    # open on the sidebar's checkpoint and decoding (and follow them when they change), not on every output
    ctx_checkpoint, ctx_decoding = ctx
    st.session_state["f-ckpt"] = [ctx_checkpoint] if ctx_checkpoint in labels else []
    held = next((c["decodings"] for c in q("checkpoints") if c["checkpoint_id"] == ctx_checkpoint), [])
    st.session_state["f-dec"] = [ctx_decoding] if ctx_decoding in held else []
st.session_state["inspect-ctx"] = ctx
with st.expander("Filters", expanded=True):
    c1, c2, c3, c4 = st.columns(4)
    ckpts = c1.multiselect("Checkpoint", list(labels), format_func=labels.get, key="f-ckpt")
    decodings = sorted({d for c in q("checkpoints") if not ckpts or c["checkpoint_id"] in ckpts for d in c["decodings"]})
    decs = c2.multiselect("Decoding", decodings, key="f-dec")
    tasks = c3.multiselect("Task", [t for t in q("tasks") if t], key="f-task")
    detector = c4.selectbox("Detector", [ANY] + q("detectors"), key="f-det")
    c1, c2, c3, c4 = st.columns(4)
    types = c1.multiselect("Span type", list(SPAN_TYPES), key="f-type")
    flagged = c2.selectbox("Flagged by a detector", [ANY, "yes", "no"], key="f-flag")
    labeled = c3.selectbox("Labeled", [ANY, "yes", "no"], key="f-lab")
    search = c4.text_input("Search output or prompt", key="f-search")
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    use_score = c1.toggle("Filter by response score", key="f-use-score")
    lo, hi = c1.slider("Response score", 0.0, 1.0, (0.0, 1.0), 0.01, key="f-score", disabled=not use_score)
    knowledge = c2.multiselect("Facts", q("knowledge_values"), key="f-know",
                               help="Whether an example's facts were known to the base model, new in fine-tuning or "
                                    "unseen (its meta.knowledge; the demo records it).")
    sort = c3.selectbox("Sort by", list(SORTS), key="f-sort")
    page_size = c4.selectbox("Rows per page", [10, 25, 50, 100], index=1, key="f-size")

yes_no = {ANY: None, "yes": True, "no": False}
flt = GenerationFilter(
    checkpoint_ids=tuple(ckpts), decodings=tuple(decs), tasks=tuple(tasks), knowledge=tuple(knowledge),
    detector=None if detector == ANY else detector, span_types=tuple(types),
    min_score=lo if use_score else None, max_score=hi if use_score else None,
    flagged=yes_no[flagged], labeled=yes_no[labeled], search=search)
if st.session_state.get("inspect-filter") != (flt, sort, page_size):
    st.session_state["inspect-filter"] = (flt, sort, page_size)
    st.session_state["inspect-page"] = 1

total = q("count_generations", flt)
pages = max(1, math.ceil(total / page_size))
c1, c2 = st.columns([1, 3])
page = c1.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, key="inspect-page")
c2.markdown(f"**{total:,}** generations match.")
rows = q("list_generations", flt, sort, page - 1, page_size)
table = st.dataframe(
    rows, hide_index=True, on_select="rerun", selection_mode="single-row", key="inspect-table",
    column_order=["run", "checkpoint", "step", "decoding", "task", "output", "score", "n_spans", "span_types",
                  "labeled_by"],
    column_config={"output": st.column_config.TextColumn("output", width="large"),
                   "score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.2f"),
                   "n_spans": st.column_config.NumberColumn("spans", format="%d"),
                   "step": st.column_config.NumberColumn(format="%d")})

selected = table.selection.rows if table is not None else []
if selected and rows:
    position = (page - 1) * page_size + selected[0]
    if st.session_state.get("inspect-picked") != (position, rows[selected[0]]["id"]):
        st.session_state["inspect-picked"] = (position, rows[selected[0]]["id"])
        st.session_state["inspect-pos"] = position
        st.query_params["generation"] = rows[selected[0]]["id"]

gen_id = st.query_params.get("generation")
if not gen_id:
    st.caption("Select a row to see its detail, or open a link with ?generation=ID.")
    st.stop()

st.divider()
pos = st.session_state.get("inspect-pos")
c1, c2, c3, c4 = st.columns([1, 1, 2, 2])
if c1.button("← Previous", disabled=pos is None or pos <= 0, key="inspect-prev"):
    new = q("generation_id_at", flt, sort, pos - 1)
    if new:
        st.session_state["inspect-pos"], st.query_params["generation"] = pos - 1, new
        st.rerun()
if c2.button("Next →", disabled=pos is None or pos + 1 >= total, key="inspect-next"):
    new = q("generation_id_at", flt, sort, pos + 1)
    if new:
        st.session_state["inspect-pos"], st.query_params["generation"] = pos + 1, new
        st.rerun()
if pos is not None:
    c3.caption(f"Result {pos + 1:,} of {total:,}")

detail = q("generation_detail", gen_id)
if detail is None:
    st.warning(render.md_escape(f"No generation {gen_id!r} in this workspace."))
else:
    label_link(gen_id, c4)
    show_detail(detail, key="inspect-detail")
