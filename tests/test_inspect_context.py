"""Issue 22 item 5: the sidebar's checkpoint and decoding follow to Inspect, and imported models are named as
models (not "step 0-5") in Inspect and in the Detectors page's per-checkpoint table."""
from __future__ import annotations

from pathlib import Path

from fixtures_dashboard import imported_ws, synthetic_ws  # noqa: F401 (fixtures)
from streamlit.testing.v1 import AppTest

from hallu_core.detection import evaluation
from hallu_core.store.database import Store
from hallu_core.views import generation_list

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def inspect_page(ws: Path, monkeypatch, state: dict | None = None) -> AppTest:
    monkeypatch.setenv("HALLU_WORKSPACE", str(ws))
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/inspect.py")
    for k, v in (state or {}).items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def matches(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "generations match" in m.value)


def count(store: Store, checkpoint: str, decoding: str) -> int:
    return store.query("SELECT COUNT(*) FROM generations WHERE checkpoint_id = ? AND decoding_name = ?",
                       (checkpoint, decoding))[0][0]


def test_inspect_opens_on_the_sidebars_checkpoint_and_follows_it(synthetic_ws, monkeypatch):  # noqa: F811
    store = Store(synthetic_ws)
    at = inspect_page(synthetic_ws, monkeypatch)
    ckpt, decoding = at.session_state["ctx_checkpoint"], at.session_state["ctx_decoding"]
    assert at.multiselect(key="f-ckpt").value == [ckpt] and at.multiselect(key="f-dec").value == [decoding]
    assert matches(at) == f"**{count(store, ckpt, decoding):,}** generations match."  # not all of them
    at.selectbox(key="ctx_checkpoint").set_value("ckpt-100").run()  # the user picks another in the sidebar
    assert at.multiselect(key="f-ckpt").value == ["ckpt-100"]
    assert matches(at) == f"**{count(store, 'ckpt-100', at.session_state['ctx_decoding']):,}** generations match."
    at.multiselect(key="f-ckpt").set_value([]).run()  # and may still look at every checkpoint
    at.multiselect(key="f-dec").set_value([]).run()
    assert at.multiselect(key="f-ckpt").value == []
    assert matches(at) == f"**{store.counts()['generations']:,}** generations match."


def test_imported_models_are_named_not_numbered(imported_ws, monkeypatch):  # noqa: F811
    store = Store(imported_ws)
    at = inspect_page(imported_ws, monkeypatch)
    options = at.multiselect(key="f-ckpt").options  # as shown
    assert "gpt-4-0613" in " ".join(options) and not any("step" in o for o in options)
    table = at.dataframe[0].value
    assert table["step"].isna().all()  # gpt-4-0613 was "step 0", llama-2-70b-chat "step 5"
    rows = generation_list.generation_rows(store, [r[0] for r in store.query("SELECT id FROM generations LIMIT 5")])
    assert rows and all(r["step"] is None and r["checkpoint"] for r in rows)


def test_the_detectors_per_checkpoint_table_names_imported_models(imported_ws):  # noqa: F811
    from hallu_core.detection.detect import run_detection
    from hallu_core.detection.threshold_counts import ThresholdCounts

    store = Store(imported_ws)
    run_detection(store, "lexical")
    pairs = evaluation.labeled_pairs(store, "lexical", "gold")
    for rows in (evaluation.per_checkpoint(pairs), ThresholdCounts.from_pairs(pairs).per_checkpoint()):
        assert len(rows) > 1 and all(r["step"] is None for r in rows)
        assert any(r["checkpoint"].endswith("/ gpt-4-0613") for r in rows)
