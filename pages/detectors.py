"""Detectors: precision / recall / F1 against the workspace's labels, a live PR curve, retraining."""
from __future__ import annotations

import streamlit as st

from hallu_core import calibration, jobs, label_training, render
from hallu_core.ui import detectors_ui as ui
from hallu_core.ui.data import q, store
from hallu_core.ui.widgets import empty_state, job_panel

TRAIN_JOB = "detectors_train_job"
PCT = st.column_config.NumberColumn(format="%.3f")

st.title("Detectors")
annotators, detectors = q("annotators"), q("detectors")
if not annotators or not detectors:
    empty_state("Measuring detectors needs labels and detections in this workspace.")
    st.stop()

c1, c2, c3 = st.columns([2, 2, 3])
gold = c1.selectbox("Labels to measure against", annotators, index=ui.default_annotator(annotators),
                    key="det_gold", help="An annotator, the imported gold labels, or the adjudicated set.")
runs = {r["run_id"]: r["name"] for r in q("runs")}
run_id = c2.selectbox("Run", [None, *runs], key="det_run",
                      format_func=lambda r: "all runs" if r is None else runs[r])
threshold = c3.slider("Span score threshold", 0.0, 1.0, 0.0, 0.01, key="det_threshold",
                      help="Keep detector spans scoring at least this; a response is flagged when a span remains.")

st.subheader("All detectors")
table = [{"detector": d, **calibration.flat(calibration.figures(ui.pairs(d, gold, run_id), threshold))}
         for d in detectors]
st.dataframe(table, hide_index=True, key="det_table",
             column_config={k: PCT for k in table[0] if k not in ("detector", "n")})
st.caption("n = outputs with a done label by the chosen annotator and a detection. Response level: positive "
           "when the output has a span. Span level: overlapping characters summed over the set; "
           "span_union_f1 counts each character once.")

detector = st.selectbox("Detector", detectors, key="det_detector")
pairs = ui.pairs(detector, gold, run_id)
if not pairs:
    st.info("This detector has not run on any labeled output yet.")
else:
    at = calibration.figures(pairs, threshold)
    m = st.columns(6)
    for col, (level, name) in zip(m, [(lv, k) for lv in ("response", "span") for k in ("precision", "recall", "f1")]):
        col.metric(f"{level} {name}", f"{at[level][name]:.3f}")
    st.plotly_chart(ui.pr_figure(calibration.pr_curve(pairs), at, f"{detector}: precision / recall"),
                    key="det_pr_curve")
    st.markdown("**Per checkpoint** (at the chosen threshold)")
    rows = calibration.per_checkpoint(pairs, threshold)
    st.dataframe(rows, hide_index=True, key="det_per_checkpoint",
                 column_config={k: PCT for k in rows[0] if k not in ("checkpoint", "step", "n")})

st.subheader("Learned detector")
st.caption("Train the learned detector on the chosen labels; the score is cross-validated with folds grouped "
           "by example, then the model is trained on every label.")
last = label_training.last_training(store())
if last:
    cv = last["cv"]
    st.text(f"Last training: {last['labels']} labels of {last['annotator']}, {last['folds']} folds — "
            f"cross-validated response F1 {cv['response']['f1']:.3f}, span F1 {cv['span']['f1']:.3f}")
    m = st.columns(4)
    m[0].metric("CV response F1", f"{cv['response']['f1']:.3f}")
    m[1].metric("CV span F1", f"{cv['span']['f1']:.3f}")
    m[2].metric("CV span precision", f"{cv['span']['precision']:.3f}")
    m[3].metric("CV span recall", f"{cv['span']['recall']:.3f}")
if st.button("(Re)train on these labels", key="det_train", icon=":material/model_training:"):
    try:
        st.session_state[TRAIN_JOB] = jobs.start_job(store(), label_training.JOB_KIND,
                                                     {"annotator": gold, "detector": "learned"})
    except (ValueError, OSError) as exc:
        st.error(render.md_escape(f"Could not start training: {exc}"))
if st.session_state.get(TRAIN_JOB):
    job_panel(st.session_state[TRAIN_JOB], key="det_train_panel")
