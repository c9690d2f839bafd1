"""AppTest of the Label page (each queue order, actions) and the Detectors page figures
against the hand-computed workspace of helpers/labeling.py."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from helpers.labeling import build

PAGES = Path(__file__).resolve().parent.parent / "pages"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    from hallu_core.store.database import Store

    root = tmp_path / "ws"
    store = Store(root)
    build(store)
    store.close()
    monkeypatch.setenv("HALLU_WORKSPACE", str(root))
    return root


def label_page(annotator: str | None = "carol") -> AppTest:
    at = AppTest.from_file(str(PAGES / "label.py"), default_timeout=60)
    if annotator:
        at.session_state["label_annotator_name"] = annotator
    return at.run()


def texts(at) -> list[str]:
    return [t.value for t in at.text]


def queue_ids(at) -> list[str]:
    return list(frame(at, "generation")["generation"])


def frame(at, column: str):
    """The first dataframe on the page that has `column`."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


@pytest.mark.parametrize("order,expected", [
    ("unlabeled", ["g2", "g4", "g1", "g3"]),     # fewest labels by others first
    ("score", ["g1", "g4", "g2", "g3"]),         # detector response score 0.9, 0.6, 0.3, 0
    ("disagreement", ["g3", "g1", "g2", "g4"]),  # 1 - character F1 of the worst pair: 1.0, 0.33
])
def test_each_queue_order(ws, order, expected):
    at = label_page()
    at.selectbox(key="label_order").set_value(order).run()
    assert not at.exception
    assert queue_ids(at) == expected
    assert f"Item 1 of 4 · generation {expected[0]}" in texts(at)


def test_actions_save_and_advance(ws):
    from hallu_core.store.database import Store

    at = label_page()
    assert "Item 1 of 4 · generation g2" in texts(at)
    at.button(key="label_none").click().run()
    assert not at.exception
    assert "Item 2 of 4 · generation g4" in texts(at)
    at.button(key="label_reveal").click().run()  # blind until revealed
    at.button(key="label_accept_0").click().run()  # g4's detector span [0, 10)
    at.button(key="label_skip").click().run()
    assert "Item 3 of 4 · generation g1" in texts(at)
    at.button(key="label_prev").click().run()
    assert "Your label: skipped · 1 span(s)" in texts(at)
    store = Store(ws)
    assert store.get_label("g2", "carol").status == "done" and store.get_label("g2", "carol").spans == []
    assert [(s.start, s.end, s.detector) for s in store.get_label("g4", "carol").spans] == [(0, 10, "det")]
    store.close()


def test_label_page_asks_for_a_name_and_handles_an_empty_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("HALLU_WORKSPACE", str(tmp_path / "empty"))
    at = label_page(annotator=None)
    assert not at.exception and any("Enter your name" in i.value for i in at.info)
    at.text_input(key="label_annotator").input("eve").run()
    assert not at.exception and any("Nothing to label" in i.value for i in at.info)
    det = AppTest.from_file(str(PAGES / "detectors.py"), default_timeout=60).run()
    assert not det.exception and det.info


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_detectors_page_figures_by_hand(ws):
    at = AppTest.from_file(str(PAGES / "detectors.py"), default_timeout=60).run()
    assert not at.exception
    at.selectbox(key="det_gold").set_value("labels:gold").run()
    # threshold 0: responses flagged g1 g2 g4, gold g1 g3 g4 -> P = R = 2/3;
    # characters: overlap 2 + 10, predicted 4 + 2 + 10, gold 4 + 5 + 10 -> P 12/16, R 12/19
    assert metrics(at) == {"response precision": "0.667", "response recall": "0.667", "response f1": "0.667",
                           "span precision": "0.750", "span recall": "0.632", "span f1": "0.686"}
    table = frame(at, "detector")
    assert list(table["detector"]) == ["det"] and list(table["n"]) == [4]
    assert table["span_f1"][0] == pytest.approx(2 * 0.75 * 12 / 19 / (0.75 + 12 / 19))
    per = frame(at, "checkpoint")
    assert list(per["step"]) == [100, 200]
    assert list(per["span_f1"]) == pytest.approx([0.4, 0.8])  # A: 2/6 vs 2/4; B: 10/10 vs 10/15
    at.slider(key="det_threshold-det-raw").set_value(0.5).run()  # drops g2's 0.3 span (raw: "det" has no map)
    got = metrics(at)
    assert (got["response precision"], got["response recall"], got["response f1"]) == ("1.000", "0.667", "0.800")
    assert got["span precision"] == "0.857"  # 12 / 14
    assert len(at.get("plotly_chart")) == 1
    at.selectbox(key="det_gold").set_value("labels:bob").run()  # bob: g1 [0,2), g3 none
    assert metrics(at)["span precision"] == "0.000"  # g1's 0.9 span [2,6) misses [0,2)


