"""Issue 22 item 6, on the figure objects and the findings of the shipped workspace: the learning rate on an
axis of its own, a line drawn over an equal one still visible, and findings on the page's decoding (the
same base model reads the same known-fact rate in every run)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from hallu_core.store.database import Store
from hallu_core.store.types import Run
from hallu_core.ui import charts
from hallu_core.views import queries
from hallu_core.views.findings import run_findings

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")


def _axis(fig, name: str) -> str:
    return next(t.yaxis for t in fig.data if t.name.split(" (= ")[0] == name)


def test_the_learning_rate_gets_an_axis_of_its_own(tmp_path):
    store = Store(tmp_path / "ws")
    store.add_run(Run("run-1", "ft", "base"))
    for step in (10, 20, 30):
        store.log_metrics("run-1", step, {"loss": 2.0 / step, "grad_norm": 8.0 / step * 10, "learning_rate": 3e-4})
    fig = charts.run_curves_figure(queries.metric_points(store, "run-1"))
    assert _axis(fig, "learning_rate") != _axis(fig, "grad_norm")  # it was drawn flat at 0 beside norms of 8-27
    assert _axis(fig, "grad_norm") != _axis(fig, "loss")
    titles = [a.text for a in fig.layout.annotations]
    assert "Learning rate" in titles


def test_a_line_over_an_equal_one_stays_visible_and_says_so():
    rates = [{"step": s, "series": name, "value": v, "panel": "hallucination rate"}
             for name in ("default", "lexical", "labels:oracle") for s, v in ((0, 0.71), (24, 0.81), (48, 0.84))]
    fig = charts.run_curves_figure(rates)
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"default", "lexical (= default)", "labels:oracle (= default)"}
    styles = {(t.line.dash, t.marker.symbol, t.line.color) for t in fig.data}
    assert len(styles) == 3 and len({t.line.dash for t in fig.data}) == 3  # dash and marker, not colour alone
    sizes = [t.marker.size for t in fig.data]
    assert sizes == sorted(sizes, reverse=True)  # the line drawn first keeps the widest marker, peeking out


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("shipped") / "ws"
    shutil.copytree(REPO / "sample_data" / "workspace", ws)
    return ws


def _known_at_base(findings) -> str:
    text = next(f.text for f in findings if f.topic == "knowledge")
    return re.search(r"went from (\d+%)", text).group(1)


def test_one_base_model_reads_one_known_fact_rate_in_every_runs_findings(shipped):
    """Every demo run starts from base-model-s0; its greedy answers are shared, its samples are each run's own
    draws. Pooled over every decoding the base read 30% in one run and 28% in another."""
    store = Store(shipped)
    demo = [r.id for r in store.runs() if r.name.startswith("demo-s0")]
    pooled = {_known_at_base(run_findings(store, run)) for run in demo}
    assert len(pooled) > 1  # the trap: samples drawn apart, pooled in
    greedy = [run_findings(store, run, decoding="greedy") for run in demo]
    assert {_known_at_base(f) for f in greedy} == {"13%"}
    assert all("Known-fact hallucination (greedy decoding)" in next(x.text for x in f if x.topic == "knowledge")
               for f in greedy)
    best = next(f.text for f in greedy[0] if f.topic == "best_checkpoint")
    assert "(greedy decoding)" in best and "pooled" not in best


def test_the_runs_page_states_findings_on_the_decoding_it_charts(shipped, monkeypatch):
    monkeypatch.setenv("HALLU_WORKSPACE", str(shipped))
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/runs.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="runs-decoding").value == "greedy"
    shown = "\n".join(e.value.replace("\\", "") for e in [*at.markdown, *at.caption])  # markdown-escaped
    assert "Known-fact hallucination (greedy decoding) went from 13%" in shown
    assert "checkpoints compared on the greedy decoding (the choice above)" in shown
