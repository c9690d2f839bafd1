"""Detectors: precision / recall / F1 against the workspace's labels, a live PR curve, retraining."""
from __future__ import annotations

import streamlit as st

from hallu_core.detection import evaluation, label_training, workspace_calibration
from hallu_core.jobs import runner as jobs
from hallu_core.ui import detectors_ui as ui, thresholds
from hallu_core.ui.data import q, store
from hallu_core.ui.judge import judge_picker
from hallu_core.ui.widgets import empty_state, frame, job_panel
from hallu_core.views import judges, render

TRAIN_JOB = "detectors_train_job"
CALIBRATE_JOB = "detectors_calibrate_job"
PCT = st.column_config.NumberColumn(format="%.3f")

frame()
st.title("Detectors")
annotators, detectors = q("annotators"), q("detectors")
if not annotators or not detectors:
    empty_state("Measuring detectors needs labels and detections in this workspace.")
    st.stop()

c1, c2, c3 = st.columns([2, 2, 3])
judge = judge_picker("Labels to measure against", "det_gold", kinds=("labels",), container=c1)
gold = judge[1]
who = gold + (" (synthetic)" if judges.is_synthetic(gold) else "")
runs = {r["run_id"]: r["name"] for r in q("runs")}
run_id = c2.selectbox("Run", [None, *runs], key="det_run",
                      format_func=lambda r: "all runs" if r is None else runs[r])
c3.caption("Span thresholds are per detector, on one calibrated scale (a span's score is the probability it is "
           "hallucinated): each starts at the detector's own threshold; choose one below the table.")
counts_of = {d: ui.threshold_counts(d, gold, run_id) for d in detectors}  # each cached copy fetched once per run
scales = {d: counts_of[d].scale for d in detectors}
limit = {d: thresholds.threshold_for(d, scales[d]) for d in detectors}

st.subheader("All detectors")
trained_on = {d: (label_training.last_training(store(), d) or {}).get("annotator") for d in detectors}
measured = [d for d in detectors if counts_of[d].n]  # a row of zeros would read as a bad detector
refit_on = {d: workspace_calibration.calibrated_on(store(), d) for d in measured}
in_sample = [d for d in measured if gold in (trained_on[d], refit_on[d])]  # fitted on the very labels measured


def measured_on(detector: str) -> str:
    if detector in in_sample:
        return ("its training labels (in-sample)" if trained_on[detector] == gold
                else "the labels its calibration was refit on (in-sample)")
    gids = counts_of[detector].generation_ids
    tuned = evaluation.dev_tuning_rows(store(), list(gids)) if detector in evaluation.SHIPPED_TUNED_ON_DEV else 0
    return (f"partly Hallu's tuning rows ({tuned} of {len(gids)}; lockbox in docs/detectors.md)" if tuned
            else "not trained on them here")


table = [{"detector": d, "measured on": measured_on(d),
          "threshold": limit[d], "scores": scales[d] or "-",
          **evaluation.flat(counts_of[d].figures(limit[d]))}
         for d in measured]
if table:
    st.dataframe(table, hide_index=True, key="det_table",
                 column_config={k: PCT for k in table[0] if k not in ("detector", "n", "measured on", "scores")})
unmeasured = [d for d in detectors if d not in measured]
if unmeasured:
    st.caption(render.md_escape(f"Not run on any output {who} labeled, so not measured here: "
                                f"{', '.join(unmeasured)}."))
st.caption(render.md_escape(
    f"n = outputs with a done label by {who} and a detection. Response level: positive when "
    "the output has a span. Span level: overlapping characters summed over the set, each character once "
    "(overlapping spans of one output are merged first)."))
if in_sample:
    st.warning(render.md_escape(
        f"{', '.join(in_sample)}: trained, or calibrated, on these labels ({gold}): the figures here are in-sample "
        "and overstate it. Cross-validated figures: under Learned detector below (training) or in the calibration "
        "job's summary (out of fold)."), icon=":material/warning:")

if st.session_state.get("det_detector") not in detectors:
    st.session_state["det_detector"] = next((d for d in (judges.DEFAULT_DETECTOR, *measured) if d in measured),
                                            detectors[0])
