"""Forms that start background jobs; every config goes through its validating model (modeling/config.py),
whose defaults and words the widgets show (`from_config`), so a form and a config file never disagree."""
from __future__ import annotations

import streamlit as st

from hallu_core.data import prompts
from hallu_core.ui.data import q, store
from hallu_core.ui.form_defaults import NO_TRAINING_SET, earlier_decoding, from_config, training_dataset
from hallu_core.views import render

ACTIVE_JOB = "runs_active_job"
CUSTOM = "custom"  # the generate form's template choice that reads the custom template field


def _start(kind: str, args: dict) -> None:
    from hallu_core.jobs import runner as jobs

    try:
        job_id = jobs.start_job(store(), kind, args, once=True)
    except jobs.DuplicateJob as exc:  # a double click or a second submit: the first one's job is the one
        st.session_state[ACTIVE_JOB] = exc.job_id
        st.info(f"Already started: {kind} job {exc.job_id} with these settings began moments ago (one submit "
                "starts one job); its progress is under Jobs below.")
        return
    except (ValueError, OSError) as exc:
        st.error(render.md_escape(f"Could not start the {kind} job: {exc}"))
        return
    st.session_state[ACTIVE_JOB] = job_id  # the jobs panel below follows the job just started
    st.success(f"Started {kind} job {job_id}; its progress is under Jobs below.")


def finetune_form() -> None:
    from hallu_core.modeling.config import ConfigError, TrainConfig
    from hallu_core.modeling.model_refs import local_models, model_problem

    local = dict(local_models(store()))
    with st.form("finetune-form", enter_to_submit=False):  # only the button starts work
        name = st.text_input("Run name", "finetune")
        c1, c2 = st.columns(2)
        picked = c1.selectbox("Base model (bundled models and this workspace's)",
                              list(local) or ["(none in this workspace)"], format_func=lambda p: local.get(p, p),
                              help="Bundled pretrained models (`hallu models`), the demo's base model and every "
                                   "checkpoint saved in this workspace.")
        typed = c2.text_input("…or another base model (HF id, local folder or .gguf file; overrides the choice)", "")
        dataset, datasets = training_dataset("Training dataset (prompt → reference)", "finetune-ds")
        c1, c2, c3 = st.columns(3)
        method = c1.radio("Method", ["full", "lora"], horizontal=True)
        learning_rate = c2.number_input("Learning rate", format="%.6f", min_value=0.0,
                                        **from_config(TrainConfig, "learning_rate"))
        epochs = c3.number_input("Epochs", min_value=0.0, step=0.5, **from_config(TrainConfig, "epochs"))
        c1, c2, c3 = st.columns(3)
        batch_size = c1.number_input("Batch size", min_value=0, step=1, **from_config(TrainConfig, "batch_size"))
        max_steps = c2.number_input("Max steps (-1: use epochs)", step=10, **from_config(TrainConfig, "max_steps"))
        every = c3.number_input("Eval and save every N steps", min_value=0, step=10,
                                **from_config(TrainConfig, "eval_every"))
        c1, c2, c3 = st.columns(3)
        lora_r = c1.number_input("LoRA r", min_value=0, step=1, **from_config(TrainConfig, "lora_r"))
        lora_alpha = c2.number_input("LoRA alpha", min_value=0, step=1, **from_config(TrainConfig, "lora_alpha"))
        seed = c3.number_input("Seed", step=1, **from_config(TrainConfig, "seed"))
        submitted = st.form_submit_button("Start fine-tune", type="primary")
    if submitted:
        from hallu_core.store.paths import PathNotAllowed, confine_model_ref

        base_model = typed.strip() or (picked if local else "")
        if not base_model:
            st.error("Choose a base model: this workspace holds none, so type an HF id or a local folder.")
            return
        if datasets and dataset is None:
            st.error(NO_TRAINING_SET)
            return
        try:  # a path typed here must lie in the workspace or the models folder (hallu_core.store.paths)
            ref = confine_model_ref(base_model, store().root)
            config = TrainConfig(base_model=ref, dataset=dataset if datasets else None,
                                 method=method, learning_rate=float(learning_rate), epochs=float(epochs),
                                 max_steps=int(max_steps), batch_size=int(batch_size), eval_every=int(every),
                                 save_every=int(every), lora_r=int(lora_r), lora_alpha=int(lora_alpha),
                                 seed=int(seed), name=name.strip())
        except (ConfigError, TypeError, PathNotAllowed) as exc:
            st.error(render.md_escape(f"Invalid config: {exc}"))
            return
        with st.spinner("Checking that the base model loads…"):
            problem = model_problem(ref)
        if problem:
            st.error(render.md_escape(f"Not started: {problem}."))
            return
        _start("finetune", {"config": config.to_dict()})


def _weight_paths(checkpoint_labels: dict[str, str]) -> dict[str, str]:
    """{checkpoint id: weights folder} of the offered checkpoints that have weights (imported models have none)."""
    paths = {c["checkpoint_id"]: c["path"] for c in q("checkpoints") if c["path"]}
    return {c: paths[c] for c in checkpoint_labels if c in paths}


