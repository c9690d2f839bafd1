"""Widgets shared by pages: the frame (menu, sidebar context), HTML output, job panels."""
from __future__ import annotations

import time

import streamlit as st

from hallu_core.store.database import StoreError
from hallu_core.ui.data import q, store, workspace_path
from hallu_core.views import render

CTX_CHECKPOINT, CTX_DECODING = "ctx_checkpoint", "ctx_decoding"


def show_html(markup: str) -> None:
    """Render markup built by `hallu_core.views.render` (which escapes all user data). Nothing else."""
    st.html(markup)


def checkpoint_options() -> dict[str, str]:
    """checkpoint id -> "run / checkpoint (step)" for select boxes; an imported model by its name alone (its
    step is only its order in the file)."""
    return {c["checkpoint_id"]: c["label"] if c["run_kind"] == "import" else f"{c['label']} (step {c['step']})"
            for c in q("checkpoints")}


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
        if st.session_state.get(CTX_CHECKPOINT) not in options:  # start on the newest full fine-tune's last step
            finetuned = [c["checkpoint_id"] for c in ckpts if c["run_kind"] == "finetune" and c["generations"]]
            st.session_state[CTX_CHECKPOINT] = (finetuned or options)[-1]
        st.selectbox("Checkpoint", options, key=CTX_CHECKPOINT, format_func=lambda c: labels.get(c, c))
        decodings = next((c["decodings"] for c in ckpts if c["checkpoint_id"] == st.session_state[CTX_CHECKPOINT]), [])
        if decodings:
            if st.session_state.get(CTX_DECODING) not in decodings:
                st.session_state[CTX_DECODING] = decodings[0]
            st.selectbox("Decoding", decodings, key=CTX_DECODING, format_func=lambda d: d or "(unnamed)")


FRAME = "_hallu_frame_running"
HANDED_OVER = "_hallu_handed_over_to_app"


def pages() -> list:
    """The app's pages, in menu order (app.py's navigation)."""
    return [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview", default=True),
        st.Page("pages/runs.py", title="Runs", icon=":material/show_chart:", url_path="runs"),
        st.Page("pages/inspect.py", title="Inspect", icon=":material/search:", url_path="inspect"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
        st.Page("pages/label.py", title="Label", icon=":material/edit:", url_path="label"),
        st.Page("pages/detectors.py", title="Detectors", icon=":material/rule:", url_path="detectors"),
    ]


def frame() -> None:
    """Called first by every page: the app's frame (sidebar, a link's ?judge=) when app.py did not run it.

    Streamlit serves a deep link (/label) on a freshly started server from the `pages/` folder
    before `app.py` has declared its navigation once; that run hands over to app.py at once. Under
    AppTest's switch_page a page runs alone, and this frame is all it gets."""
    if st.session_state.get(FRAME):
        return
    from hallu_core.ui.judge import adopt_url_judge

    st.set_page_config(page_title="Hallu", layout="wide")
    if len(_known_pages()) > 1:  # Streamlit is serving the pages/ folder: show the app's menu instead
        st.navigation(pages())
        if st.context.headers and not st.session_state.get(HANDED_OVER):
            # A browser's first visit: widget ids depend on which script ran the page; rendered from
            # here, the visitor's first change would reach app.py's run under another id and be dropped.
            # Once per session (no rerun loop), and never under AppTest (no browser, no headers), whose
            # switch_page runs a page alone on purpose.
            st.session_state[HANDED_OVER] = True
            st.rerun()
    try:  # a page run alone (app.py's handler is not around it): at least its frame says what is wrong
        sidebar()
        adopt_url_judge()
    except StoreError as exc:
        store_error(exc)
        st.stop()


def _known_pages() -> list:
    """The pages Streamlit resolves URLs with: the pages/ folder's files before app.py has run once
    on this server; a single entry under AppTest's switch_page."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return list(ctx.pages_manager.get_pages().values()) if ctx else []


def context() -> tuple[str | None, str | None]:
    return st.session_state.get(CTX_CHECKPOINT), st.session_state.get(CTX_DECODING)


def store_error(exc: Exception) -> None:
    """What a page shows when the workspace could not be read or written (locked past the timeout, read-only,
    disk full): every write is one transaction, so a failed one stored nothing and what was stored is intact."""
    st.error(render.md_escape(f"The workspace could not be read or written: {exc}. Nothing was lost: a write "
                              "that failed stored nothing, and your inputs are still on the page. Try again in a "
                              "moment (another process may hold the database) or check the folder's permissions "
                              "and free space."), icon=":material/database:")


def empty_state(what: str) -> None:
    st.info(f"{what} Import a file on the Overview page, or run `hallu demo` to build a demo workspace.")


def first_line(error: str | None, width: int = 200) -> str:
    """The one-line reason of a job error (its last non-empty line holds the exception)."""
    lines = [ln.strip() for ln in (error or "").strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= width else line[:width - 1] + "…"


def job_panel(job_id: str, key: str) -> None:
    """Live progress of one background job: polls the store while it runs; cancel, log, error."""
    from hallu_core.jobs import runner as jobs

    s = store()
    job = s.get_job(job_id)
    if job is None:
        st.warning(f"Job {job_id} is not in this workspace.")
        return
    active = job.status in ("queued", "running")
    seen_key = f"{key}-checkpoints-{job_id}"
    st.session_state[seen_key] = s.query("SELECT COUNT(*) FROM checkpoints")[0][0]

    @st.fragment(run_every=1.0 if active else None)
    def _panel():
        jobs.refresh_jobs(s)
        current = s.get_job(job_id)
        with st.container(key=f"{key}-panel-{job_id}"):
            st.markdown(f"**{current.kind}** job `{current.id}` — {current.status}")
            frac = current.done / current.total if current.total else (1.0 if current.status == "done" else 0.0)
            st.progress(min(1.0, max(0.0, frac)), text=render.md_escape(current.message or current.status))
            if current.status in ("queued", "running"):
                if st.button("Cancel", key=f"{key}-cancel-{job_id}"):
                    jobs.cancel_job(s, job_id)
                    time.sleep(0.2)
                    st.rerun(scope="fragment")
            if current.status == "cancelled":
                st.info("Cancelled by the user.")
            elif current.error:
                st.error(render.md_escape(f"{current.status.capitalize()}: {first_line(current.error)}"))
            with st.expander("Log and traceback", expanded=False):
                st.code(current.log[-8000:] or "(empty)", language=None)
        if active and current.status not in ("queued", "running"):
            st.rerun()  # finished: refresh the whole page so new data shows
        if active and s.query("SELECT COUNT(*) FROM checkpoints")[0][0] != st.session_state.get(seen_key):
            st.rerun()  # a fine-tune saved a checkpoint: the pages' pickers and charts should offer it now

    _panel()
