"""Every dashboard page under streamlit.testing.v1.AppTest, on synthetic, imported-only and empty workspaces."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fixtures_dashboard import HOSTILE, any_ws, empty_ws, imported_ws, synthetic_ws  # noqa: F401
from hallu_core.store.database import Store
from hallu_core.views import generation_list, queries, render

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["overview", "runs", "inspect", "compare"]


def open_page(ws: Path, page: str, monkeypatch, query: dict | None = None, state: dict | None = None) -> AppTest:
    monkeypatch.setenv("HALLU_WORKSPACE", str(ws))
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(f"pages/{page}.py")
    for k, v in (query or {}).items():
        at.query_params[k] = v
    for k, v in (state or {}).items():
        at.session_state[k] = v
    return at.run()


def html_bodies(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html")]


def all_text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "error", "warning", "success")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def assert_ok(at: AppTest):
    assert not at.exception, [e.value for e in at.exception]
    for body in html_bodies(at):
        assert "<script" not in body.lower() and "<img" not in body.lower()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_on_every_workspace(any_ws, page, monkeypatch):  # noqa: F811
    at = open_page(any_ws, page, monkeypatch)
    assert_ok(at)
    assert at.title[0].value == page.capitalize()


def test_overview_counts_and_rate_chart(synthetic_ws, monkeypatch):  # noqa: F811
    at = open_page(synthetic_ws, "overview", monkeypatch)
    metrics = {m.label: m.value for m in at.metric}
    store = Store(synthetic_ws)
    assert metrics["Generations"] == f"{store.counts()['generations']:,}"
    # the synthetic workspace is labeled by the oracle only: a program, not a person (issue 13 item 8)
    assert {lab.annotator for lab in store.labels()} <= {"oracle"} and queries.overview(store)["labeled_share"] > 0
    assert metrics["Labeled by people"] == "0.0%"
    assert len(at.get("plotly_chart")) == 1
    assert at.button(key="export-go").disabled is False


def test_empty_workspace_says_how_to_start(empty_ws, monkeypatch):  # noqa: F811
    for page in PAGES:
        at = open_page(empty_ws, page, monkeypatch)
        assert_ok(at)
        if page != "runs":
            assert any("hallu demo" in i.value for i in at.info), page
    assert open_page(empty_ws, "overview", monkeypatch).button(key="export-go").disabled


def test_runs_curves_known_new_and_decodings(synthetic_ws, monkeypatch):  # noqa: F811
    at = open_page(synthetic_ws, "runs", monkeypatch)
    assert_ok(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # curves, known vs new, decodings
    import json
    curves = json.loads(charts[0].proto.spec)
    names = {t["name"] for t in curves["data"]}
    assert {"train_loss", "val_loss", "lexical", "confidence", "labels:oracle"} <= names


def test_runs_form_refuses_an_invalid_config(synthetic_ws, monkeypatch):  # noqa: F811
    at = open_page(synthetic_ws, "runs", monkeypatch)
    at.text_input[0].set_value("   ")  # run name
    at.text_input[1].set_value("artifacts")  # a folder of the workspace: passes confinement, then the name fails
    at.selectbox(key="finetune-ds").set_value("synthetic")  # its only dataset, an evaluation set: no default
    at.button[0].click().run()  # "Start fine-tune" is the first form button
    assert any("Invalid config" in e.value for e in at.error)
    assert Store(synthetic_ws).jobs() == []


def test_the_runs_forms_show_the_configs_own_defaults_and_limits(synthetic_ws, monkeypatch):  # noqa: F811
    """One definition: a config's default moves the form's default, and its help says what the config allows."""
    from hallu_core.modeling.config import DecodingConfig, DistillConfig, TrainConfig

    at = open_page(synthetic_ws, "runs", monkeypatch)
    inputs = {(n.label, n.key): n for n in at.number_input}
    for (label, key), model, name in ((("Learning rate", None), TrainConfig, "learning_rate"),
                                      (("Max steps (-1: use epochs)", None), TrainConfig, "max_steps"),
                                      (("Temperature", "distill-t"), DistillConfig, "temperature"),
                                      (("Max new tokens", None), DecodingConfig, "max_new_tokens")):
        widget = next(w for (lab, k), w in inputs.items() if lab == label and (key is None or k == key))
        field = model.model_fields[name]
        assert widget.value == field.default
        assert field.description in widget.help
    monkeypatch.setattr(DecodingConfig.model_fields["max_new_tokens"], "default", 40)
    at = open_page(synthetic_ws, "runs", monkeypatch)
    assert next(w for w in at.number_input if w.label == "Max new tokens").value == 40


def test_runs_shows_job_progress_log_and_error(tmp_path, monkeypatch):
    from fixtures_dashboard import build_synthetic
    from hallu_core.jobs.runner import start_job, wait_for

    ws = build_synthetic(tmp_path / "ws")
    store = Store(ws)
    ok = wait_for(store, start_job(store, "tests.helpers.job_kinds:count", {"total": 3}, custom=True), 60)
    bad = wait_for(store, start_job(store, "tests.helpers.job_kinds:fail", {"value": 7}, custom=True), 60)
    at = open_page(ws, "runs", monkeypatch, state={"runs_active_job": bad.id})
    assert_ok(at)
    assert any(render.md_escape("ValueError: bad value 7") in e.value for e in at.error)
    assert any("Traceback" in c.value for c in at.code)
    at = open_page(ws, "runs", monkeypatch, state={"runs_active_job": ok.id})
    assert any(f"`{ok.id}` — done" in m.value for m in at.markdown)


def test_inspect_filters_and_pages(synthetic_ws, monkeypatch):  # noqa: F811
    at = open_page(synthetic_ws, "inspect", monkeypatch)
    store = Store(synthetic_ws)
    at.multiselect(key="f-ckpt").set_value([]).run()  # it opens on the sidebar's checkpoint (test_inspect_context)
    at.multiselect(key="f-dec").set_value([]).run()
    assert f"**{store.counts()['generations']:,}** generations match." in all_text(at)
    at.multiselect(key="f-type").set_value(["baseless"]).run()
    expected = generation_list.count_generations(store, generation_list.GenerationFilter(span_types=("baseless",)))
    assert f"**{expected:,}** generations match." in all_text(at)
    at.text_input(key="f-search").set_value("Person 3 ").run()
    assert_ok(at)
    assert at.number_input(key="inspect-page").value == 1


def test_inspect_detail_from_query_param_with_spans_evidence_heatmap(synthetic_ws, monkeypatch):  # noqa: F811
    gid = Store(synthetic_ws).query("SELECT generation_id FROM detections WHERE n_spans > 0 AND detector = 'lexical' "
                                    "AND spans LIKE '%evidence%' LIMIT 1")[0][0]
    at = open_page(synthetic_ws, "inspect", monkeypatch, query={"generation": gid})
    assert_ok(at)
    bodies = "\n".join(html_bodies(at))
    assert '<mark class="hl hl-conflict"' in bodies
    assert 'class="hl-evidence"' in bodies and 'class="tok"' in bodies
    at.pills(key="inspect-detail-toggles").set_value([]).run()  # all detectors toggled off
    assert '<mark class="hl ' not in "\n".join(html_bodies(at))


def test_inspect_previous_next_walk_the_filtered_list(synthetic_ws, monkeypatch):  # noqa: F811
    store = Store(synthetic_ws)
    first = generation_list.generation_id_at(store, generation_list.GenerationFilter(), "newest", 0)
    second = generation_list.generation_id_at(store, generation_list.GenerationFilter(), "newest", 1)
    at = open_page(synthetic_ws, "inspect", monkeypatch, query={"generation": first},
                   state={"inspect-pos": 0, "f-ckpt": [], "f-dec": []})  # every checkpoint's, not the sidebar's
    assert at.button(key="inspect-prev").disabled
    at.button(key="inspect-next").click().run()
    assert at.query_params["generation"] == [second] or at.query_params["generation"] == second
    assert at.session_state["inspect-pos"] == 1


def test_hostile_content_is_shown_as_text(synthetic_ws, monkeypatch):  # noqa: F811
    gid = Store(synthetic_ws).query("SELECT id FROM generations WHERE example_id = 'ex-hostile'")[0][0]
    at = open_page(synthetic_ws, "inspect", monkeypatch, query={"generation": gid})
    assert_ok(at)
    bodies = "\n".join(html_bodies(at))
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in bodies


def test_compare_side_by_side_diff_and_rankings(synthetic_ws, monkeypatch):  # noqa: F811
    at = open_page(synthetic_ws, "compare", monkeypatch)
    assert_ok(at)
    sbs = [b for b in html_bodies(at) if "hallu-side-by-side" in b]
    assert any(b.count('class="hallu-col"') == 2 for b in sbs)
    assert any(m.label == "Regressions" for m in at.metric)
    assert any("Introduced in B" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 1
    assert len(at.dataframe) == 2  # regressions and fixes


def test_compare_imported_models_by_gold_labels(imported_ws, monkeypatch):  # noqa: F811
    at = open_page(imported_ws, "compare", monkeypatch)
    assert_ok(at)
    assert at.selectbox(key="cmp-source").value == "labels:gold"
    bodies = "\n".join(html_bodies(at))
    assert "gpt-4-0613" in bodies and "llama-2-7b-chat" in bodies
    assert {m.label: m.value for m in at.metric}["Hallucination rate B"] == "100.0%"


@pytest.fixture(scope="module")
def grounded_ws(tmp_path_factory) -> tuple[Path, str]:
    """A synthetic workspace whose last checkpoint also answered every prompt grounded (as `hallu generate
    --prompt-template grounded` stores it); returns the workspace and that checkpoint's id."""
    from hallu_core.data import synthetic
    from hallu_core.modeling.config import DecodingConfig
    from hallu_core.modeling.generate import _records
    from hallu_core.modeling.generate_backends import Output
    from hallu_core.store.types import Label, Span

    root = tmp_path_factory.mktemp("dash") / "grounded"
    store = synthetic.build(root, n_examples=8, steps=(0, 100))
    ckpt = store.checkpoints()[-1]
    examples = store.examples()
    outputs = [[Output(f"Grounded answer {i}.", [])] for i in range(len(examples))]
    grounded = _records(ckpt, DecodingConfig(), examples, outputs, "hf", "grounded")
    store.add_generations(grounded)
    store.add_labels([Label(g.id, "oracle", [Span(0, 8, "conflict")] if i % 4 == 0 else [])
                      for i, g in enumerate(grounded)])
    store.close()
    return root, ckpt.id


