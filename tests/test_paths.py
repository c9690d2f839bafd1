"""Paths typed into the dashboard stay inside the workspace and the models folder."""
import os

import pytest

from hallu_core.store.paths import (
    ALLOWED_ENV, MODELS_ENV, PathNotAllowed, allowed_roots, confine_model_ref, confine_path, is_hf_model_id,
    models_dir,
)


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.delenv(MODELS_ENV, raising=False)
    monkeypatch.delenv(ALLOWED_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # ids are checked against the cwd too; keep it predictable
    root = tmp_path / "ws"
    (root / "models" / "tiny").mkdir(parents=True)
    (root / "artifacts" / "run1" / "checkpoint-10").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret")
    return root


def test_paths_inside_the_workspace_and_models_folder_are_allowed(ws):
    assert confine_path("models/tiny", ws, must_exist=True) == (ws / "models" / "tiny").resolve()
    assert confine_path(ws / "artifacts" / "run1" / "checkpoint-10", ws) == \
        (ws / "artifacts" / "run1" / "checkpoint-10").resolve()
    assert confine_path("artifacts/new-export.jsonl", ws) == (ws / "artifacts" / "new-export.jsonl").resolve()
    assert confine_model_ref(str(ws / "models" / "tiny"), ws) == str((ws / "models" / "tiny").resolve())


@pytest.mark.parametrize("typed", ["/etc/passwd", "../outside/secret.txt", "models/../../outside",
                                   "artifacts/../../outside/secret.txt", "/", "~"])
def test_paths_outside_are_refused_with_the_value_and_the_allowed_folders(ws, typed):
    with pytest.raises(PathNotAllowed) as info:
        confine_path(typed, ws)
    message = str(info.value)
    assert repr(typed) in message
    assert str(ws.resolve()) in message and str((ws / "models").resolve()) in message
    assert ALLOWED_ENV in message


def test_a_symlink_out_of_the_workspace_is_followed_and_refused(ws, tmp_path):
    (ws / "models" / "escape").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(PathNotAllowed, match="resolves to .*outside"):
        confine_path("models/escape/secret.txt", ws)
    with pytest.raises(PathNotAllowed):
        confine_model_ref("models/escape", ws)


def test_a_symlink_loop_is_refused_not_crashed(ws):
    (ws / "loop").symlink_to(ws / "loop")
    with pytest.raises(PathNotAllowed):
        confine_path("loop/x", ws)


@pytest.mark.parametrize("typed", ["", "   ", "models/\x00tiny", "models/ti\nny"])
def test_empty_and_control_character_paths_are_refused(ws, typed):
    with pytest.raises(PathNotAllowed):
        confine_path(typed, ws)


def test_hf_model_ids_pass_as_ids(ws):
    for model_id in ["gpt2", "org/name", "Qwen/Qwen2.5-0.5B-Instruct", "meta-llama/Llama-3.2-1B", "a.b_c"]:
        assert is_hf_model_id(model_id, ws)
        assert confine_model_ref(model_id, ws) == model_id


@pytest.mark.parametrize("typed", ["/abs/model", "./gpt2", "../gpt2", "~/gpt2", "a/b/c", "org/../x", "-x",
                                   "x" * 97, "org--x/name", "org/name/"])
def test_path_shaped_values_are_not_ids(ws, typed):
    assert not is_hf_model_id(typed, ws)


def test_an_id_shaped_value_that_exists_on_disk_is_a_path(ws, tmp_path):
    assert not is_hf_model_id("models", ws)  # a folder in the workspace
    (tmp_path / "outside" / "gpt2").mkdir()
    os.chdir(tmp_path / "outside")  # from_pretrained would load ./gpt2 from the cwd before the hub
    assert not is_hf_model_id("gpt2", ws)
    with pytest.raises(PathNotAllowed):
        confine_model_ref("gpt2", ws)


def test_a_missing_model_folder_is_a_clear_error(ws):
    with pytest.raises(PathNotAllowed, match="does not exist"):
        confine_model_ref("models/nothing-here", ws)


def test_models_dir_comes_from_the_environment(ws, tmp_path, monkeypatch):
    shared = tmp_path / "shared-models"
    (shared / "llama").mkdir(parents=True)
    monkeypatch.setenv(MODELS_ENV, str(shared))
    assert models_dir(ws) == shared.resolve()
    assert confine_model_ref(str(shared / "llama"), ws) == str((shared / "llama").resolve())
    with pytest.raises(PathNotAllowed):
        confine_path("models/tiny/../../../outside", ws)


def test_the_operator_can_widen_the_allowed_folders(ws, tmp_path, monkeypatch):
    with pytest.raises(PathNotAllowed):
        confine_path(tmp_path / "outside" / "secret.txt", ws)
    extra = tmp_path / "other"
    extra.mkdir()
    monkeypatch.setenv(ALLOWED_ENV, os.pathsep.join([str(tmp_path / "outside"), "", str(extra)]))
    assert confine_path(tmp_path / "outside" / "secret.txt", ws, must_exist=True).name == "secret.txt"
    assert allowed_roots(ws)[-2:] == [(tmp_path / "outside").resolve(), extra.resolve()]
    with pytest.raises(PathNotAllowed):  # widening one folder opens that folder only
        confine_path("/etc/passwd", ws)
