"""The `hallu` command line: import, export, info, errors and the default workspace."""
import json
import sqlite3

from click.testing import CliRunner

from hallu_core.cli.main import main
from hallu_core.data.workspace import SAMPLE_DATA


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_import_export_info(tmp_path, ragtruth_path):
    ws = str(tmp_path / "ws")
    result = run("import", str(ragtruth_path), "--workspace", ws)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["generations"] == 303

    info = json.loads(run("info", "--json", "-w", ws).output)
    assert {k: info[k] for k in ("examples", "runs", "checkpoints", "generations", "detections", "labels")} == \
           {"examples": 91, "runs": 1, "checkpoints": 6, "generations": 303, "detections": 0, "labels": 303}

    out = tmp_path / "x.jsonl"
    assert run("export", "--out", str(out), "-w", ws).exit_code == 0
    assert sum(1 for _ in out.open()) == 303


def test_workspace_from_environment(tmp_path, ragtruth_path):
    env = {"HALLU_WORKSPACE": str(tmp_path / "envws")}
    assert run("import", str(ragtruth_path), env=env).exit_code == 0
    assert json.loads(run("info", "--json", env=env).output)["generations"] == 303


def test_refused_import_exits_non_zero_with_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "response": "hi", "labels": [{"start": 0, "end": 9, "type": "baseless"}]}\n')
    result = CliRunner().invoke(main, ["import", str(bad), "-w", str(tmp_path / "ws")])
    assert result.exit_code != 0
    assert f"{bad}:1: labels[0].start/end: offsets [0, 9) fall outside the response" in result.output
    assert json.loads(run("info", "--json", "-w", str(tmp_path / "ws")).output)["generations"] == 0


def test_every_command_has_help():
    for command in main.commands:
        result = run(command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output, command


def test_default_workspace_is_built_from_sample_data_once(tmp_path, monkeypatch):
    before = sorted((p.name, p.stat().st_mtime) for p in SAMPLE_DATA.iterdir())
    info = json.loads(run("info", "--json").output)
    assert info["workspace"].startswith(str(tmp_path.parent))  # under the test's XDG_DATA_HOME
    assert info["generations"] > 0 and info["runs"] > 0
    again = json.loads(run("info", "--json").output)
    assert again == info
    assert sorted((p.name, p.stat().st_mtime) for p in SAMPLE_DATA.iterdir()) == before


def test_newer_schema_is_refused(tmp_path):
    ws = tmp_path / "ws"
    assert run("info", "-w", str(ws)).exit_code == 0
    with sqlite3.connect(ws / "hallu.db") as conn:
        conn.execute("PRAGMA user_version = 99")
    result = CliRunner().invoke(main, ["info", "-w", str(ws)])
    assert result.exit_code != 0 and "schema version 99" in result.output