def distill_form(checkpoint_labels: dict[str, str]) -> None:
    """A student trained on a teacher checkpoint's token distributions (hallu_core.modeling.distill)."""
    from hallu_core.modeling.config import SHRINK, ConfigError, DistillConfig

    usable = list(_weight_paths(checkpoint_labels))
    with st.form("distill-form", enter_to_submit=False):
        name = st.text_input("Run name", "distill", key="distill-name")
        c1, c2 = st.columns(2)
        picked = c1.selectbox("Teacher (a checkpoint of this workspace)", usable or ["(no checkpoints with weights)"],
                              format_func=lambda c: checkpoint_labels.get(c, c), key="distill-teacher")
        typed = c2.text_input("…or another teacher (HF id or local folder; overrides the choice)", "",
                              key="distill-typed")
        c1, c2 = st.columns(2)
        student = c1.text_input("Student (HF id or local folder; empty: the teacher with fewer layers)", "",
                                help="It must use the teacher's tokenizer; a pair that does not is refused before "
                                     "any training.", key="distill-student")
        layers = c2.number_input("Student layers when shrinking (0: half the teacher's)", value=0, min_value=0, step=1,
                                key="distill-layers")
        dataset, datasets = training_dataset("Training dataset (prompt → reference)", "distill-ds")
        c1, c2, c3 = st.columns(3)
        temperature = c1.number_input("Temperature", min_value=0.0, step=0.5, key="distill-t",
                                      **from_config(DistillConfig, "temperature"))
        alpha = c2.number_input("Alpha (weight of the KL term; the rest: hard labels)", min_value=0.0, max_value=1.0,
                                step=0.1, key="distill-alpha", **from_config(DistillConfig, "alpha"))
        learning_rate = c3.number_input("Learning rate", format="%.6f", min_value=0.0, key="distill-lr",
                                        **from_config(DistillConfig, "learning_rate"))
        c1, c2, c3, c4 = st.columns(4)
        epochs = c1.number_input("Epochs", min_value=0.0, step=0.5, key="distill-epochs",
                                 **from_config(DistillConfig, "epochs"))
        max_steps = c2.number_input("Max steps (-1: use epochs)", step=10, key="distill-steps",
                                    **from_config(DistillConfig, "max_steps"))
        batch_size = c3.number_input("Batch size", min_value=0, step=1, key="distill-bs",
                                     **from_config(DistillConfig, "batch_size"))
        every = c4.number_input("Eval and save every N steps", min_value=0, step=10, key="distill-every",
                                **from_config(DistillConfig, "eval_every"))
        submitted = st.form_submit_button("Start distillation", type="primary")
    if submitted:
        from hallu_core.modeling.model_refs import model_problem
        from hallu_core.store.paths import PathNotAllowed, confine_model_ref

        teacher = typed.strip() or (picked if usable else "")
        if not teacher:
            st.error("Choose a teacher: this workspace has no checkpoint with weights, so type an HF id or a folder.")
            return
        if datasets and dataset is None:
            st.error(NO_TRAINING_SET)
            return
        try:  # typed paths must lie in the workspace or the models folder (hallu_core.store.paths)
            typed_refs = {"teacher": confine_model_ref(teacher, store().root)} if typed.strip() else {}
            if student.strip():
                typed_refs["student"] = confine_model_ref(student, store().root)
            config = DistillConfig(teacher=typed_refs.get("teacher", teacher),
                                   student=typed_refs.get("student", SHRINK),
                                   student_layers=None if student.strip() else (int(layers) or None),
                                   dataset=dataset if datasets else None, temperature=float(temperature),
                                   alpha=float(alpha), learning_rate=float(learning_rate), epochs=float(epochs),
                                   max_steps=int(max_steps), batch_size=int(batch_size), eval_every=int(every),
                                   save_every=int(every), name=name.strip())
        except (ConfigError, TypeError, PathNotAllowed) as exc:
            st.error(render.md_escape(f"Invalid config: {exc}"))
            return
        with st.spinner("Checking that the models load…"):
            problems = [f"{role}: {p}" for role, ref in typed_refs.items() if (p := model_problem(ref))]
        if problems:
            st.error(render.md_escape(f"Not started: {'; '.join(problems)}."))
            return
        _start("distill", {"config": config.to_dict()})


