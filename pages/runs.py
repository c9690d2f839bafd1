"""Runs: training curves beside hallucination rates, known vs new facts, decodings, and jobs."""
from __future__ import annotations

import streamlit as st

from hallu_core.ui import charts, forms
from hallu_core.ui.data import q
from hallu_core.ui.findings_ui import findings_section
from hallu_core.ui.judge import judge_picker
from hallu_core.ui.rates import RATE_COLUMNS, interval, rates_note
from hallu_core.ui.widgets import checkpoint_options, empty_state, frame
from hallu_core.views import judges, render
from hallu_core.views.queries import rate_points, source_name

frame()
st.title("Runs")
runs = q("runs")
if not runs:
    empty_state("No runs yet: start a fine-tune below or import generations.")
else:
    st.dataframe(
        [{"name": r["name"], "kind": r["run_kind"], "base model": r["base_model"], "status": r["status"],
          "checkpoints": r["checkpoints"], "last step": r["last_step"]} for r in runs],
        hide_index=True, key="runs-table",
        column_config={"last step": st.column_config.NumberColumn(format="%d")})
    by_id = {r["run_id"]: r for r in runs}
    wanted = st.query_params.get("run")
    ids = list(by_id)
    if wanted and wanted not in ids:
        st.warning(render.md_escape(f"No run {wanted!r} in this workspace (the link's ?run=); "
                                    "showing the first run."))
    run_id = st.selectbox("Run", ids, index=ids.index(wanted) if wanted in ids else 0,
                          format_func=lambda i: f"{by_id[i]['name']} ({by_id[i]['run_kind']})", key="runs-run")
    st.query_params["run"] = run_id
    run = by_id[run_id]

    rates = q("run_rates", run_id)
    run_ckpts = [c["checkpoint_id"] for c in q("checkpoints") if c["run_id"] == run_id]
    decodings = sorted({r["decoding"] for r in rates})
    pooled = "all decodings pooled"
    decoding = st.selectbox("Decoding for the rate curves", [pooled] + decodings, key="runs-decoding",
                            index=1 if decodings else 0)
    if decoding == pooled:  # pooled rates need their own estimate; per decoding reuses `rates`
        points = q("metric_points", run_id) + rate_points(q("run_rates", run_id, by_decoding=False))
    else:
        points = q("metric_points", run_id) + rate_points(rates, decoding)
    if points:
        st.plotly_chart(charts.run_curves_figure(points), key="runs-curves")
        st.caption("Loss curves share the step axis with the hallucination rates: val loss turning up while the "
                   "rates climb is overfitting. Dotted lines are labels (oracle is synthetic, gold and annotators "
                   "are people); rates are estimates with their 95% interval (bars), "
                   + ("pooled over every decoding." if decoding == pooled else f"of the {decoding} decoding only.")
                   + " " + rates_note([r for r in rates if decoding == pooled or r["decoding"] == decoding]))
    else:
        st.info("This run has no training metrics or judged generations yet.")

    findings_section(run_id, run_ckpts, None if decoding == pooled else decoding)
    tab_known, tab_dec, tab_cfg = st.tabs(["Known vs new facts", "Decoding strategies", "Config"])
    with tab_known:
        split = [r for r in q("run_rates", run_id, by_knowledge=True)
                 if r["knowledge"] != "unrecorded" and (decoding == pooled or r["decoding"] == decoding)]
        if not split:
            st.caption("This run's examples do not record whether their facts were known to the base model "
                       "(example meta `knowledge`: known/new, or `known`: true/false).")
        else:
            src = judge_picker("Judged by", "runs-known-src", checkpoint_ids=run_ckpts)
            chosen = judges.pool([r for r in split if src and r["source"] == source_name(src)],
                                 ("checkpoint", "step", "knowledge"))
            st.plotly_chart(charts.rate_lines(chosen, color="knowledge"), key="runs-known")
            st.caption(render.md_escape(f"Judged by {judges.describe(src)}; " + (
                "every decoding pooled." if decoding == pooled else f"{decoding} decoding only (the choice above).")))
            st.dataframe([{"checkpoint": r["checkpoint"], "step": r["step"], "knowledge": r["knowledge"],
                           "decoding": "pooled" if decoding == pooled else decoding, "rate": 100 * r["rate"],
                           "95% CI": interval(r), "outputs": r["n"], "labeled": r.get("labeled", 0)}
                          for r in sorted(chosen, key=lambda r: (r["step"] or 0, r["knowledge"]))],
                         hide_index=True, key="runs-known-table", column_config=RATE_COLUMNS)
    with tab_dec:
        if not decodings:
            st.caption("No judged generations in this run yet.")
        else:
            src = judge_picker("Judged by", "runs-dec-src", checkpoint_ids=run_ckpts)
            chosen = [r for r in rates if src and r["source"] == source_name(src)]
            st.plotly_chart(charts.rate_lines(chosen, color="decoding"), key="runs-dec")
            table: dict = {}
            for r in chosen:
                row = table.setdefault(r["step"], {"checkpoint": r["checkpoint"], "step": r["step"]})
                row[r["decoding"]] = f"{r['rate']:.1%} ({interval(r)})"
            st.dataframe(list(table.values()), hide_index=True, key="runs-dec-table")
            st.caption("Each cell: the estimated rate (its 95% interval).")
    with tab_cfg:
        st.json({"base_model": run["base_model"], "config": run["config"], "meta": run["meta"]}, expanded=False)

st.divider()
st.subheader("Start a job")
labels = checkpoint_options()
t_ft, t_dist, t_gen, t_det = st.tabs(["Fine-tune", "Distill", "Generate", "Detect"])
with t_ft:
    forms.finetune_form()
with t_dist:
    forms.distill_form(labels)
with t_gen:
    forms.generate_form(labels)
with t_det:
    forms.detect_form(labels)
st.subheader("Jobs")
forms.jobs_section()
