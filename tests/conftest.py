"""Shared fixtures. Everything runs offline and writes only under pytest's tmp folders."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any test module imports torch

REPO = Path(__file__).resolve().parent.parent
RAGTRUTH_SAMPLE = REPO / "sample_data" / "ragtruth_dev.jsonl"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """The default workspace and HALLU_WORKSPACE never leak between tests or into $HOME."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg")))
    monkeypatch.delenv("HALLU_WORKSPACE", raising=False)


@pytest.fixture
def store(tmp_path):
    from hallu_core.store.database import Store

    s = Store(tmp_path / "ws")
    yield s
    s.close()


@pytest.fixture
def ragtruth_path() -> Path:
    return RAGTRUTH_SAMPLE