def test_a_prompt_template_is_a_choice_wherever_decodings_are(grounded_ws, monkeypatch):
    ws, ckpt = grounded_ws
    store = Store(ws)
    n_grounded = store.query("SELECT COUNT(*) FROM generations WHERE decoding_name = 'greedy · grounded'")[0][0]
    at = open_page(ws, "inspect", monkeypatch, state={"ctx_checkpoint": ckpt})
    assert_ok(at)
    assert "greedy · grounded" in at.selectbox(key="ctx_decoding").options  # the sidebar
    assert {"greedy", "greedy · grounded"} <= set(at.multiselect(key="f-dec").options)
    at.multiselect(key="f-dec").set_value(["greedy · grounded"]).run()
    assert f"**{n_grounded:,}** generations match." in all_text(at)
    gid = store.query("SELECT id FROM generations WHERE decoding_name = 'greedy · grounded' LIMIT 1")[0][0]
    at = open_page(ws, "inspect", monkeypatch, query={"generation": gid})
    assert any("decoding greedy · prompt template grounded · sample 0" in c.value for c in at.caption)
    at = open_page(ws, "runs", monkeypatch)
    assert_ok(at)
    assert "greedy · grounded" in at.selectbox(key="runs-decoding").options


def test_compare_pairs_a_grounded_side_with_the_same_checkpoints_closed_book_prompts(grounded_ws, monkeypatch):
    ws, ckpt = grounded_ws
    at = open_page(ws, "compare", monkeypatch, state={"ctx_checkpoint": ckpt, "ctx_decoding": "greedy · grounded"})
    assert_ok(at)
    assert at.multiselect(key="cmp-sides").value == [(ckpt, "greedy"), (ckpt, "greedy · grounded")]
    assert any(m.label == "Hallucination rate B" for m in at.metric)


