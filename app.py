"""Hallu dashboard: the router and the frame shared by every page.

`hallu serve` starts this with HALLU_WORKSPACE set; without it the default workspace is used.
"""
from __future__ import annotations

import streamlit as st

from hallu_core.ui.widgets import sidebar

st.set_page_config(page_title="Hallu", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview", default=True),
    st.Page("pages/runs.py", title="Runs", icon=":material/show_chart:", url_path="runs"),
    st.Page("pages/inspect.py", title="Inspect", icon=":material/search:", url_path="inspect"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("pages/label.py", title="Label", icon=":material/edit:", url_path="label"),
    st.Page("pages/detectors.py", title="Detectors", icon=":material/rule:", url_path="detectors"),
]
page = st.navigation(PAGES)
sidebar()
page.run()