def generate_form(checkpoint_labels: dict[str, str]) -> None:
    from hallu_core.modeling.chat import CHAT_MODES
    from hallu_core.modeling.config import STRATEGIES, ConfigError, DecodingConfig, GenerateConfig

    datasets = q("datasets")
    paths = _weight_paths(checkpoint_labels)
    usable = list(paths)
    if len(usable) < len(checkpoint_labels):
        st.caption("Only checkpoints with weights in this workspace are listed: imported models cannot generate.")
    ctx_checkpoint, earlier = earlier_decoding(checkpoint_labels, usable)
    template_used = prompts.split(earlier.get("name", ""))[1]
    with st.form("generate-form", enter_to_submit=False):
        ckpts = st.multiselect("Checkpoints", usable, format_func=checkpoint_labels.get,
                               default=[ctx_checkpoint] if ctx_checkpoint in usable else [])
        dataset = st.selectbox("Prompts from dataset", ["(all examples)"] + datasets,
                               index=1 + datasets.index(earlier["dataset"]) if earlier.get("dataset") in datasets else 0)
        c1, c2, c3, c4 = st.columns(4)
        strategy = c1.selectbox("Decoding", STRATEGIES, index=STRATEGIES.index(earlier.get("strategy", "greedy")))
        temperature = c2.number_input("Temperature", min_value=0.0, step=0.1,
                                      **from_config(DecodingConfig, "temperature", earlier))
        top_p = c3.number_input("Top-p", min_value=0.0, max_value=1.0, step=0.05,
                                **from_config(DecodingConfig, "top_p", earlier))
        top_k = c4.number_input("Top-k (0 = off)", min_value=0, step=1,
                                **from_config(DecodingConfig, "top_k", earlier))
        c1, c2, c3 = st.columns(3)
        num_beams = c1.number_input("Beams", min_value=1, step=1, **from_config(DecodingConfig, "num_beams", earlier))
        num_samples = c2.number_input("Samples per prompt", min_value=1, step=1,
                                      **from_config(DecodingConfig, "num_samples", earlier))
        max_new_tokens = c3.number_input("Max new tokens", min_value=1, step=8,
                                         **from_config(DecodingConfig, "max_new_tokens", earlier))
        c1, c2 = st.columns([1, 3])
        template = c1.selectbox("Prompt template", [*prompts.TEMPLATES, CUSTOM],
                                index=[*prompts.TEMPLATES].index(template_used) if template_used in prompts.TEMPLATES
                                else 0,
                                help="closed-book: the prompt as is; grounded: the example's source, then the prompt")
        custom = c2.text_input("Custom template (when 'custom')", placeholder="Facts: {source}\n{prompt}",
                               help="Text with {prompt} and optionally {source}; {{ and }} for literal braces.")
        c1, c2 = st.columns([1, 3])
        chat = c1.selectbox("Chat template", CHAT_MODES, help=GenerateConfig.model_fields["chat_template"].description)
        system = c2.text_input("System prompt (chat models; empty: the template's own)", "",
                               help="The system turn's text when the model has a chat template.")
        submitted = st.form_submit_button("Start generation", type="primary")
    if submitted:
        try:
            decoding = DecodingConfig(strategy=strategy, num_beams=int(num_beams), temperature=float(temperature),
                                      top_p=float(top_p), top_k=int(top_k), num_samples=int(num_samples),
                                      max_new_tokens=int(max_new_tokens), seed=int(earlier.get("seed", 0)))
            config = GenerateConfig(checkpoints=tuple(ckpts), decodings=(decoding,),
                                    dataset=None if dataset == "(all examples)" else dataset,
                                    prompt_template=custom if template == CUSTOM else template,
                                    chat_template=chat, system_prompt=system.strip() or None)
        except (ConfigError, TypeError) as exc:
            st.error(render.md_escape(f"Invalid config: {exc}"))
            return
        if prompts.needs_source(config.prompt_template):
            why = prompts.source_problem(store().examples(config.dataset), config.prompt_template)
            if why:
                st.error(render.md_escape(f"Not started: {why}."))
                return
        from pathlib import Path

        from hallu_core.modeling.model_refs import model_problem
        from hallu_core.modeling.model_sources import needs_conversion

        for ckpt in ckpts:  # a checkpoint whose folder went missing fails here, not minutes into the job
            ref = paths[ckpt]  # a folder in the workspace, or a bundled model's name / .gguf file (step 0)
            problem = model_problem(ref if needs_conversion(ref) else str(store().root / Path(ref)))
            if problem:
                st.error(render.md_escape(f"Not started: {checkpoint_labels.get(ckpt, ckpt)}: {problem}."))
                return
        _start("generate", {"config": config.to_dict()})


def detect_form(checkpoint_labels: dict[str, str]) -> None:
    from hallu_core.detection.detectors.registry import available_detectors

    with st.form("detect-form", enter_to_submit=False):
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
    from hallu_core.ui.widgets import first_line, job_panel

    recent = store().jobs(limit=20)
    if not recent:
        st.caption("No jobs yet.")
        return
    st.dataframe([{"id": j.id, "kind": j.kind, "status": j.status, "progress": (j.done / j.total) if j.total else 0.0,
                   "message": j.message, "error": first_line(j.error)} for j in recent], hide_index=True,
                 column_config={"progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0)},
                 key=f"{key}-table")
    ids = [j.id for j in recent]
    active, pick = st.session_state.get(ACTIVE_JOB), f"{key}-pick"
    if active in ids and st.session_state.get(f"{key}-followed") != active:
        st.session_state[f"{key}-followed"] = active  # a job was just started: show it, not the last one viewed
        st.session_state[pick] = active
    elif st.session_state.get(pick) not in ids:
        st.session_state[pick] = ids[0]
    chosen = st.selectbox("Job", ids, key=pick,
                          format_func=lambda i: next(f"{j.kind} {j.id}" for j in recent if j.id == i),
                          help="The status of each job is in the table above; the panel below follows it live.")
    job_panel(chosen, key=key)