def test_the_generate_form_offers_templates_and_refuses_a_bad_one(grounded_ws, monkeypatch):
    from hallu_core.store.types import Checkpoint

    ws, _ = grounded_ws
    store = Store(ws)
    folder = ws / "artifacts" / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    if store.get_checkpoint("with-weights") is None:
        store.add_checkpoint(Checkpoint("with-weights", store.runs()[0].id, 500, "step-500", "artifacts/weights"))
    at = open_page(ws, "runs", monkeypatch)
    template = next(s for s in at.selectbox if s.label == "Prompt template")
    assert template.options == ["closed-book", "grounded", "custom"]
    next(m for m in at.multiselect if m.label == "Checkpoints").set_value(["with-weights"])
    template.set_value("custom")
    next(t for t in at.text_input if t.label.startswith("Custom template")).set_value("{prompt} {sorce}")
    next(b for b in at.button if b.label == "Start generation").click().run()
    said = render.md_escape("prompt_template = '{prompt} {sorce}': unknown placeholder {sorce}")
    assert any(said in e.value for e in at.error)
    assert store.jobs() == []


def test_a_workspace_that_cannot_be_read_is_a_message_not_a_traceback(synthetic_ws, monkeypatch):  # noqa: F811
    """Issue 22 item 10: a StoreError (locked past the timeout, read-only, disk full) anywhere in a page is one
    clear message, from app.py's handler around every page (here the first page, as a browser opens it)."""
    from hallu_core.store.database import Store, StoreError
    from hallu_core.ui import data

    def locked(self, *args, **kwargs):
        raise StoreError(f"cannot read {self.path}: database is locked")
    data.clear()
    monkeypatch.setenv("HALLU_WORKSPACE", str(synthetic_ws))
    monkeypatch.setattr(Store, "query", locked)
    at = AppTest.from_file(APP, default_timeout=60).run()
    data.clear()
    assert not at.exception, [e.value for e in at.exception]
    assert any("could not be read or written" in e.value and "database is locked" in e.value for e in at.error)
    monkeypatch.undo()
    monkeypatch.setenv("HALLU_WORKSPACE", str(synthetic_ws))
    assert not AppTest.from_file(APP, default_timeout=60).run().error  # once the database answers, all is there
