"""Issue 22 item 2: the forms' defaults come from what the workspace holds (a training set for training, never
the evaluation set; the decoding a checkpoint's outputs were generated with), and two decoding configs never
share a name on the pages."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from hallu_core.modeling.config import DecodingConfig
from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Example, Generation, Run, generation_id
from hallu_core.views import defaults, queries

APP = str(Path(__file__).resolve().parent.parent / "app.py")
DEMO_GREEDY = DecodingConfig(max_new_tokens=40)  # what the demo generated with (the form's own default is 64)


def workspace(root: Path, *, training_set: bool) -> Store:
    """An evaluation set answered at 40 tokens by a checkpoint with weights; optionally a training set too."""
    store = Store(root)
    store.add_examples([Example(f"eval/{i}", "demo-eval", f"Who is person {i}?", None, f"Person {i}.")
                        for i in range(4)])
    if training_set:
        store.add_examples([Example(f"train/{i}", "wiki-train", f"Bio of {i}:", None, f"{i} is a chemist.")
                            for i in range(4)])
    store.add_run(Run("run-1", "demo-s0-new-knowledge", "artifacts/base"))
    store.add_checkpoint(Checkpoint("ck-72", "run-1", 72, "step-72", "artifacts/runs/run-1/checkpoint-72"))
    store.add_generations([Generation(generation_id(f"eval/{i}", "ck-72", DEMO_GREEDY.hash_dict(), 0), f"eval/{i}",
                                      "ck-72", "An answer.", DEMO_GREEDY.hash_dict(), "greedy") for i in range(4)])
    return store


def runs_page(root: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("HALLU_WORKSPACE", str(root))
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/runs.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def number(at: AppTest, label: str):
    return next(n for n in at.number_input if n.label == label)


def test_datasets_are_told_apart_by_what_the_workspace_did_with_them(tmp_path):
    store = workspace(tmp_path / "ws", training_set=True)
    assert defaults.dataset_roles(store) == {"wiki-train": "unused", "demo-eval": "evaluation"}  # training sets first
    store.add_run(Run("run-2", "ft", "artifacts/base", config={"dataset": "wiki-train"}))
    assert defaults.dataset_roles(store)["wiki-train"] == "training"


def test_the_finetune_form_never_defaults_to_the_evaluation_set(tmp_path, monkeypatch):
    workspace(tmp_path / "only-eval", training_set=False).close()
    at = runs_page(tmp_path / "only-eval", monkeypatch)
    for key in ("finetune-ds", "distill-ds"):
        assert at.selectbox(key=key).value is None  # "demo-eval" (sorted first) was the default
        assert at.selectbox(key=key).options == ["demo-eval (evaluation set)"]
    at.button[0].click()  # the fine-tune form's Start, without a dataset picked
    at.run()
    assert any("Choose a training dataset" in e.value for e in at.error)
    assert not Store(tmp_path / "only-eval").jobs()

    workspace(tmp_path / "with-train", training_set=True).close()
    at = runs_page(tmp_path / "with-train", monkeypatch)
    assert at.selectbox(key="finetune-ds").value == "wiki-train"


def test_generate_defaults_to_the_decoding_the_checkpoints_outputs_used(tmp_path, monkeypatch):
    workspace(tmp_path / "ws", training_set=False).close()
    at = runs_page(tmp_path / "ws", monkeypatch)  # the sidebar's context: ck-72, greedy
    assert at.session_state["ctx_checkpoint"] == "ck-72"
    assert number(at, "Max new tokens").value == 40  # was DecodingConfig's 64
    assert next(s for s in at.selectbox if s.label == "Decoding").value == "greedy"
    assert next(m for m in at.multiselect if m.label == "Checkpoints").value == ["ck-72"]
    assert next(s for s in at.selectbox if s.label == "Prompts from dataset").value == "demo-eval"
    assert any("settings of the earlier 'greedy' outputs" in c.value for c in at.caption)


def test_earlier_decoding_falls_back_to_the_checkpoints_newest_then_none(tmp_path):
    store = workspace(tmp_path / "ws", training_set=False)
    assert defaults.earlier_decoding(store, "ck-72", "beam4")["max_new_tokens"] == 40
    assert defaults.earlier_decoding(Store(tmp_path / "empty"), "ck-72", "greedy") is None


# -- two configs, two names --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from hallu_core.demo.base_model import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("names") / "model", pretrain_steps=5)


def test_a_second_greedy_config_gets_its_own_name(tmp_path, tiny_dir):
    from hallu_core.modeling.generate import generate_for_checkpoints

    store = Store(tmp_path / "ws")
    store.add_examples([Example(f"ex{i}", "eval", p) for i, p in enumerate(["Ada was born in", "Bo"])])
    store.add_run(Run("run1", "tiny", str(tiny_dir)))
    store.add_checkpoint(Checkpoint("ck0", "run1", 0, "base", str(tiny_dir)))
    short, long = DecodingConfig(max_new_tokens=4), DecodingConfig(max_new_tokens=6)
    generate_for_checkpoints(store, ["ck0"], decodings=[short])
    generate_for_checkpoints(store, ["ck0"], decodings=[long])  # "greedy" again: 2 x 2 outputs under one name
    names = {g.decoding_name: g.decoding["max_new_tokens"] for g in store.generations(checkpoint_id="ck0")}
    assert names == {"greedy": 4, "greedy-6tok": 6}
    assert generate_for_checkpoints(store, ["ck0"], decodings=[long, short])["generated"] == 0  # reruns skip
    (ckpt,) = queries.checkpoints(store)
    assert sorted(ckpt["decodings"]) == ["greedy", "greedy-6tok"]  # what the pages offer: two decodings


def test_two_greedy_configs_in_one_call_get_two_names(tmp_path, tiny_dir):
    """Both names are chosen before either config stores an output: the second must not take the first's."""
    from hallu_core.modeling.generate import generate_for_checkpoints

    store = Store(tmp_path / "ws")
    store.add_examples([Example(f"ex{i}", "eval", p) for i, p in enumerate(["Ada was born in", "Bo"])])
    store.add_run(Run("run1", "tiny", str(tiny_dir)))
    store.add_checkpoint(Checkpoint("ck0", "run1", 0, "base", str(tiny_dir)))
    generate_for_checkpoints(store, ["ck0"], decodings=[DecodingConfig(max_new_tokens=4),
                                                        DecodingConfig(max_new_tokens=6)])
    names = {g.decoding_name: g.decoding["max_new_tokens"] for g in store.generations(checkpoint_id="ck0")}
    assert names == {"greedy": 4, "greedy-6tok": 6}


def test_a_name_stays_with_the_config_that_holds_it(tmp_path):
    from hallu_core.modeling.decoding_names import workspace_label

    store = workspace(tmp_path / "ws", training_set=False)  # "greedy" at 40 tokens
    assert workspace_label(store, DEMO_GREEDY, "closed-book") == "greedy"
    assert workspace_label(store, DecodingConfig(), "closed-book") == "greedy-64tok"  # the form's old default
    assert workspace_label(store, DecodingConfig(), "grounded") == "greedy · grounded"  # a name nobody holds
    # a workspace from before names were unique: "greedy" holds 24 tokens too, and each config keeps it
    legacy = DecodingConfig(max_new_tokens=24)
    store.add_generations([Generation(generation_id("eval/0", "ck-72", legacy.hash_dict(), 0), "eval/0", "ck-72",
                                      "Short.", legacy.hash_dict(), "greedy")])
    assert workspace_label(store, DEMO_GREEDY, "closed-book") == "greedy"
    assert workspace_label(store, legacy, "closed-book") == "greedy"
    assert workspace_label(store, DecodingConfig(max_new_tokens=64, seed=1), "closed-book") == "greedy-64tok"
