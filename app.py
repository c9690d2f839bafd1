"""Hallu dashboard: the router and the frame shared by every page.

`hallu serve` starts this with HALLU_WORKSPACE set; without it the default workspace is used.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from hallu_core.ui.widgets import sidebar

st.set_page_config(page_title="Hallu", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview", default=True),
    st.Page("pages/runs.py", title="Runs", icon=":material/show_chart:", url_path="runs"),
    st.Page("pages/inspect.py", title="Inspect", icon=":material/search:", url_path="inspect"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
]
# Later pages (Label, Detectors) register here; a missing file is simply not listed.
for path, title, icon, url in (("pages/label.py", "Label", ":material/edit:", "label"),
                               ("pages/detectors.py", "Detectors", ":material/rule:", "detectors")):
    if (Path(__file__).parent / path).exists():
        PAGES.append(st.Page(path, title=title, icon=icon, url_path=url))

page = st.navigation(PAGES)
sidebar()
page.run()
