"""Hallu dashboard: the router and the frame shared by every page.

`hallu serve` starts this with HALLU_WORKSPACE set; without it the default workspace is used.
"""
from __future__ import annotations

import streamlit as st

from hallu_core import set_process_defaults
from hallu_core.store.database import StoreError
from hallu_core.ui.judge import adopt_url_judge
from hallu_core.ui.widgets import FRAME, pages, sidebar, store_error

set_process_defaults()  # the dashboard server is Hallu's own process, even when started by `streamlit run`
st.set_page_config(page_title="Hallu", layout="wide")

page = st.navigation(pages())
st.session_state[FRAME] = True  # the page's own frame() call then does nothing
try:  # one handler for every page: a workspace that cannot be read or written is a message, not a traceback
    sidebar()
    adopt_url_judge()
    page.run()
except StoreError as exc:
    store_error(exc)
finally:
    st.session_state[FRAME] = False
