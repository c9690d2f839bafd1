"""A model named by a workspace-relative path, the form the workspace itself stores (issue 22): found in the
workspace before it is taken for a Hugging Face hub id, from whatever folder the command runs in; when it is
neither, the error says where it looked."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from hallu_core.cli.main import main
from hallu_core.errors import ModelLoadError
from hallu_core.modeling.model_sources import local_model
from hallu_core.store.database import Store

BASE = "artifacts/demo/base-model-s0"
RECORDS = [{"prompt": f"Where was person {i} born?", "completion": f" In Lindor {i}."} for i in range(8)]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from hallu_core.demo.base_model import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("paths") / "model")


@pytest.fixture
def ws(tmp_path, tiny_dir, monkeypatch):
    """A workspace holding its base model under artifacts/, and a current folder elsewhere."""
    root = tmp_path / "ws"
    shutil.copytree(tiny_dir, root / BASE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root


def finetune(tmp_path, ws, base_model: str):
    data = tmp_path / "records.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    config = tmp_path / "finetune.json"
    config.write_text(json.dumps({"base_model": base_model, "train_file": str(data), "max_steps": 2, "save_every": 2,
                                  "batch_size": 4, "val_fraction": 0, "report_to": []}), encoding="utf-8")
    return CliRunner().invoke(main, ["finetune", str(config), "-w", str(ws)])


def test_a_fine_tune_starts_from_a_workspace_relative_base_model(tmp_path, ws):
    result = finetune(tmp_path, ws, BASE)
    assert result.exit_code == 0, result.output
    store = Store(ws)
    (run,) = store.runs()
    assert run.status == "done" and run.base_model == BASE  # stored in the workspace's own form
    assert [c.step for c in store.checkpoints(run.id)] == [0, 2]
    store.close()


def test_a_model_found_nowhere_is_refused_naming_where_it_looked(tmp_path, ws):
    result = finetune(tmp_path, ws, "artifacts/demo/no-such-model")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert str(ws.resolve() / "artifacts/demo/no-such-model") in result.output  # the workspace path tried
    assert "no Hugging Face hub id" in result.output  # and why it is no hub id either
    assert "Repo id must be" not in result.output
    store = Store(ws)
    assert store.runs() == []  # refused before anything is stored
    store.close()


def test_a_hub_id_offline_and_not_cached_is_refused_naming_both_tries(ws):
    with pytest.raises(ModelLoadError) as refused:
        local_model("some-org/not-cached-model", ws)
    message = str(refused.value)
    assert str(ws.resolve() / "some-org/not-cached-model") in message
    assert "not in the local cache while HF_HUB_OFFLINE is set" in message


def test_the_workspace_comes_before_the_current_folder_and_the_hub(ws, tmp_path):
    assert local_model(BASE, ws) == str(ws.resolve() / BASE)
    assert local_model(str(ws / BASE), ws) == str(ws / BASE)  # an absolute folder stays as it is
    (tmp_path / "elsewhere" / "here").mkdir()
    assert local_model("here", ws) == "here"  # a folder from the current one, as from_pretrained reads it