detector = st.selectbox("Detector", detectors, key="det_detector",
                        format_func=lambda d: d if d in measured else f"{d} (not run on these labels)")
counts = counts_of[detector]
if not counts.n:
    st.info(render.md_escape(f"{detector} has not run on any output {who} labeled; "
                             f"detectors measured on them: {', '.join(measured) or 'none'}."))
else:
    if detector in in_sample:
        st.caption("In-sample: trained on these labels (see the warning above).")
    threshold = thresholds.slider(detector, "det_threshold", scales[detector])
    for line in dict.fromkeys([*thresholds.notes({detector: scales[detector]}), thresholds.provenance(detector),
                               ui.flag_rule(workspace_calibration.flag_thresholds(store(), detector))]):
        st.caption(render.md_escape(line))
    not_ready = workspace_calibration.readiness(store(), gold)
    if st.button(f"Calibrate {detector} on these labels", key="det_calibrate", disabled=not_ready is not None,
                 icon=":material/tune:", help="Refit this detector's score calibration on the chosen labels (this "
                 "workspace's domain: maps shipped with Hallu are fitted on RAGTruth), then re-detect with it."):
        try:
            st.session_state[CALIBRATE_JOB] = jobs.start_job(store(), workspace_calibration.JOB_KIND,
                                                             {"detector": detector, "annotator": gold}, once=True)
        except (ValueError, OSError) as exc:
            st.error(render.md_escape(f"Could not start calibration: {exc}"))
    if not_ready:
        st.caption(render.md_escape(f"Calibrating on {gold}'s labels is not possible yet: {not_ready}."))
    if st.session_state.get(CALIBRATE_JOB):
        job_panel(st.session_state[CALIBRATE_JOB], key="det_calibrate_panel")
    at = counts.figures(threshold)
    m = st.columns(6)
    for col, (level, name) in zip(m, [(lv, k) for lv in ("response", "span") for k in ("precision", "recall", "f1")]):
        col.metric(f"{level} {name}", f"{at[level][name]:.3f}")
    st.plotly_chart(ui.pr_figure(counts.pr_curve(), at, f"{detector}: precision / recall"),
                    key="det_pr_curve")
    st.markdown("**Per checkpoint** (at the chosen threshold)")
    rows = counts.per_checkpoint(threshold)
    st.dataframe(rows, hide_index=True, key="det_per_checkpoint",
                 column_config={k: PCT for k in rows[0] if k not in ("checkpoint", "step", "n")})

st.subheader("Learned detector")
st.caption("Train the learned detector on the chosen labels; the score is cross-validated with folds grouped "
           "by example, then the model is trained on every label. `span` (the token classifier) is fine-tuned "
           "from its shipped weights: minutes per fold on a CPU.")
train_name = st.selectbox("Detector to train", ["learned", "span"], key="det_train_detector")
last = label_training.last_training(store(), train_name)
if last:
    cv = last["cv"]
    st.text(f"Last training: {last['labels']} labels of {last['annotator']}, {last['folds']} folds — "
            f"cross-validated response F1 {cv['response']['f1']:.3f}, span F1 {cv['span']['f1']:.3f}")
    m = st.columns(4)
    m[0].metric("CV response F1", f"{cv['response']['f1']:.3f}")
    m[1].metric("CV span F1", f"{cv['span']['f1']:.3f}")
    m[2].metric("CV span precision", f"{cv['span']['precision']:.3f}")
    m[3].metric("CV span recall", f"{cv['span']['recall']:.3f}")
not_ready = label_training.readiness(store(), gold)
if not_ready:
    st.caption(render.md_escape(f"Training on {gold}'s labels is not possible yet: {not_ready}."))
if st.button("(Re)train on these labels", key="det_train", icon=":material/model_training:",
             disabled=not_ready is not None):
    try:
        st.session_state[TRAIN_JOB] = jobs.start_job(store(), label_training.JOB_KIND,
                                                     {"annotator": gold, "detector": train_name,
                                                      "folds": 5 if train_name == "learned" else 3}, once=True)
    except (ValueError, OSError) as exc:
        st.error(render.md_escape(f"Could not start training: {exc}"))
if st.session_state.get(TRAIN_JOB):
    job_panel(st.session_state[TRAIN_JOB], key="det_train_panel")
