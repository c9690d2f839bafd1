"""train.py + config.py: weights change, checkpoints land in the store, LoRA, resume after interruption."""
from __future__ import annotations

import json
import os

# spin-waiting OpenMP threads starve each other on a shared 2-core box (2-3x slower)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch
from transformers import TrainerCallback

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from hallu_core.modeling.config import ConfigError, DecodingConfig, GenerateConfig, TrainConfig  # noqa: E402
from hallu_core.demo.base_model import make_tiny_model  # noqa: E402
from hallu_core.modeling.models import is_adapter, load_model  # noqa: E402
from hallu_core.store.database import Store  # noqa: E402
from hallu_core.modeling.train import checkpoint_id, finetune, main, run_dir, run_id_for  # noqa: E402

RECORDS = [{"prompt": f"Question: Where was person {i} born?\nAnswer:", "completion": f" Person {i} was born in Lindor."}
           for i in range(24)]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("train") / "base")


def _config(tiny_dir, **overrides) -> TrainConfig:
    values = dict(base_model=str(tiny_dir), train_file="records.jsonl", max_steps=6, save_every=3, eval_every=3,
                  batch_size=4, learning_rate=5e-3, val_fraction=0.2, report_to=())
    return TrainConfig(**{**values, **overrides})


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_a_relative_train_file_is_read_from_the_workspace_wherever_it_is_run(tmp_path, tiny_dir, monkeypatch):
    from hallu_core.modeling.train_data import load_records

    store = Store(tmp_path / "ws")
    (store.root / "data").mkdir()
    (store.root / "data" / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS[:2]))
    monkeypatch.chdir(tmp_path)  # another folder: the path is the workspace's, as the demo stores it
    assert load_records(store, _config(tiny_dir, train_file="data/records.jsonl")) == RECORDS[:2]


def test_full_finetune_changes_weights_and_registers_checkpoints(tmp_path, tiny_dir):
    store = Store(tmp_path / "ws")
    config = _config(tiny_dir, report_to=("tensorboard",))
    progress = []
    run = finetune(store, config, records=RECORDS, progress=lambda d, t, m: progress.append((d, t)))
    assert run.status == "done" and run.meta["val_records"] == 5
    steps = [(c.step, c.name) for c in store.checkpoints(run.id)]
    assert steps == [(0, "base"), (3, "step-3"), (6, "step-6")]
    last = store.checkpoints(run.id)[-1]
    assert {"train_loss", "eval_loss"} <= set(last.metrics)
    assert store.abspath(last.path) == run_dir(store, run.id) / "checkpoint-6"
    names = {name for _, name, _ in store.run_metrics(run.id)}
    assert {"loss", "eval_loss", "learning_rate"} <= names
    before, after = _weights(load_model(tiny_dir)), _weights(load_model(store.abspath(last.path)))
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert progress[-1] == (6, 6)
    assert any((run_dir(store, run.id) / "tensorboard").iterdir())  # TensorBoard event files


def test_lora_finetune_saves_loadable_adapters(tmp_path, tiny_dir):
    store = Store(tmp_path / "ws")
    run = finetune(store, _config(tiny_dir, method="lora", lora_r=4, lora_target_modules=("c_attn",),
                                  learning_rate=5e-2), records=RECORDS)
    path = store.abspath(store.checkpoints(run.id)[-1].path)
    assert is_adapter(path)
    model = load_model(path, base_model=str(tiny_dir))
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert not torch.allclose(model(input_ids=ids).logits, load_model(tiny_dir)(input_ids=ids).logits)


class StopAfterFirstSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        control.should_training_stop = True


def test_interrupted_finetune_resumes_from_its_last_checkpoint(tmp_path, tiny_dir):
    store = Store(tmp_path / "ws")
    config = _config(tiny_dir, max_steps=9)
    first = finetune(store, config, records=RECORDS, callbacks=[StopAfterFirstSave()])
    assert first.status == "interrupted"
    assert [c.step for c in store.checkpoints(first.id)] == [0, 3]
    saved = (run_dir(store, first.id) / "checkpoint-3" / "model.safetensors").stat().st_mtime_ns
    seen = []
    second = finetune(store, config, records=RECORDS, progress=lambda d, t, m: seen.append(d))
    assert second.id == first.id == run_id_for(config) and second.status == "done"
    assert seen[0] == 3  # the step count continues from the checkpoint
    assert [c.step for c in store.checkpoints(first.id)] == [0, 3, 6, 9]
    assert (run_dir(store, first.id) / "checkpoint-3" / "model.safetensors").stat().st_mtime_ns == saved


class CancelAtStep(TrainerCallback):
    """Raises what a cancel raises inside the training loop: the job runner's SIGTERM, or Ctrl-C."""

    def __init__(self, error: type[BaseException], step: int = 2):
        self.error, self.step = error, step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise self.error()


