"""A full disk or a read-only workspace gives a clear error and breaks nothing already stored."""
import os

import pytest
from click.testing import CliRunner

from hallu_core.cli.main import main
from hallu_core.data.io import import_file
from hallu_core.store.database import Store, StoreError
from hallu_core.store.types import Example, Label


def test_full_disk_refuses_the_import_and_keeps_what_was_stored(store, ragtruth_path, tmp_path):
    store.add_examples([Example("kept", "d", "a prompt")])
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # the database can no longer grow
    with pytest.raises(StoreError, match="database or disk is full"):
        import_file(store, ragtruth_path)
    assert store.counts()["generations"] == 0
    assert [e.id for e in store.examples()] == ["kept"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_workspace_says_so(store, tmp_path):
    store.add_examples([Example("kept", "d", "a prompt")])
    store.close()
    os.chmod(store.path, 0o444)
    with pytest.raises(StoreError, match="readonly"):
        Store(store.root).save_label(Label("g", "ann"))


def test_read_only_database_gives_a_clear_cli_error(tmp_path, ragtruth_path, monkeypatch):
    ws = tmp_path / "ws"
    CliRunner().invoke(main, ["info", "-w", str(ws)])
    original = Store._migrate

    def read_only(self):  # `query_only` is how SQLite refuses writers; root ignores chmod
        original(self)
        self.conn.execute("PRAGMA query_only = ON")

    monkeypatch.setattr(Store, "_migrate", read_only)
    result = CliRunner().invoke(main, ["import", str(ragtruth_path), "-w", str(ws)])
    assert result.exit_code == 1
    assert "cannot write to" in result.output and "readonly" in result.output
    assert "Traceback" not in result.output
