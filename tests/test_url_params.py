"""Links that name something missing: every page, every query parameter the dashboard reads (issue 13).

Each page opens with an unknown id in each parameter; it must say clearly what is missing
(naming the value) and never show a traceback. The judge parameter is remembered.
"""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fixtures_dashboard import synthetic_ws  # noqa: F401 (a fixture)
from hallu_core.views import render

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["overview", "runs", "inspect", "compare", "label", "detectors"]
# parameter -> the pages that read it (the frame reads ?judge= on every page; a page run on its own,
# as AppTest's switch_page or a deep link on a fresh server does, runs the frame itself)
PARAMS = {"judge": PAGES, "run": ["runs"], "generation": ["inspect", "label"], "example": ["compare"]}
UNKNOWN = "no-such-id-<b>42</b>"


def open_page(ws: Path, page: str, monkeypatch, query: dict, state: dict | None = None) -> AppTest:
    monkeypatch.setenv("HALLU_WORKSPACE", str(ws))
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(f"pages/{page}.py")
    for k, v in query.items():
        at.query_params[k] = v
    for k, v in (state or {}).items():
        at.session_state[k] = v
    return at.run()


def messages(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("warning", "error", "info") for e in getattr(at, kind))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_with_unknown_ids_in_every_parameter(synthetic_ws, page, monkeypatch):  # noqa: F811
    for param in PARAMS:
        at = open_page(synthetic_ws, page, monkeypatch, {param: UNKNOWN}, state={"label_annotator_name": "zed"})
        assert not at.exception, (page, param, [e.value for e in at.exception])
        if page in PARAMS[param]:
            text = messages(at)
            assert render.md_escape(UNKNOWN) in text and "in this workspace" in text, (page, param, text)


def test_all_unknown_parameters_at_once(synthetic_ws, monkeypatch):  # noqa: F811
    query = {p: UNKNOWN for p in PARAMS}
    for page in PAGES:
        at = open_page(synthetic_ws, page, monkeypatch, query, state={"label_annotator_name": "zed"})
        assert not at.exception, (page, [e.value for e in at.exception])
        text = messages(at)  # every page reads ?judge= at least: the missing value is named, not swallowed
        assert render.md_escape(UNKNOWN) in text and "in this workspace" in text, (page, text)


def test_the_frame_reads_the_judge_on_every_page(synthetic_ws, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HALLU_WORKSPACE", str(synthetic_ws))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["judge"] = UNKNOWN
    at.run()  # through app.py: the frame, then the default page
    assert not at.exception
    assert any(render.md_escape(UNKNOWN) in w.value and "in this workspace" in w.value for w in at.warning)


def test_a_known_judge_in_the_link_becomes_the_choice_on_every_page(synthetic_ws, monkeypatch):  # noqa: F811
    at = open_page(synthetic_ws, "compare", monkeypatch, {"judge": "lexical"})
    assert not at.exception
    assert at.selectbox(key="cmp-source").value == "lexical"
    assert at.session_state["judge"] == "lexical"
    at.switch_page("pages/overview.py").run()  # the session remembers it on another page
    assert at.selectbox(key="overview-judge").value == "lexical"
    assert at.query_params["judge"] == ["lexical"] or at.query_params["judge"] == "lexical"
