"""distill.py: a student learns a teacher's distributions, resumes, and refuses a pair with different tokenizers."""
from __future__ import annotations

import importlib
import json
import os

# spin-waiting OpenMP threads starve each other on a shared 2-core box (2-3x slower)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from transformers import AutoConfig, TrainerCallback  # noqa: E402

from hallu_core.cli.main import main  # noqa: E402
from hallu_core.modeling.config import ConfigError, DistillConfig  # noqa: E402
from hallu_core.demo.base_model import make_tiny_model  # noqa: E402
from hallu_core.modeling.distill import TokenizerMismatch, distill  # noqa: E402
from hallu_core.jobs.runner import JOB_KINDS  # noqa: E402
from hallu_core.modeling.models import load_model, load_tokenizer  # noqa: E402
from hallu_core.store.database import Store  # noqa: E402
from hallu_core.modeling.train import run_dir, run_id_for  # noqa: E402
from hallu_core.modeling.train_data import CompletionCollator, tokenize_records  # noqa: E402

RECORDS = [{"prompt": f"Question: Where was person {i} born?\nAnswer:", "completion": f" Person {i} was born in Lindor."}
           for i in range(24)]
OTHER_CORPUS = [f"Zyx qwv {i} plorb gnash fjord {i * 7} vex." for i in range(60)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill")
    return {
        # a 2-layer teacher with a distribution worth learning; students share its tokenizer (same corpus)
        "teacher": make_tiny_model(root / "teacher", n_layer=2, pretrain_steps=40, seed=1),
        "student": make_tiny_model(root / "student", n_layer=1, seed=2),
        "foreign": make_tiny_model(root / "foreign", n_layer=1, texts=OTHER_CORPUS),
    }


def _config(models, **overrides) -> DistillConfig:
    values = dict(teacher=str(models["teacher"]), train_file="records.jsonl", max_steps=6, save_every=3, eval_every=3,
                  batch_size=4, learning_rate=5e-3, val_fraction=0.2, report_to=())
    return DistillConfig(**{**values, **overrides})


def mean_kl(teacher_dir, student_dir) -> float:
    """KL(teacher || student) at T = 1 per completion token of RECORDS, computed apart from the trainer."""
    tokenizer = load_tokenizer(teacher_dir)
    batch = CompletionCollator(tokenizer.pad_token_id)(tokenize_records(tokenizer, RECORDS, 64))
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad():
        teacher, student = (load_model(d, device=torch.device("cpu"), dtype=torch.float32).eval()(**inputs).logits
                            for d in (teacher_dir, student_dir))
    keep = batch["labels"][:, 1:] != -100
    t, s = F.log_softmax(teacher[:, :-1][keep], -1), F.log_softmax(student[:, :-1][keep], -1)
    return F.kl_div(s, t, log_target=True, reduction="batchmean").item()


def test_distillation_lowers_kl_to_the_teacher_and_stores_a_distill_run(tmp_path, models):
    store = Store(tmp_path / "ws")
    config = _config(models, student=str(models["student"]), alpha=1.0, temperature=1.0, max_steps=12,
                     save_every=6, eval_every=6, report_to=("tensorboard",))
    run = distill(store, config, records=RECORDS)
    assert (run.kind, run.status, run.meta["teacher"]) == ("distill", "done", str(models["teacher"]))
    checkpoints = store.checkpoints(run.id)
    assert [(c.step, c.name) for c in checkpoints] == [(0, "base"), (6, "step-6"), (12, "step-12")]
    before, after = (mean_kl(models["teacher"], store.abspath(c.path)) for c in (checkpoints[0], checkpoints[-1]))
    assert after < 0.7 * before, (before, after)
    assert checkpoints[-1].metrics["eval_kl"] < checkpoints[0].metrics["eval_kl"]
    assert {"train_kl", "train_loss"} <= set(checkpoints[-1].metrics)
    assert {"loss", "kl", "ce", "eval_kl"} <= {name for _, name, _ in store.run_metrics(run.id)}
    assert any((run_dir(store, run.id) / "tensorboard").iterdir())
    saved = json.loads((run_dir(store, run.id) / "distill_config.json").read_text())
    assert DistillConfig.from_dict(saved) == config == DistillConfig.from_dict(run.config)


class StopAfterFirstSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        control.should_training_stop = True


def test_an_interrupted_shrink_distillation_resumes_from_its_checkpoint(tmp_path, models):
    store = Store(tmp_path / "ws")
    data = tmp_path / "records.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    config = _config(models, train_file=str(data), max_steps=9)  # student "shrink": the teacher's 2 layers -> 1
    first = distill(store, config, callbacks=[StopAfterFirstSave()])
    assert first.status == "interrupted" and [c.step for c in store.checkpoints(first.id)] == [0, 3]
    folder = run_dir(store, first.id)
    assert AutoConfig.from_pretrained(folder / "checkpoint-3").num_hidden_layers == 1
    saved = {p: (folder / p / "model.safetensors").stat().st_mtime_ns for p in ("student-init", "checkpoint-3")}

    module, function = JOB_KINDS["distill"].split(":")  # the second half runs as the Runs page's job would
    seen = []
    summary = getattr(importlib.import_module(module), function)(
        store, {"config": config.to_dict()}, lambda done, total, message="": seen.append(done))
    assert summary == {"run_id": first.id, "status": "done"} and first.id == run_id_for(config)
    assert seen[0] == 3  # the step count continues from the checkpoint
    assert [c.step for c in store.checkpoints(first.id)] == [0, 3, 6, 9]
    assert {p: (folder / p / "model.safetensors").stat().st_mtime_ns for p in saved} == saved

    from hallu_core.modeling.generate import generate_for_checkpoints
    from hallu_core.store.types import Example

    store.add_examples([Example("e1", "eval", RECORDS[0]["prompt"])])  # a student generates like a fine-tune
    ids = [c.id for c in store.checkpoints(first.id)]
    assert generate_for_checkpoints(store, ids, dataset="eval")["generated"] == 4


def test_a_pair_with_different_tokenizers_is_refused_before_training(tmp_path, models):
    store = Store(tmp_path / "ws")
    config = _config(models, student=str(models["foreign"]))
    with pytest.raises(TokenizerMismatch, match="different tokenizers") as error:
        distill(store, config, records=RECORDS)
    assert str(models["teacher"]) in str(error.value) and str(models["foreign"]) in str(error.value)
    assert store.runs() == [] and not run_dir(store, run_id_for(config)).exists()

    config_file = tmp_path / "distill.json"
    config_file.write_text(json.dumps(config.to_dict()))
    result = CliRunner().invoke(main, ["distill", str(config_file), "-w", str(tmp_path / "ws")])
    assert result.exit_code == 1 and "different tokenizers" in result.output
    assert str(models["foreign"]) in result.output


def test_a_teacher_reference_to_a_missing_checkpoint_of_a_run_is_refused(tmp_path, models):
    store = Store(tmp_path / "ws")
    first = distill(store, _config(models, max_steps=3), records=RECORDS)
    with pytest.raises(ConfigError, match="no checkpoint '7'"):
        distill(store, _config(models, teacher=f"{first.id}:7"), records=RECORDS)
    # a stored checkpoint as the teacher: RUN:STEP resolves to its folder
    second = distill(store, _config(models, teacher=f"{first.id}:3", student=str(models["student"]), max_steps=3),
                     records=RECORDS)
    assert second.meta["teacher_checkpoint"] == store.checkpoints(first.id)[-1].id


@pytest.mark.parametrize("overrides, message", [
    ({"temperature": 0}, "temperature = 0"),
    ({"temperature": -1.5}, "temperature = -1.5"),
    ({"alpha": 1.5}, "alpha = 1.5"),
    ({"alpha": -0.1}, "alpha = -0.1"),
    ({"student": "gpt2", "student_layers": 2}, "student_layers = 2"),
    ({"student_layers": 0}, "student_layers = 0"),
    ({"teacher": " "}, "teacher = ' '"),
    ({"train_file": None}, "dataset/train_file"),
])
def test_distill_config_names_the_bad_field_and_value(models, overrides, message):
    with pytest.raises(ConfigError, match=message):
        _config(models, **overrides)


def test_a_shrink_that_does_not_shrink_is_refused_before_training(tmp_path, models):
    store = Store(tmp_path / "ws")
    with pytest.raises(ConfigError, match="student_layers = 2: .*fewer layers than the teacher's 2"):
        distill(store, _config(models, student_layers=2), records=RECORDS)
    assert store.runs() == []


def test_the_runs_page_form_queues_a_validated_distill_job(tmp_path, models, monkeypatch):
    import shutil

    from streamlit.testing.v1 import AppTest

    from hallu_core.jobs import runner as jobs
    from hallu_core.store.types import Checkpoint, Example, Run

    ws = tmp_path / "ws"
    store = Store(ws)
    shutil.copytree(models["teacher"], ws / "artifacts" / "teacher")
    store.add_run(Run("run-t", "teacher", "artifacts/teacher"))
    store.add_checkpoint(Checkpoint("ck-t", "run-t", 0, "base", "artifacts/teacher"))
    store.add_examples([Example("e1", "bios", RECORDS[0]["prompt"], reference=RECORDS[0]["completion"])])
    started = []
    monkeypatch.setattr(jobs, "start_job", lambda store, kind, args, **_: started.append((kind, args)) or "job-1")
    monkeypatch.setenv("HALLU_WORKSPACE", str(ws))
    at = AppTest.from_file(str(__import__("pathlib").Path(__file__).parent.parent / "app.py"), default_timeout=60)
    at.switch_page("pages/runs.py")
    at.run()
    submit = next(b for b in at.button if b.label == "Start distillation")
    at.number_input(key="distill-t").set_value(0.0)
    submit.click().run()
    assert any("Invalid config" in e.value and "temperature = 0" in e.value for e in at.error)
    assert started == []

    at.number_input(key="distill-t").set_value(3.0)
    at.number_input(key="distill-alpha").set_value(0.25)
    next(b for b in at.button if b.label == "Start distillation").click().run()
    assert not at.exception and [kind for kind, _ in started] == ["distill"]
    config = DistillConfig.from_dict(started[0][1]["config"])
    assert (config.teacher, config.student, config.dataset, config.temperature, config.alpha) == (
        "ck-t", "shrink", "bios", 3.0, 0.25)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_distill_on_cuda_with_bf16(tmp_path, models):
    store = Store(tmp_path / "ws")
    run = distill(store, _config(models, alpha=0.5), records=RECORDS)
    assert run.status == "done"
    args = torch.load(run_dir(store, run.id) / "checkpoint-6" / "training_args.bin", weights_only=False)
    assert args.bf16 == torch.cuda.is_bf16_supported()
    trained = [c for c in store.checkpoints(run.id) if c.step > 0]
    assert trained and all(c.metrics["eval_kl"] >= 0 for c in trained)  # logged, not merely absent


def test_the_loss_mixes_the_tempered_kl_and_the_hard_label_cross_entropy(models):
    from types import SimpleNamespace

    from hallu_core.modeling.distill import DistillTrainer

    tokenizer = load_tokenizer(models["teacher"])
    batch = CompletionCollator(tokenizer.pad_token_id)(tokenize_records(tokenizer, RECORDS[:4], 64))
    cpu = dict(device=torch.device("cpu"), dtype=torch.float32)
    teacher, student = load_model(models["teacher"], **cpu).eval(), load_model(models["student"], **cpu).eval()

    def loss(alpha, temperature, teacher=teacher):
        owner = SimpleNamespace(teacher=teacher, temperature=temperature, alpha=alpha, vocab_size=len(tokenizer),
                                _sums={"train": torch.zeros(3), "eval": torch.zeros(3)})
        with torch.no_grad():
            return DistillTrainer.compute_loss(owner, student, batch).item()

    with torch.no_grad():
        hard = student(**batch).loss.item()  # the model's own shifted cross-entropy, ignoring -100
        keep = batch["labels"][:, 1:] != -100
        t, s = (m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1][keep] / 2
                for m in (teacher, student))
        kl_t2 = 4 * F.kl_div(F.log_softmax(s, -1), F.log_softmax(t, -1), log_target=True, reduction="batchmean")
    assert loss(0.0, 2.0) == pytest.approx(hard, rel=1e-5)
    assert loss(1.0, 2.0) == pytest.approx(kl_t2.item(), rel=1e-5)
    assert loss(0.25, 2.0) == pytest.approx(0.25 * kl_t2.item() + 0.75 * hard, rel=1e-5)
    assert loss(1.0, 2.0, teacher=student) == pytest.approx(0.0, abs=1e-6)
