"""Issue 13 under AppTest, where a browser is not needed: in-sample figures flagged, jobs
validated before they start, rates that say what they pool."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from fixtures_dashboard import synthetic_ws  # noqa: F401 (a fixture)
from hallu_core.detection import label_training
from hallu_core.store.database import Store
from hallu_core.views import judges

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_page(ws: Path, page: str, monkeypatch, state: dict | None = None) -> AppTest:
    monkeypatch.setenv("HALLU_WORKSPACE", str(ws))
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(f"pages/{page}.py")
    for k, v in (state or {}).items():
        at.session_state[k] = v
    return at.run()


def test_in_sample_figures_of_a_retrained_detector_are_flagged(tmp_path, monkeypatch):
    from hallu_core.data import synthetic

    ws = tmp_path / "ws"
    store = synthetic.build(ws, n_examples=12, steps=(0, 100), decodings=("greedy",), labels_every=1)
    label_training.train_detector_job(store, {"annotator": "oracle", "detector": "learned", "folds": 2},
                                      lambda *a: None)
    at = open_page(ws, "detectors", monkeypatch, state={"judge": "labels:oracle"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="det_gold").value == "labels:oracle"
    assert any("learned\\: trained, or calibrated, on these labels" in w.value for w in at.warning)
    table = at.dataframe[0].value  # "All detectors"
    row = table[table["detector"] == "learned"].iloc[0]
    assert row["measured on"] == "its training labels (in-sample)"
    assert set(table[table["detector"] != "learned"]["measured on"]) == {"not trained on them here"}


def test_retrain_button_is_refused_with_too_few_labels(synthetic_ws, monkeypatch):  # noqa: F811
    from hallu_core.labeling import queue as labeling

    store = Store(synthetic_ws)
    gid = store.query("SELECT id FROM generations LIMIT 1")[0][0]
    labeling.no_hallucination(store, gid, "pat")
    assert label_training.readiness(store, "pat") is not None
    at = open_page(synthetic_ws, "detectors", monkeypatch, state={"judge": "labels:pat"})
    assert at.button(key="det_train").disabled
    assert any("need at least 6 done labels by 'pat'" in c.value for c in at.caption)


def test_default_judge_prefers_people_then_the_oracle_then_default():
    counts = {("detector", "confidence"): 700, ("detector", "default"): 700, ("labels", "oracle"): 700,
              ("labels", "zoe"): 90, ("labels", "gold"): 300, ("labels", "pat"): 2}
    assert judges.rank(counts) == [("labels", "gold"), ("labels", "zoe"), ("labels", "oracle"),
                                   ("detector", "default"), ("labels", "pat"), ("detector", "confidence")]
    assert judges.rank({("labels", "pat"): 2, ("labels", "oracle"): 2})[0] == ("labels", "pat")  # all there is
    assert judges.rank({("detector", "confidence"): 5, ("detector", "default"): 1})[0] == ("detector", "default")
    # a few hundred outputs labeled by people judge even a big workspace; 90 of 6,000 do not
    big = {("labels", "oracle"): 6000, ("labels", "gold"): 303, ("labels", "zoe"): 90}
    assert judges.rank(big) == [("labels", "gold"), ("labels", "oracle"), ("labels", "zoe")]


def test_overview_counts_people_not_the_oracle(synthetic_ws, monkeypatch):  # noqa: F811
    from hallu_core.labeling import queue as labeling

    store = Store(synthetic_ws)
    total = store.counts()["generations"]
    gids = [r[0] for r in store.query("SELECT id FROM generations LIMIT 3")]
    for gid in gids:
        labeling.no_hallucination(store, gid, "ann")
    labeling.add_span(store, gids[0], "ben", 0, 1, "conflict")  # a draft: not done, not counted
    assert judges.human_labeled(store) == 3
    at = open_page(synthetic_ws, "overview", monkeypatch)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Labeled by people"] == f"{3 / total:.1%}"


def test_rerunning_an_existing_generation_says_nothing_was_new(tmp_path):
    """Issue 13 item 10: the job ended "done 0/0" without saying everything already existed."""
    import json
    import shutil

    from hallu_core.jobs import tasks
    from hallu_core.modeling.config import GenerateConfig, default_demo_decodings

    ws = tmp_path / "ws"
    shutil.copytree(Path(__file__).resolve().parent.parent / "sample_data" / "workspace", ws)
    store = Store(ws)
    base = next(c for c in store.checkpoints() if c.step == 0 and c.path)
    greedy = default_demo_decodings(40)[0]  # what the shipped demo generated with
    config = GenerateConfig(checkpoints=(base.id,), dataset="demo-eval", decodings=(greedy,))
    seen = []
    args = json.loads(json.dumps({"config": config.to_dict()}))  # as a job gets them, from the store
    result = tasks.generate_job(store, args, lambda d, t, m="": seen.append((d, t, m)))
    assert result["generated"] == 0 and result["skipped"] > 0
    assert seen[-1] == (1, 1, f"nothing to do: all {result['skipped']:,} generations already existed")


def test_shipped_default_on_the_dev_slice_says_it_was_partly_tuned_there(tmp_path, monkeypatch):
    """`default`'s routes were chosen on the dev slice's tuning part: on the shipped gold labels its
    figures are partly in-sample, and the Detectors page says how many rows."""
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(Path(__file__).resolve().parent.parent / "sample_data" / "workspace", ws)
    at = open_page(ws, "detectors", monkeypatch, state={"judge": "labels:gold"})
    assert not at.exception
    rows = {r["detector"]: r["measured on"] for r in at.dataframe[0].value.to_dict("records")}
    assert rows["default"] == "partly Hallu's tuning rows (201 of 303; lockbox in docs/detectors.md)"
    assert rows["lexical"] == "not trained on them here"
