"""The Runs page's "Findings" section: what the run's stored numbers show, in sentences (hallu_core.views.findings)."""
from __future__ import annotations

import streamlit as st

from hallu_core.ui.data import _store, data_version, workspace_path
from hallu_core.ui.judge import judge_picker
from hallu_core.views import render
from hallu_core.views.findings import run_findings
from hallu_core.views.judges import describe


@st.cache_data(show_spinner=False, max_entries=64)
def _findings(path: str, version: tuple, run_id: str, source: tuple | None,
              decoding: str | None) -> list[tuple[str, str]]:
    return [(f.topic, f.text) for f in run_findings(_store(path), run_id, source, decoding=decoding)]


def findings_section(run_id: str, checkpoint_ids: list[str], decoding: str | None = None) -> None:
    """Sentences about one run under the chosen judge, on the page's `decoding` (None: every decoding pooled);
    says so when the run has nothing to state yet."""
    st.subheader("Findings")
    source = judge_picker("Judged by", "runs-findings-src", checkpoint_ids=checkpoint_ids)
    path = workspace_path()
    found = _findings(path, data_version(path), run_id, tuple(source) if source else None, decoding)
    if not found:
        st.caption("Nothing to state yet: this run has no validation loss and no judged outputs.")
        return
    st.markdown("\n".join(f"- {render.md_escape(text)}" for _, text in found))
    st.caption(render.md_escape(
        "Computed from the stored numbers" + (f"; rates judged by {describe(source)}" if source else "")
        + (f"; checkpoints compared on the {decoding} decoding (the choice above)" if decoding
           else "; every decoding pooled") + " unless a sentence names its decodings; a rate resting on fewer "
          "than 30 outputs says how few."))

