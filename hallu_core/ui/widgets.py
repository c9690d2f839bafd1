"""Widgets shared by pages: the sidebar context, HTML output, source pickers, job panels."""
from __future__ import annotations

import time

import streamlit as st

from .. import queries, render
from .data import q, store, workspace_path

CTX_CHECKPOINT, CTX_DECODING = "ctx_checkpoint", "ctx_decoding"


def show_html(markup: str) -> None:
    """Render markup built by `hallu_core.render` (which escapes all user data). Nothing else."""
    st.html(markup)


def checkpoint_options() -> dict[str, str]:
    """checkpoint id -> "run / checkpoint (step)" for select boxes."""
    return {c["checkpoint_id"]: f"{c['label']} (step {c['step']})" for c in q("checkpoints")}


def sidebar() -> None:
    """The frame's sidebar: workspace path and the checkpoint / decoding context pages default to."""
    with st.sidebar:
        st.caption("Workspace")
        st.code(workspace_path(), language=None)
        ckpts = q("checkpoints")
        if not ckpts:
            st.caption("No checkpoints yet.")
            return
        options = [c["checkpoint_id"] for c in ckpts]
        labels = {c["checkpoint_id"]: c["label"] for c in ckpts}
        if st.session_state.get(CTX_CHECKPOINT) not in options:  # start on the last checkpoint of a fine-tune
            finetuned = [c["checkpoint_id"] for c in ckpts if c["run_kind"] == "finetune" and c["generations"]]
            st.session_state[CTX_CHECKPOINT] = (finetuned or options)[-1]
        st.selectbox("Checkpoint", options, key=CTX_CHECKPOINT, format_func=lambda c: labels.get(c, c))
        decodings = next((c["decodings"] for c in ckpts if c["checkpoint_id"] == st.session_state[CTX_CHECKPOINT]), [])
        if decodings:
            if st.session_state.get(CTX_DECODING) not in decodings:
                st.session_state[CTX_DECODING] = decodings[0]
            st.selectbox("Decoding", decodings, key=CTX_DECODING)


def context() -> tuple[str | None, str | None]:
    return st.session_state.get(CTX_CHECKPOINT), st.session_state.get(CTX_DECODING)


def source_picker(label: str, key: str, sources: list | None = None, default: str | None = None):
    """Pick a rate source: a detector or an annotator's labels."""
    sources = q("rate_sources") if sources is None else sources
    if not sources:
        return None
    names = [queries.source_name(s) for s in sources]
    index = names.index(default) if default in names else 0
    chosen = st.selectbox(label, names, index=index, key=key)
    return sources[names.index(chosen)]


def empty_state(what: str) -> None:
    st.info(f"{what} Import a file on the Overview page, or run `hallu demo` to build a demo workspace.")


def job_panel(job_id: str, key: str) -> None:
    """Live progress of one background job: polls the store while it runs; cancel, log, error."""
    from .. import jobs

    s = store()
    job = s.get_job(job_id)
    if job is None:
        st.warning(f"Job {job_id} is not in this workspace.")
        return
    active = job.status in ("queued", "running")

    @st.fragment(run_every=1.0 if active else None)
    def _panel():
        jobs.refresh_jobs(s)
        current = s.get_job(job_id)
        st.markdown(f"**{current.kind}** job `{current.id}` — {current.status}")
        frac = current.done / current.total if current.total else 0.0
        st.progress(min(1.0, max(0.0, frac)), text=render.md_escape(current.message or current.status))
        if current.status in ("queued", "running"):
            if st.button("Cancel", key=f"{key}-cancel-{job_id}"):
                jobs.cancel_job(s, job_id)
                time.sleep(0.2)
                st.rerun(scope="fragment")
        if current.error:
            st.error(render.md_escape(current.error))
        with st.expander("Log", expanded=current.status == "failed"):
            st.code(current.log[-8000:] or "(empty)", language=None)
        if active and current.status not in ("queued", "running"):
            st.rerun()  # finished: refresh the whole page so new data shows

    _panel()
