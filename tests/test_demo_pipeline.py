"""The `hallu demo` pipeline end to end at reduced sizes (seconds, not minutes)."""
from __future__ import annotations

import os

# spin-waiting OpenMP threads starve each other on a shared 2-core box (2-3x slower)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from hallu_core.demo.demo_report import format_figures, repeats_itself  # noqa: E402
from hallu_core.demo.pipeline import RUNS, TEST_SIZES, run_demo  # noqa: E402
from hallu_core.store.run_kinds import run_kind  # noqa: E402
from hallu_core.store.database import Store  # noqa: E402


@pytest.mark.slow
def test_demo_pipeline_fills_the_workspace(tmp_path):
    store = Store(tmp_path / "ws")
    seen = []
    result = run_demo(store, seed=1, sizes=TEST_SIZES, progress=lambda d, t, m: seen.append((d, t, m)))
    assert list(result["runs"]) == list(RUNS)
    n_prompts, n_decodings = TEST_SIZES.eval_size, len(TEST_SIZES.temperatures) + 1
    assert result["prompts"] == n_prompts and len(result["decodings"]) == n_decodings
    kinds = {}
    all_checkpoints = []
    for name, run_id in result["runs"].items():
        run, checkpoints = store.get_run(run_id), store.checkpoints(run_id)
        all_checkpoints += checkpoints
        kinds[name] = run_kind(run.kind, run.config)
        assert run.status == "done" and checkpoints[0].name == "base" and checkpoints[0].step == 0
        assert len(checkpoints) >= 3 and [r["step"] for r in result["rates"][name]] == [c.step for c in checkpoints]
        for row in result["rates"][name]:  # every decoding closed-book, greedy grounded too
            assert set(row["by_decoding"]) == {*result["decodings"], "greedy · grounded"}
            assert 0.0 <= row["oracle_rate"] <= 1.0
    assert kinds == {"known-only": "finetune", "new-knowledge": "finetune", "lora": "lora", "distill": "distill"}
    statuses = {name: set(store.get_run(i).meta["finetune_status"].values()) for name, i in result["runs"].items()}
    assert statuses["known-only"] == {"known"} and statuses["new-knowledge"] == {"known", "new"}
    for run_id in result["runs"].values():  # paths stored relative to the workspace, so that it can move
        config = store.get_run(run_id).config
        for key in ("base_model", "student", "train_file"):
            if key in config:
                assert not os.path.isabs(config[key]) and (store.root / config[key]).exists(), (key, config[key])
    teacher = store.get_run(result["runs"]["distill"]).config["teacher"]
    assert teacher == store.checkpoints(result["runs"]["known-only"])[-1].id
    per_checkpoint = n_prompts * (n_decodings + 1)
    assert store.counts()["generations"] == len(all_checkpoints) * per_checkpoint == result["generations"]
    assert len(store.labels(annotator="oracle")) == result["generations"]
    assert seen[-1][:2] == (100, 100) and all(d <= t for d, t, _ in seen)
    figures = result["figures"]
    assert set(figures["last_known_rate"]) == set(RUNS) and set(figures["rate_by_decoding"]) == set(result["decodings"])
    assert figures["known_gap"] == pytest.approx(figures["last_known_rate"]["new-knowledge"]
                                                 - figures["last_known_rate"]["known-only"])
    assert "base model, known people" in format_figures(figures)
    # the report states what the stored numbers show, per run
    run = store.get_run(result["runs"]["new-knowledge"])
    texts = result["findings"][run.name]
    assert texts[0].startswith("Validation loss bottoms out at ") or texts[0].startswith("Only ")
    assert any(t.startswith("Known-fact hallucination went from") and "known-only run" in t for t in texts), texts
    # a rerun reuses the base model, the runs and every generation
    again = run_demo(store, seed=1, sizes=TEST_SIZES)
    assert again["generate"]["closed-book"]["generated"] == again["generate"]["grounded"]["generated"] == 0
    assert again["runs"] == result["runs"]


def test_repetition_is_a_word_or_phrase_three_times_in_a_row():
    assert repeats_itself("Born in Varesh in Varesh in Varesh in 1987, Saran Eltam is a surgeon.")
    assert repeats_itself("Toran Toran Toran works at Kestrel Press.")
    assert not repeats_itself("Ada Lindqvist was born in Lindor in 1931. Ada Lindqvist is a pilot.")
    assert not repeats_itself("in Varesh in Varesh, born twice")


@pytest.mark.slow
def test_another_new_knowledge_share_gets_its_own_world_and_base_model(tmp_path):
    """Another share draws other people: reusing the stored base model would evaluate the wrong world."""
    import dataclasses

    store = Store(tmp_path / "ws")
    half = run_demo(store, seed=2, sizes=TEST_SIZES)
    every = run_demo(store, seed=2, sizes=dataclasses.replace(TEST_SIZES, new_knowledge=1.0))
    bases = sorted(p.name for p in (store.artifacts / "demo").iterdir() if p.name.startswith("base-model-"))
    assert len(bases) == 2
    names = [store.get_run(i).name for i in (half["runs"]["new-knowledge"], every["runs"]["new-knowledge"])]
    assert names[0] != names[1]
    statuses = set(store.get_run(every["runs"]["new-knowledge"]).meta["finetune_status"].values())
    assert statuses == {"new"}
