"""Forms that start background jobs; every config goes through its validating dataclass."""
from __future__ import annotations

import streamlit as st

from .. import render
from .data import q, store

ACTIVE_JOB = "runs_active_job"


def _start(kind: str, args: dict) -> None:
    from .. import jobs

    try:
        job_id = jobs.start_job(store(), kind, args)
    except (ValueError, OSError) as exc:
        st.error(render.md_escape(f"Could not start the {kind} job: {exc}"))
        return
    st.session_state[ACTIVE_JOB] = job_id
    st.success(f"Started {kind} job {job_id}.")


def finetune_form(default_base: str = "") -> None:
    from ..config import ConfigError, TrainConfig

    datasets = q("datasets")
    with st.form("finetune-form"):
        name = st.text_input("Run name", "finetune")
        base_model = st.text_input("Base model (HF id or local folder)", default_base)
        dataset = st.selectbox("Training dataset (prompt → reference)", datasets or ["(no datasets)"])
        c1, c2, c3 = st.columns(3)
        method = c1.radio("Method", ["full", "lora"], horizontal=True)
        learning_rate = c2.number_input("Learning rate", value=5e-4, format="%.6f", min_value=0.0)
        epochs = c3.number_input("Epochs", value=3.0, min_value=0.0, step=0.5)
        c1, c2, c3 = st.columns(3)
        batch_size = c1.number_input("Batch size", value=8, min_value=0, step=1)
        max_steps = c2.number_input("Max steps (-1: use epochs)", value=-1, step=10)
        every = c3.number_input("Eval and save every N steps", value=50, min_value=0, step=10)
        c1, c2, c3 = st.columns(3)
        lora_r = c1.number_input("LoRA r", value=8, min_value=0, step=1)
        lora_alpha = c2.number_input("LoRA alpha", value=16, min_value=0, step=1)
        seed = c3.number_input("Seed", value=0, step=1)
        submitted = st.form_submit_button("Start fine-tune", type="primary")
    if submitted:
        from ..paths import PathNotAllowed, confine_model_ref

        try:  # a path typed here must lie in the workspace or the models folder (hallu_core.paths)
            config = TrainConfig(base_model=confine_model_ref(base_model, store().root), dataset=dataset if datasets else None,
                                 method=method, learning_rate=float(learning_rate), epochs=float(epochs),
                                 max_steps=int(max_steps), batch_size=int(batch_size), eval_every=int(every),
                                 save_every=int(every), lora_r=int(lora_r), lora_alpha=int(lora_alpha),
                                 seed=int(seed), name=name.strip())
        except (ConfigError, TypeError, PathNotAllowed) as exc:
            st.error(render.md_escape(f"Invalid config: {exc}"))
            return
        _start("finetune", {"config": config.to_dict()})


def generate_form(checkpoint_labels: dict[str, str]) -> None:
    from ..config import ConfigError, DecodingConfig, GenerateConfig

    datasets = q("datasets")
    with st.form("generate-form"):
        ckpts = st.multiselect("Checkpoints", list(checkpoint_labels), format_func=checkpoint_labels.get)
        dataset = st.selectbox("Prompts from dataset", ["(all examples)"] + datasets)
        c1, c2, c3, c4 = st.columns(4)
        strategy = c1.selectbox("Decoding", ["greedy", "beam", "sample"])
        temperature = c2.number_input("Temperature", value=1.0, min_value=0.0, step=0.1)
        top_p = c3.number_input("Top-p", value=1.0, min_value=0.0, max_value=1.0, step=0.05)
        top_k = c4.number_input("Top-k (0 = off)", value=0, min_value=0, step=1)
        c1, c2, c3 = st.columns(3)
        num_beams = c1.number_input("Beams", value=1, min_value=1, step=1)
        num_samples = c2.number_input("Samples per prompt", value=1, min_value=1, step=1)
        max_new_tokens = c3.number_input("Max new tokens", value=64, min_value=1, step=8)
        submitted = st.form_submit_button("Start generation", type="primary")
    if submitted:
        try:
            decoding = DecodingConfig(strategy=strategy, num_beams=int(num_beams), temperature=float(temperature),
                                      top_p=float(top_p), top_k=int(top_k), num_samples=int(num_samples),
                                      max_new_tokens=int(max_new_tokens))
            config = GenerateConfig(checkpoints=tuple(ckpts), decodings=(decoding,),
                                    dataset=None if dataset == "(all examples)" else dataset)
        except (ConfigError, TypeError) as exc:
            st.error(render.md_escape(f"Invalid config: {exc}"))
            return
        _start("generate", {"config": config.to_dict()})


def detect_form(checkpoint_labels: dict[str, str]) -> None:
    from ..detectors.registry import available_detectors

    with st.form("detect-form"):
        names = st.multiselect("Detectors", available_detectors(), default=["lexical"])
        ckpts = st.multiselect("Checkpoints (none: all)", list(checkpoint_labels), format_func=checkpoint_labels.get)
        submitted = st.form_submit_button("Start detection", type="primary")
    if submitted:
        if not names:
            st.error("Choose at least one detector.")
            return
        _start("detect", {"detectors": names, "checkpoints": ckpts})


def jobs_section(key: str = "jobs") -> None:
    """Recent jobs and the live panel of the chosen one."""
    from .widgets import job_panel

    recent = store().jobs(limit=20)
    if not recent:
        st.caption("No jobs yet.")
        return
    st.dataframe([{"id": j.id, "kind": j.kind, "status": j.status, "progress": (j.done / j.total) if j.total else 0.0,
                   "message": j.message, "error": (j.error or "")[:120]} for j in recent], hide_index=True,
                 column_config={"progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0)},
                 key=f"{key}-table")
    ids = [j.id for j in recent]
    active = st.session_state.get(ACTIVE_JOB)
    chosen = st.selectbox("Job", ids, index=ids.index(active) if active in ids else 0, key=f"{key}-pick",
                          format_func=lambda i: next(f"{j.kind} {j.id} ({j.status})" for j in recent if j.id == i))
    job_panel(chosen, key=key)
