"""The judge picker every page shares: one choice per browser session, also kept as ?judge=NAME.

A judge is a rate source (a detector, or an annotator's labels). The user's choice lives in
the session (so it follows them across pages) and in the URL (so a link reproduces the
view). Where the choice judged nothing in a page's scope, the scope's default judge
(`hallu_core.views.judges`) is shown instead and the page says so; the choice itself is kept.
"""
from __future__ import annotations

import streamlit as st

from hallu_core.ui.data import q
from hallu_core.views import render
from hallu_core.views.judges import Source, describe, rank
from hallu_core.views.queries import source_name

JUDGE = "judge"  # session key of the user's choice (a source name such as "labels:gold")


def _remember(widget_key: str) -> None:
    st.session_state[JUDGE] = st.session_state[widget_key]
    st.query_params["judge"] = st.session_state[widget_key]


def adopt_url_judge() -> None:
    """Every page: a link's ?judge= becomes the session's choice; an unknown name gets a clear message."""
    wanted = st.query_params.get("judge")
    if not wanted or wanted == st.session_state.get(JUDGE):
        return
    if wanted in {source_name(s) for s in q("rate_sources")}:
        st.session_state[JUDGE] = wanted
        return
    st.warning(render.md_escape(f"No detector or annotator named {wanted!r} in this workspace (the link's "
                                "?judge=); the default judge is shown instead."), icon=":material/link_off:")
    del st.query_params["judge"]


def judge_picker(label: str, key: str, checkpoint_ids: list[str] | None = None,
                 kinds: tuple[str, ...] = ("labels", "detector"), container=None) -> Source | None:
    """A select box of judges, best for the scope first; returns the chosen source (None: none exist)."""
    adopt_url_judge()  # pages also run without the frame (AppTest); idempotent
    by_name = {source_name(s): s for s in q("rate_sources") if s[0] in kinds}
    if not by_name:
        return None
    counts = q("judged_counts", tuple(checkpoint_ids) if checkpoint_ids is not None else None)
    ranked = [source_name(s) for s in rank({s: counts[s] for s in by_name.values() if s in counts})]
    names = ranked + [n for n in by_name if n not in ranked]
    chosen = st.session_state.get(JUDGE)
    usable = chosen in by_name and (chosen in ranked or not ranked)
    effective = chosen if usable else names[0]
    if st.session_state.get(key) != effective:
        st.session_state[key] = effective
    (container or st).selectbox(
        label, names, key=key, on_change=_remember, args=(key,), format_func=lambda n: describe(by_name[n]),
        help="Who decides that an output hallucinates. The default prefers people's labels (adjudicated, gold, "
             "an annotator), then synthetic labels (oracle), then the `default` detector. Your choice is kept "
             "across pages and in the link (?judge=).")
    if chosen in by_name and not usable:
        st.caption(render.md_escape(f"{describe(by_name[chosen])} judged nothing here; "
                                    f"showing {describe(by_name[effective])}."))
    if chosen and st.query_params.get("judge") != chosen:
        st.query_params["judge"] = chosen
    return by_name[effective]
