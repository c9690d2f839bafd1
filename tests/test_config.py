"""The configs as pydantic models: the same dicts (run and generation ids are their hashes), the same
error wording, a JSON schema, and the configs saved by the dataclasses they replaced still load."""
from __future__ import annotations

import json
import sqlite3

import pytest

from hallu_core.data import prompts
from hallu_core.data.workspace import SAMPLE_DATA
from hallu_core.detection.detectors.span_train import TrainConfig as SpanTrainConfig
from hallu_core.modeling.config import (ConfigError, DecodingConfig, DistillConfig, GenerateConfig, TrainConfig,
                                        default_demo_decodings)
from hallu_core.store.types import content_hash, generation_id


def run_id(config) -> str:  # hallu_core.modeling.train.run_id_for, without loading torch
    return "run-" + content_hash("run", config.to_dict(), length=12)


# -- the dicts and hashes the dataclass configs gave, recorded before the move to pydantic ----------
TRAIN_DEFAULT = {
    'base_model': 'gpt2', 'dataset': 'facts', 'train_file': None, 'method': 'full', 'learning_rate': 0.0005,
    'epochs': 3.0, 'max_steps': -1, 'batch_size': 8, 'grad_accum': 1, 'weight_decay': 0.0, 'dropout': None,
    'lora_r': 8, 'lora_alpha': 16, 'lora_dropout': 0.05, 'lora_target_modules': None, 'eval_every': 50,
    'save_every': 50, 'seed': 0, 'max_length': 256, 'val_fraction': 0.1, 'warmup_steps': 0, 'lr_scheduler': 'linear',
    'report_to': ('tensorboard',), 'name': 'finetune'}
TRAIN_LORA = {
    'base_model': 'models/tiny', 'dataset': None, 'train_file': 'data/train.jsonl', 'method': 'lora',
    'learning_rate': 0.0001, 'epochs': 2, 'max_steps': -1, 'batch_size': 8, 'grad_accum': 1, 'weight_decay': 0.0,
    'dropout': 0.1, 'lora_r': 4, 'lora_alpha': 8, 'lora_dropout': 0.05, 'lora_target_modules': ('c_attn', 'c_proj'),
    'eval_every': 50, 'save_every': 50, 'seed': 0, 'max_length': 256, 'val_fraction': 0.1, 'warmup_steps': 0,
    'lr_scheduler': 'linear', 'report_to': ('tensorboard', 'mlflow'), 'name': 'lora-run'}
DISTILL_SHRINK = {
    'teacher': 'run-abc:3', 'student': 'shrink', 'student_layers': 2, 'dataset': None, 'train_file': 't.jsonl',
    'temperature': 3, 'alpha': 0.7, 'learning_rate': 0.0005, 'epochs': 3.0, 'max_steps': 30, 'batch_size': 8,
    'grad_accum': 1, 'weight_decay': 0.0, 'eval_every': 50, 'save_every': 50, 'seed': 0, 'max_length': 256,
    'val_fraction': 0.1, 'warmup_steps': 0, 'lr_scheduler': 'linear', 'report_to': ('tensorboard',), 'name': 'distill'}
GREEDY = {'strategy': 'greedy', 'num_beams': 1, 'temperature': 1.0, 'top_p': 1.0, 'top_k': 0, 'num_samples': 1,
          'max_new_tokens': 64, 'seed': 0}
SAMPLE = {'strategy': 'sample', 'num_beams': 1, 'temperature': 0.8, 'top_p': 0.95, 'top_k': 50, 'num_samples': 3,
          'max_new_tokens': 64, 'seed': 7}
TEMPLATE = "Facts: {source}\nQ: {prompt}"
GENERATE = {'checkpoints': ['ck1', 'ck2'], 'dataset': 'eval', 'decodings': (GREEDY, SAMPLE), 'batch_size': 16,
            'backend': 'hf', 'prompt_template': TEMPLATE}


def _configs():
    sample = DecodingConfig(strategy="sample", temperature=0.8, top_p=0.95, top_k=50, num_samples=3, seed=7)
    return {
        "default": TrainConfig(base_model="gpt2", dataset="facts"),
        "lora": TrainConfig(base_model="models/tiny", train_file="data/train.jsonl", method="lora", epochs=2,
                            learning_rate=1e-4, dropout=0.1, lora_r=4, lora_alpha=8,
                            lora_target_modules=("c_attn", "c_proj"), report_to=("tensorboard", "mlflow"),
                            name="lora-run"),
        "distill": DistillConfig(teacher="run-abc:3", student_layers=2, train_file="t.jsonl", temperature=3, alpha=0.7,
                                 max_steps=30),
        "generate": GenerateConfig(checkpoints=("ck1", "ck2"), dataset="eval", decodings=(DecodingConfig(), sample),
                                   prompt_template=TEMPLATE),
    }