def html(at) -> str:
    return "\n".join(str(h.proto.body) for h in at.get("html"))


def test_labeling_is_blind_to_detectors_until_revealed(ws):
    """Issue 22 item 3: the page showed detector spans from the start; now they wait for a reveal, which is
    recorded with the label."""
    from hallu_core.store.database import Store

    at = label_page()
    at.selectbox(key="label_order").set_value("score").run()  # g1 first: its detector span [2, 6)
    assert "Item 1 of 4 · generation g1" in texts(at)
    assert not any("Detector spans to review" in m.value for m in at.markdown)
    assert not [b for b in at.button if b.key and b.key.startswith("label_accept")]
    assert "hl-evidence" not in html(at) and "det · baseless" not in html(at)  # no evidence, no suggestion
    at.button(key="label_reveal").click().run()
    assert not at.exception
    assert any(m.value == "**Detector spans to review** (1 of 1)" for m in at.markdown)
    assert "det · baseless" in html(at)
    store = Store(ws)
    label = store.get_label("g1", "carol")
    assert (label.status, label.assisted, label.selection) == ("draft", True, "score")
    at.button(key="label_accept_0").click().run()
    assert "accepted from det · baseless" in html(at)  # under "Your spans": whose suggestion it was
    assert [(s.start, s.end, s.detector) for s in store.get_label("g1", "carol").spans] == [(2, 6, "det")]
    store.close()


def test_a_link_opens_its_generation_and_records_it_as_chosen_by_link(ws):
    """Issue 22 item 4: /label?generation=ID&annotator=NAME opened the queue's first item instead."""
    from hallu_core.store.database import Store

    at = label_page_at({"generation": "g3", "annotator": "carol"})
    assert not at.exception
    assert at.text_input(key="label_annotator").value == "carol"
    assert "Item 1 of 4 · generation g3 · opened by link" in texts(at)
    assert queue_ids(at) == ["g3", "g2", "g4", "g1"]  # then the queue, in its order
    at.button(key="label_none").click().run()
    assert "Item 2 of 4 · generation g2" in texts(at)
    assert (at.query_params["generation"], at.query_params["order"]) == ("g2", "unlabeled")  # the URL follows
    store = Store(ws)
    assert store.get_label("g3", "carol").selection == "link"
    store.close()


def label_page_at(query: dict) -> AppTest:
    """The Label page opened on a URL with these query parameters, in a new session."""
    at = AppTest.from_file(str(PAGES / "label.py"), default_timeout=60)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def reopen(at) -> AppTest:
    """The page after a browser reload: a new session, with only the URL of the old one."""
    return label_page_at(dict(at.query_params.items()))


@pytest.mark.parametrize("order", ["unlabeled", "random"])
def test_a_reload_keeps_the_item_and_how_it_was_chosen(ws, order):
    from hallu_core.store.database import Store

    at = label_page()
    at.selectbox(key="label_order").set_value(order).run()
    queue = queue_ids(at)
    at.button(key="label_next").click().run()
    at.button(key="label_next").click().run()
    assert f"Item 3 of 4 · generation {queue[2]}" in texts(at)
    again = reopen(at)
    assert not again.exception
    assert again.selectbox(key="label_order").value == order
    assert f"Item 3 of 4 · generation {queue[2]}" in texts(again)
    again.button(key="label_none").click().run()
    store = Store(ws)
    assert store.get_label(queue[2], "carol").selection == order  # still the queue's item, not a link
    store.close()


def test_a_link_to_a_missing_generation_says_so(ws):
    at = label_page_at({"generation": "nope", "annotator": "carol"})
    assert not at.exception
    assert any("No generation 'nope' in this workspace" in w.value for w in at.warning)
    assert "Item 1 of 4 · generation g2" in texts(at)


def test_the_queue_order_and_scope_outlive_a_visit_to_another_page(ws):
    """A labeler in random order who looked at Overview came back to "unlabeled first" (Streamlit drops the
    state of widgets a page does not draw), and the next labels were no random draws."""
    from hallu_core.store.database import Store

    at = AppTest.from_file(str(PAGES.parent / "app.py"), default_timeout=60)
    at.session_state["label_annotator_name"] = "carol"
    at.switch_page("pages/label.py").run()
    at.selectbox(key="label_order").set_value("random").run()
    at.selectbox(key="label_checkpoint").set_value("ckB").run()
    at.switch_page("pages/overview.py").run()
    for name in list(at.query_params):  # the sidebar's link to Label carries no query parameters
        del at.query_params[name]
    at.switch_page("pages/label.py").run()
    assert not at.exception
    assert (at.selectbox(key="label_order").value, at.selectbox(key="label_checkpoint").value) == ("random", "ckB")
    at.button(key="label_none").click().run()
    store = Store(ws)
    assert [lab.selection for lab in store.labels(annotator="carol")] == ["random"]
    store.close()
