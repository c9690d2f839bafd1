"""Overview: the workspace at a glance, import a file, download an export."""
from __future__ import annotations

import streamlit as st

from hallu_core.data import export, io
from hallu_core.ui import charts
from hallu_core.ui.data import clear, q, store
from hallu_core.ui.judge import judge_picker
from hallu_core.ui.rates import RATE_COLUMNS, rate_table_rows, rates_note, skill_notes
from hallu_core.ui.widgets import empty_state, frame
from hallu_core.views import judges, render

KNOWLEDGE = ("known", "new", "unseen")  # meta.knowledge values, in the order of the story

frame()
st.title("Overview")
stats = q("overview")
people = q("human_labeled")
cols = st.columns(6)
for col, (label, value, why) in zip(cols, [
        ("Runs", f"{stats['runs']:,}", None), ("Checkpoints", f"{stats['checkpoints']:,}", None),
        ("Examples", f"{stats['examples']:,}", None), ("Generations", f"{stats['generations']:,}", None),
        ("Detections", f"{stats['detections']:,}", None),
        ("Labeled by people", f"{people / stats['generations'] if stats['generations'] else 0:.1%}",
         f"{people:,} generations have a done label by a person. Synthetic annotators (oracle) do not count: "
         f"with them, {stats['labeled_share']:.1%} have a label.")]):
    col.metric(label, value, help=why)

st.subheader("Hallucination rate over training")
ckpts = q("checkpoints")
finetuned = [c["checkpoint_id"] for c in ckpts if c["run_kind"] != "import"]
c1, c2, c3 = st.columns(3)
judge = judge_picker("Judged by", "overview-judge", checkpoint_ids=finetuned or None, container=c1)
rates = q("judge_rates", judge, by_knowledge=True) if judge else []
skill_notes(judge)
if not rates:
    empty_state("No detections or labels yet.")
else:
    decodings = sorted({r["decoding"] for r in rates if r["run_id"] in {c["run_id"] for c in ckpts
                                                                       if c["checkpoint_id"] in finetuned}})
    pooled = "all decodings pooled"
    decoding = c2.selectbox("Decoding", decodings + [pooled], key="overview-decoding",
                            index=decodings.index("greedy") if "greedy" in decodings else 0,
                            help="Rates are per decoding; pooling mixes e.g. greedy and sampled outputs.")
    trained = [r for r in rates if r["checkpoint_id"] in finetuned and (decoding == pooled or r["decoding"] == decoding)]
    # what fine-tuning does to facts the base model knew is the demo's story: shown first where it is recorded
    kinds = [k for k in KNOWLEDGE if any(r["knowledge"] == k for r in trained)]
    every = "all facts"
    facts = c3.selectbox("Facts", kinds + [every], key="overview-facts", disabled=not kinds,
                         help="Whether an example's facts were in pretraining (known), taught by fine-tuning (new) or "
                              "in neither (unseen), as its meta.knowledge records (the demo's do).")
    trained = [r for r in trained if facts == every or r["knowledge"] == facts]
    lines = judges.pool(trained, ("run", "run_id", "checkpoint", "step"))
    if lines:
        st.plotly_chart(charts.rate_lines(sorted(lines, key=lambda r: r["step"] or 0), color="run"),
                        key="overview-rates")
        st.caption(render.md_escape(
            f"Estimated share of outputs that hallucinate, judged by {judges.describe(judge)}, with its 95% interval "
            f"(bars), one line per fine-tune run over its checkpoints' steps; "
            + ("decodings pooled" if decoding == pooled else f"{decoding} decoding only")
            + ("" if facts == every else f"; {facts} facts only") + ". " + rates_note(lines)))
    elif finetuned:
        st.caption(render.md_escape(f"{judges.describe(judge)} judged no fine-tuned checkpoint."))
    imported_ids = tuple(c["checkpoint_id"] for c in ckpts if c["checkpoint_id"] not in finetuned and c["generations"])
    own = judge if any(r["checkpoint_id"] in imported_ids for r in rates) else q("default_judge", imported_ids)
    if imported_ids and own:
        rows = rates if own == judge else q("judge_rates", own)
        imported = judges.pool([r for r in rows if r["checkpoint_id"] in imported_ids], ("run", "checkpoint", "step"))
        st.markdown("**Imported models** (no training steps)")
        st.dataframe(rate_table_rows(sorted(imported, key=lambda r: (r["run"], r["step"]))),
                     hide_index=True, key="overview-imported", column_config=RATE_COLUMNS)
        st.caption(render.md_escape(
            f"Judged by {judges.describe(own)}" + ("" if own == judge else f" ({judges.describe(judge)} judged none)")
            + "; each model's decodings pooled (an import records one)."))

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
            st.session_state["export"] = (fmt, export.export_bytes(store(), fmt))
    ready = st.session_state.get("export")
    if ready:
        st.download_button(f"Download hallu-export.{ready[0]}", ready[1], file_name=f"hallu-export.{ready[0]}",
                           key="export-download")