@pytest.mark.parametrize("key, expected, digest", [
    ("default", TRAIN_DEFAULT, "run-39dfe566ba08"),
    ("lora", TRAIN_LORA, "run-19b3c4a22f8b"),
    ("distill", DISTILL_SHRINK, "run-9de1f3fd52a2"),
])
def test_run_configs_give_the_dicts_and_run_ids_the_dataclasses_gave(key, expected, digest):
    config = _configs()[key]
    # repr tells apart what == does not: key order, a tuple from a list, 2 from 2.0 (which hash differently)
    assert repr(config.to_dict()) == repr(expected)
    assert run_id(config) == digest


def test_a_generate_config_gives_the_dict_and_generation_ids_the_dataclasses_gave():
    config = _configs()["generate"]
    assert repr(config.to_dict()) == repr(GENERATE)
    assert content_hash(config.to_dict()) == "b271c63ad70d8187"
    identities = [content_hash(prompts.identity(d.hash_dict(), config.prompt_template)) for d in config.decodings]
    assert identities == ["b588f492ed7d0175", "2fa3b24934f00ed1"]
    assert [d.name for d in config.decodings] == ["greedy", "sample-t0.8-p0.95-k50"]
    assert [d.name for d in default_demo_decodings()] == ["greedy", "sample-t0.7", "sample-t1.3"]


def _sample_db():
    return sqlite3.connect(f"file:{SAMPLE_DATA / 'workspace' / 'hallu.db'}?mode=ro", uri=True)


def test_the_shipped_sample_workspace_runs_keep_their_ids():
    with _sample_db() as db:
        runs = db.execute("SELECT id, kind, config FROM runs WHERE kind IN ('finetune', 'distill')").fetchall()
    assert {kind for _, kind, _ in runs} == {"finetune", "distill"}
    for rid, kind, saved in runs:  # the saved JSON (lists for tuples) loads and hashes to the stored id
        config = (TrainConfig if kind == "finetune" else DistillConfig).from_dict(json.loads(saved))
        assert run_id(config) == rid


def test_a_rebuilt_sample_workspace_keeps_the_demo_runs_it_shipped_before():
    """scripts/build_sample_workspace.sh builds in one fixed folder: the demo configs' paths, and so their ids,
    stay what earlier versions of the workspace had (links, labels and exports made against them still resolve)."""
    with _sample_db() as db:
        ids = {name: rid for rid, name in db.execute("SELECT id, name FROM runs")}
    assert {name: ids.get(name) for name in ("demo-s0-known-only", "demo-s0-new-knowledge", "demo-s0-lora",
                                             "demo-s0-distill")} == {
        "demo-s0-known-only": "run-13b2e813a4f1", "demo-s0-new-knowledge": "run-ea3b3fb9cc6c",
        "demo-s0-lora": "run-ab301e8c51ea", "demo-s0-distill": "run-f2d278cb4dcc"}


def test_the_shipped_sample_workspace_generations_keep_their_ids():
    with _sample_db() as db:
        rows = db.execute("SELECT id, example_id, checkpoint_id, decoding, decoding_name, sample_index, meta "
                          "FROM generations WHERE decoding != '{}'").fetchall()
    assert len(rows) > 1000
    for gid, example, checkpoint, decoding, name, index, meta in rows:
        meta = json.loads(meta)
        template = meta.get("prompt_template_text") or meta.get("prompt_template") or prompts.CLOSED_BOOK
        config = DecodingConfig.from_dict(json.loads(decoding))
        chat = {"chat_template": meta["chat_template"]} if "chat_template" in meta else {}  # a chat model's prompts
        assert generation_id(example, checkpoint, {**prompts.identity(config.hash_dict(), template), **chat}, index) == gid
        # the config's name, or it with a suffix where another config held the name first ("greedy-24tok")
        base = prompts.split(name)[0]
        assert base == config.name or base.startswith(config.name + "-")
        assert prompts.label(base, prompts.name_of(template)) == name


def test_a_config_saved_as_json_by_the_dataclasses_still_loads():
    saved = {  # a run's config as the dataclass code wrote it: tuples became lists, a float written as 3.0
        "base_model": "gpt2", "dataset": None, "train_file": "t.jsonl", "method": "lora", "learning_rate": 0.0005,
        "epochs": 3.0, "max_steps": -1, "batch_size": 8, "grad_accum": 1, "weight_decay": 0.0, "dropout": None,
        "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "lora_target_modules": ["c_attn"], "eval_every": 50,
        "save_every": 50, "seed": 0, "max_length": 256, "val_fraction": 0.1, "warmup_steps": 0,
        "lr_scheduler": "linear", "report_to": ["tensorboard"], "name": "finetune"}
    config = TrainConfig.from_dict(saved)
    assert config.lora_target_modules == ("c_attn",) and config.report_to == ("tensorboard",)
    assert json.loads(json.dumps(config.to_dict())) == saved
    generate = GenerateConfig.from_dict({"checkpoints": ["ck"], "decodings": [{"strategy": "beam", "num_beams": 4}]})
    assert generate.decodings == (DecodingConfig(strategy="beam", num_beams=4),)


