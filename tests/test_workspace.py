"""The default workspace: built once from the sample data, safely, even by two first starts at once."""
import shutil
import threading

import pytest
from click.testing import CliRunner

from hallu_core.cli.main import main
from hallu_core.data import workspace
from hallu_core.store.database import StoreError


def default_root():
    return workspace.default_workspace_path()


def test_two_first_starts_at_once_both_open_one_complete_workspace(monkeypatch):
    """Both starters copy at the same moment (held at a barrier); both must end with the same full workspace."""
    starters = 2
    barrier = threading.Barrier(starters)
    real_copytree = shutil.copytree

    def copytree_in_step(*args, **kwargs):
        try:
            barrier.wait(timeout=10)  # both have decided to build before either copies
        except threading.BrokenBarrierError:
            pass
        return real_copytree(*args, **kwargs)

    monkeypatch.setattr(shutil, "copytree", copytree_in_step)
    results, errors = [], []

    def first_start():
        try:
            store = workspace.open_workspace()
            results.append((store.root, store.counts()))
            store.close()
        except Exception as exc:  # noqa: BLE001 - the test reports whatever a starter raised
            errors.append(exc)

    threads = [threading.Thread(target=first_start) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(results) == starters
    (root, counts), (other_root, other_counts) = results
    assert root == other_root == default_root()
    assert counts == other_counts and counts["generations"] > 0 and counts["runs"] > 0
    assert sorted(p.name for p in root.parent.iterdir()) == [root.name]  # no temporary folder left behind


def test_an_empty_folder_at_the_default_location_is_adopted():
    default_root().mkdir(parents=True)
    store = workspace.open_workspace()
    assert store.root == default_root() and store.counts()["generations"] > 0
    store.close()


def test_a_foreign_folder_at_the_default_location_is_refused_and_left_alone():
    root = default_root()
    root.mkdir(parents=True)
    (root / "notes.txt").write_text("mine")
    with pytest.raises(StoreError) as raised:
        workspace.open_workspace()
    message = str(raised.value)
    assert str(root) in message and "not a Hallu workspace" in message and "notes.txt" in message
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]
    assert (root / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in root.parent.iterdir()) == [root.name]


def test_the_command_line_says_what_is_wrong_with_a_foreign_default_folder():
    root = default_root()
    root.mkdir(parents=True)
    (root / "photo.jpg").write_bytes(b"\xff\xd8")
    result = CliRunner().invoke(main, ["info"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)  # a message, no traceback
    assert "not a Hallu workspace" in result.output and str(root) in result.output


def test_a_named_workspace_is_never_replaced_by_the_sample(tmp_path):
    named = tmp_path / "mine"
    named.mkdir()
    (named / "notes.txt").write_text("mine")
    store = workspace.open_workspace(named)  # a named folder becomes a new, empty workspace in place
    assert store.counts()["generations"] == 0
    assert (named / "notes.txt").read_text() == "mine"
    store.close()


def test_without_a_prebuilt_workspace_the_sample_files_are_imported(monkeypatch, tmp_path):
    monkeypatch.setattr(workspace, "PREBUILT", tmp_path / "no-prebuilt")
    store = workspace.open_workspace()
    assert store.root == default_root()
    assert store.counts()["generations"] == 303  # sample_data/ragtruth_dev.jsonl, imported whole
    store.close()
    assert sorted(p.name for p in default_root().parent.iterdir()) == [default_root().name]