@pytest.mark.parametrize("error", ["JobCancelled", "KeyboardInterrupt"])
def test_a_cancelled_finetune_is_recorded_as_cancelled_and_resumes(tmp_path, tiny_dir, error):
    from hallu_core.errors import JobCancelled

    cancel = {"JobCancelled": JobCancelled, "KeyboardInterrupt": KeyboardInterrupt}[error]
    store = Store(tmp_path / "ws")
    config = _config(tiny_dir, max_steps=6)
    with pytest.raises(cancel):
        finetune(store, config, records=RECORDS, callbacks=[CancelAtStep(cancel, step=4)])
    assert store.get_run(run_id_for(config)).status == "cancelled"
    assert [c.step for c in store.checkpoints(run_id_for(config))] == [0, 3]
    assert finetune(store, config, records=RECORDS).status == "done"


def test_a_failing_finetune_is_recorded_as_failed(tmp_path, tiny_dir):
    store = Store(tmp_path / "ws")
    config = _config(tiny_dir)
    with pytest.raises(RuntimeError):
        finetune(store, config, records=RECORDS, callbacks=[CancelAtStep(RuntimeError)])
    assert store.get_run(run_id_for(config)).status == "failed"


def test_a_checkpoint_saved_but_not_registered_before_a_kill_is_registered_on_resume(tmp_path, tiny_dir):
    store = Store(tmp_path / "ws")
    config = _config(tiny_dir, max_steps=9)
    first = finetune(store, config, records=RECORDS, callbacks=[StopAfterFirstSave()])
    registered = store.get_checkpoint(checkpoint_id(first.id, 3))
    with store.transaction() as conn:  # killed after the Trainer wrote checkpoint-3, before its on_save
        conn.execute("DELETE FROM checkpoints WHERE run_id = ? AND step = 3", (first.id,))
    finetune(store, config, records=RECORDS)
    assert [c.step for c in store.checkpoints(first.id)] == [0, 3, 6, 9]
    again = store.get_checkpoint(checkpoint_id(first.id, 3))
    assert (again.name, again.path, again.metrics) == (registered.name, registered.path, registered.metrics)


def test_module_entry_point_trains_from_a_config_file(tmp_path, tiny_dir):
    data = tmp_path / "records.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(_config(tiny_dir, train_file=str(data), max_steps=3).to_dict()))
    main([str(config_file), "--workspace", str(tmp_path / "ws")])
    store = Store(tmp_path / "ws")
    assert [r.status for r in store.runs()] == ["done"]


@pytest.mark.parametrize("field, value, message", [
    ("learning_rate", 0, "learning_rate = 0"),
    ("method", "qlora", "method = 'qlora'"),
    ("batch_size", 0, "batch_size = 0"),
    ("val_fraction", 1.5, "val_fraction = 1.5"),
    ("report_to", ("wandb",), "report_to"),
])
def test_train_config_names_the_bad_field(field, value, message, tiny_dir):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        _config(tiny_dir, **{field: value})


def test_configs_round_trip_through_json(tiny_dir):
    config = _config(tiny_dir, lora_target_modules=("c_attn",))
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    gen = GenerateConfig(checkpoints=("ck1",), decodings=(DecodingConfig(), DecodingConfig(strategy="sample", temperature=0.8, top_p=0.95)))
    assert GenerateConfig.from_dict(json.loads(json.dumps(gen.to_dict()))) == gen
    assert GenerateConfig.from_dict(gen.to_dict()) == gen  # in-process, without a JSON trip (forms do this)
    assert [d.name for d in gen.decodings] == ["greedy", "sample-t0.8-p0.95"]
    with pytest.raises(ConfigError, match="unknown field"):
        TrainConfig.from_dict({**config.to_dict(), "lr": 1})
    with pytest.raises(ConfigError, match="num_samples"):
        DecodingConfig(strategy="greedy", num_samples=2)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_finetune_on_cuda_with_bf16(tmp_path, tiny_dir):
    from hallu_core.modeling.generate import generate_for_checkpoints
    from hallu_core.store.types import Example

    store = Store(tmp_path / "ws")
    run = finetune(store, _config(tiny_dir), records=RECORDS)
    assert run.status == "done"
    args = torch.load(run_dir(store, run.id) / "checkpoint-6" / "training_args.bin", weights_only=False)
    assert args.bf16 == torch.cuda.is_bf16_supported()
    store.add_examples([Example("e1", "eval", RECORDS[0]["prompt"])])
    counts = generate_for_checkpoints(store, [c.id for c in store.checkpoints(run.id)], dataset="eval")
    assert counts["generated"] == 3
    for g in store.generations():
        assert all(t.logprob <= 0 for t in g.tokens)
