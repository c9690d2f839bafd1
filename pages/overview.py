"""Overview: the workspace at a glance, import a file, download an export."""
from __future__ import annotations

import plotly.express as px
import streamlit as st

from hallu_core import io, render
from hallu_core.ui.data import clear, q, store
from hallu_core.ui.widgets import empty_state

st.title("Overview")
stats = q("overview")
cols = st.columns(6)
for col, (label, value) in zip(cols, [
        ("Runs", f"{stats['runs']:,}"), ("Checkpoints", f"{stats['checkpoints']:,}"),
        ("Examples", f"{stats['examples']:,}"), ("Generations", f"{stats['generations']:,}"),
        ("Detections", f"{stats['detections']:,}"), ("Labeled", f"{stats['labeled_share']:.1%}")]):
    col.metric(label, value)

st.subheader("Hallucination rate per checkpoint")
rates = q("hallucination_rates", by_decoding=False)
if not rates:
    empty_state("No detections or labels yet.")
else:
    for row in rates:
        row["checkpoint_label"] = f"{row['run']} / {row['checkpoint']}"
    fig = px.bar(rates, x="checkpoint_label", y="rate", color="source", barmode="group",
                 hover_data=["n", "positive", "step"], labels={"checkpoint_label": "checkpoint", "rate": "share flagged"})
    fig.update_layout(yaxis_tickformat=".0%", height=360, margin=dict(t=20, b=20), legend_title_text="detector / labels")
    st.plotly_chart(fig, key="overview-rates")
    st.caption("Share of responses with at least one span, per detector and per annotator's labels.")

ckpts = q("checkpoints")
if ckpts:
    st.subheader("Checkpoints")
    st.dataframe(
        [{"run": c["run"], "checkpoint": c["checkpoint"], "step": c["step"], "kind": c["run_kind"],
          "decodings": ", ".join(c["decodings"]), "generations": c["generations"]} for c in ckpts],
        hide_index=True,
        column_config={"step": st.column_config.NumberColumn(format="%d"),
                       "generations": st.column_config.NumberColumn(format="%d")})
    st.page_link("pages/runs.py", label="Training curves and jobs →", icon=":material/show_chart:")
elif not stats["generations"]:
    empty_state("This workspace is empty.")

left, right = st.columns(2)
with left:
    st.subheader("Import")
    st.caption("RAGTruth-schema JSONL (one generation per line, labels as gold), example rows, CSV or Parquet. "
               "A file with any problem is refused whole: nothing is stored.")
    upload = st.file_uploader("File to import", type=["jsonl", "json", "csv", "parquet"], key="import-file")
    if upload is not None and st.button("Import", key="import-go", type="primary"):
        try:
            summary = io.import_file(store(), data=upload.getvalue(), name=upload.name)
        except io.ImportValidationError as exc:
            st.error(render.md_escape(f"{upload.name} was refused; nothing was stored."))
            st.code("\n".join(str(p) for p in exc.problems[:50]) or str(exc), language=None)
        except ValueError as exc:
            st.error(render.md_escape(exc))
        else:
            clear()
            st.success(render.md_escape(f"Imported {upload.name}: " + ", ".join(
                f"{k} {v}" for k, v in summary.items() if isinstance(v, (int, float)))))
with right:
    st.subheader("Export")
    fmt = st.radio("Format", ["jsonl", "csv", "parquet"], horizontal=True, key="export-fmt",
                   help="JSONL follows the RAGTruth schema; CSV and Parquet are flat tables for pandas.")
    if st.button("Prepare export", key="export-go", disabled=not stats["generations"]):
        with st.spinner("Writing the export…"):
            st.session_state["export"] = (fmt, io.export_bytes(store(), fmt))
    ready = st.session_state.get("export")
    if ready:
        st.download_button(f"Download hallu-export.{ready[0]}", ready[1], file_name=f"hallu-export.{ready[0]}",
                           key="export-download")
