"""AppTest: per-detector span thresholds on the calibrated scale (Inspect, Compare, Detectors), and
stored detections made before calibration shown with their raw scores and a note."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from hallu_core.detection.detectors import calibrate
from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Detection, Example, Generation, Label, Run, Span
from helpers import evidence

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TEXT = "Ada was born in Paris in 1820 and wrote poems about engines."
#        spans: "Paris" [16, 21), "1820" [25, 29), "poems" [40, 45)


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """Two checkpoints answering one prompt; `lexical` stored calibrated (spans keep a raw score) with its
    own threshold 0.4; `semantic` stored before calibration (raw scores, no raw_score on spans)."""
    maps = tmp_path / "maps"
    for name, threshold in (("lexical", 0.4), ("semantic", 0.3)):
        calibrate.save(calibrate.DetectorCalibration(name, "fp", calibrate.Calibrator("identity"),
                                                     calibrate.Calibrator("identity"), threshold,
                                                     meta={"fitted_on": "test"}), maps)
    monkeypatch.setattr(calibrate, "MAP_DIR", maps)
    root = tmp_path / "ws"
    store = Store(root)
    store.add_examples([Example("e1", "toy", "Write about Ada.", source="Ada was born in London in 1815.",
                                task="bio")])
    store.add_run(Run("r", "run", "tiny"))
    for ck, step in (("cA", 1), ("cB", 2)):
        store.add_checkpoint(Checkpoint(ck, "r", step, f"step-{step}"))
        store.add_generations([Generation(f"g{ck}", "e1", ck, TEXT, {"strategy": "greedy"}, "greedy")])
        store.add_detections([
            Detection(f"g{ck}", "lexical", "h2", [Span(16, 21, "conflict", 0.45, raw_score=0.75),
                                                  Span(25, 29, "conflict", 0.8, raw_score=0.9)], 0.6),
            Detection(f"g{ck}", "semantic", "h1", [Span(40, 45, "baseless", 0.1)], 0.1)])
        store.add_labels([Label(f"g{ck}", "gold", [Span(25, 29, "conflict")])])
    store.close()
    monkeypatch.setenv("HALLU_WORKSPACE", str(root))
    return root


def page(name: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(f"pages/{name}.py")
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def span_count(at) -> int:
    [heading] = [m.value for m in at.markdown if m.value.startswith("**Spans**")]
    return int(heading.split("(")[1].rstrip(")"))


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_inspect_starts_each_detector_at_its_own_threshold_and_filters_its_spans(ws):
    at = page("inspect", {"generation": "gcB"})
    at.pills(key="inspect-detail-toggles").set_value(["lexical", "semantic"]).run()
    assert not at.exception
    lexical = at.slider(key="inspect-detail-threshold-lexical")
    assert lexical.value == 0.4  # its own threshold, from its calibration map
    assert span_count(at) == 3
    lexical.set_value(0.5).run()  # "Paris" (0.45) is now under lexical's threshold
    assert span_count(at) == 2 and "1 detector span(s) under the threshold hidden" in captions(at)
    # semantic's stored spans are raw: shown unfiltered from 0, with a note saying why
    assert at.slider(key="inspect-detail-threshold-semantic-raw").value == 0.0
    assert "stored before it was calibrated" in captions(at)
    assert "semantic 0.100 (raw)" in captions(at).replace("\\", "")


def test_a_chosen_threshold_follows_the_user_to_compare_and_detectors(ws):
    at = page("inspect", {"generation": "gcB"})
    at.pills(key="inspect-detail-toggles").set_value(["lexical"]).run()
    at.slider(key="inspect-detail-threshold-lexical").set_value(0.85).run()
    at.switch_page("pages/compare.py")
    at.query_params["example"] = "e1"
    at.run()
    assert not at.exception
    at.selectbox(key="cmp-source").set_value("lexical").run()
    assert at.slider(key="cmp-threshold-lexical").value == 0.85
    # both sides' 0.45 and 0.8 spans are under 0.85: nothing introduced, fixed or kept
    assert any(m.value.startswith("**In both** (0)") for m in at.markdown)
    assert "count the stored spans" in captions(at)
    at.switch_page("pages/detectors.py").run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "threshold" in df.value.columns)
    assert dict(zip(table["detector"], table["threshold"])) == {"lexical": 0.85, "semantic": 0.0}
    assert dict(zip(table["detector"], table["scores"])) == {"lexical": "calibrated", "semantic": "raw"}
    assert dict(zip(table["detector"], table["span_recall"]))["lexical"] == 0.0  # every lexical span filtered


def test_detectors_page_measures_at_each_detectors_own_threshold(ws):
    at = page("detectors")
    assert not at.exception
    table = next(df.value for df in at.dataframe if "threshold" in df.value.columns)
    row = {d: i for i, d in enumerate(table["detector"])}["lexical"]
    assert table["threshold"][row] == 0.4
    # at 0.4 both lexical spans count: 4 of 9 predicted characters per output are gold
    assert table["span_precision"][row] == pytest.approx(4 / 9)
    at.selectbox(key="det_detector").set_value("lexical").run()
    at.slider(key="det_threshold-lexical").set_value(0.5).run()
    table = next(df.value for df in at.dataframe if "threshold" in df.value.columns)
    assert table["threshold"][row] == 0.5 and table["span_precision"][row] == 1.0  # "Paris" dropped


def test_label_page_accepts_a_detector_span_with_its_evidence_only_when_real(tmp_path, monkeypatch):
    root = evidence.build(tmp_path / "ws")
    monkeypatch.setenv("HALLU_WORKSPACE", str(root))
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/label.py")
    at.session_state["label_annotator_name"] = "ann"
    at.run()
    at.button(key="label_reveal").click().run()  # detector suggestions wait for the annotator's reveal
    at.button(key="label_accept_0").click().run()  # offers are sorted by position: "Varesh" (stray) first
    at.button(key="label_accept_0").click().run()
    assert not at.exception
    spans = evidence.accepted_spans(root, "ann")
    assert spans["1987"].evidence == evidence.REAL.evidence and evidence.SOURCE[25:29] == "1994"
    assert spans["Varesh"].evidence is None and spans["Varesh"].detector == "lexical"


def test_detectors_page_agrees_with_itself_after_a_refit_on_the_labels_it_measures_against(ws):
    """Issue 21 item 8: figures on the labels a calibration was refit on say in-sample; the rule stored
    flags follow is stated beside the slider; no detector is both 'not run' and 'trained on them'."""
    from hallu_core.detection.workspace_calibration import map_dir

    store = Store(ws)
    calibrate.save(calibrate.DetectorCalibration(
        "lexical", "fp", calibrate.Calibrator("identity"), calibrate.Calibrator("identity"), 0.4,
        meta={"fitted_on": "workspace labels of 'gold' (2 outputs)", "annotator": "gold"},
        response_thresholds={"bio": 0.55, "": 0.0}), map_dir(store))
    store.close()
    at = page("detectors")
    assert not at.exception
    table = next(df.value for df in at.dataframe if "threshold" in df.value.columns)
    measured_on = dict(zip(table["detector"], table["measured on"]))
    assert measured_on["lexical"] == "the labels its calibration was refit on (in-sample)"
    assert "not trained on them here" in measured_on["semantic"]
    [warning] = [w.value.replace("\\", "") for w in at.warning]
    assert warning.startswith("lexical: trained, or calibrated, on these labels (gold)") and "in-sample" in warning
    assert "Not run on any output" not in captions(at)
    at.selectbox(key="det_detector").set_value("lexical").run()
    assert "operating threshold (bio 0.55; other tasks 0.00)" in captions(at).replace("\\", "")
