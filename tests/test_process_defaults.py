"""Hallu sets OMP_WAIT_POLICY=PASSIVE (torch's OpenMP threads otherwise busy-wait, several times the CPU per
training step on a small machine) in the processes it starts itself, never in the process of whoever imports it.
The job process's share is in test_jobs.py."""
import os
import subprocess
import sys

from click.testing import CliRunner

from hallu_core.cli.main import main

IMPORTS = "hallu_core, hallu_core.store.database, hallu_core.views.queries, hallu_core.jobs.runner, hallu_core.cli.main"


def test_importing_hallu_leaves_the_environment_untouched():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = (f"import os; before = dict(os.environ); import {IMPORTS}; "
            "changed = {k: v for k, v in os.environ.items() if before.get(k) != v}; print(changed)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "{}", out.stdout + out.stderr


def test_the_cli_sets_it_and_a_users_own_setting_wins(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert CliRunner().invoke(main, ["jobs", "-w", str(tmp_path / "ws")]).exit_code == 0
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert CliRunner().invoke(main, ["jobs", "-w", str(tmp_path / "ws")]).exit_code == 0
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