@pytest.mark.parametrize("make, message", [
    # type: a bool is no number, a string no integer, 3.0 no integer
    (lambda: TrainConfig(base_model="m", dataset="d", learning_rate=True), "learning_rate = True: a number in (0, 1)"),
    (lambda: TrainConfig(base_model="m", dataset="d", batch_size="3"), "batch_size = '3': a positive integer"),
    (lambda: DecodingConfig.from_dict({"max_new_tokens": 3.0}), "max_new_tokens = 3.0: a positive integer"),
    # range
    (lambda: TrainConfig(base_model="m", dataset="d", learning_rate=2), "learning_rate = 2: a number in (0, 1)"),
    (lambda: DistillConfig(teacher="t", dataset="d", alpha=1.5), "alpha = 1.5: a number in [0, 1]"),
    (lambda: DecodingConfig(top_k=-1), "top_k = -1: a non-negative integer (0 = off)"),
    # choice
    (lambda: TrainConfig(base_model="m", dataset="d", method="qlora"), "method = 'qlora': one of full, lora"),
    (lambda: TrainConfig(base_model="m", dataset="d", report_to=("wandb",)),
     "report_to = ('wandb',): a list drawn from tensorboard, mlflow"),
    (lambda: GenerateConfig(checkpoints=("c",), backend="tgi"), "backend = 'tgi': one of hf, vllm"),
    # cross-field
    (lambda: TrainConfig(base_model="m", dataset="d", train_file="f"),
     "dataset/train_file = ('d', 'f'): give exactly one of dataset and train_file"),
    (lambda: DecodingConfig(strategy="greedy", num_samples=2), "num_samples = 2: greedy decoding gives 1 output"),
    (lambda: DistillConfig(teacher="t", dataset="d", student="gpt2", student_layers=2),
     "student_layers = 2: only for student = 'shrink' (a given student keeps its own layers)"),
    # nested: a decoding inside a generate config speaks for itself
    (lambda: GenerateConfig.from_dict({"checkpoints": ["c"], "decodings": [{"strategy": "beam", "num_beams": 1}]}),
     "num_beams = 1: beam search needs at least 2 beams"),
    # missing, blank
    (lambda: TrainConfig.from_dict({"dataset": "d"}), "base_model is required: an HF model id or a local folder"),
    (lambda: TrainConfig(base_model=" ", dataset="d"), "base_model = ' ': an HF model id or a local folder"),
])
def test_a_bad_value_is_named_with_its_field_value_and_what_is_allowed(make, message):
    with pytest.raises(ConfigError) as err:
        make()
    assert str(err.value) == message


def test_unknown_fields_and_every_bad_field_are_named_and_files_say_their_path(tmp_path):
    with pytest.raises(ConfigError, match=r"^DecodingConfig: unknown field\(s\) \['beams'\]; known: \['max_new_t"):
        DecodingConfig.from_dict({"beams": 2})
    with pytest.raises(ConfigError) as err:
        TrainConfig(base_model="m", dataset="d", learning_rate=0, batch_size=0)
    assert str(err.value) == "learning_rate = 0: a number in (0, 1); batch_size = 0: a positive integer"
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"base_model": "m", "dataset": "d", "epochs": 0}))
    with pytest.raises(ConfigError, match=f"^{path}: epochs = 0: a positive number$"):
        TrainConfig.from_file(path)
    with pytest.raises(ConfigError, match="must be a JSON object, got list"):
        TrainConfig.from_dict([])


def test_configs_are_frozen_and_a_changed_copy_is_checked_again():
    config = TrainConfig(base_model="m", dataset="d")
    with pytest.raises(AttributeError, match="frozen"):
        config.epochs = 1.0
    assert config.replace(method="lora").method == "lora" and config.method == "full"
    with pytest.raises(ConfigError, match="method = 'qlora'"):
        config.replace(method="qlora")


def test_the_json_schema_names_every_field_with_what_it_allows():
    for model in (TrainConfig, DistillConfig, DecodingConfig, GenerateConfig):
        schema = model.model_json_schema()
        assert set(schema["properties"]) == set(model.model_fields), model
        assert all(p.get("description") for p in schema["properties"].values()), model
    train = TrainConfig.model_json_schema()
    assert train["required"] == ["base_model"] and train["additionalProperties"] is False
    assert train["properties"]["method"]["enum"] == ["full", "lora"]
    assert train["properties"]["learning_rate"]["description"] == "a number in (0, 1)"


def test_the_span_detector_config_keeps_its_recipe_and_refuses_bad_values():
    assert SpanTrainConfig().model_dump() == {
        'backbone': 'bundled-minilm', 'max_length': 384, 'overlap': 64, 'epochs': 2, 'lr': 0.0005, 'batch_size': 8,
        'pos_weight': 2.0, 'warmup': 0.1, 'seed': 0, 'device': None, 'threads': None,
        'lora': {'r': 16, 'alpha': 32, 'dropout': 0.05, 'target_modules': ['query', 'key', 'value', 'dense']}}
    with pytest.raises(ValueError, match=r"^epochs = 0: a positive integer$"):
        SpanTrainConfig(epochs=0)
    with pytest.raises(ValueError, match=r"^lr = '1e-3': a non-negative number$"):
        SpanTrainConfig(lr="1e-3")
