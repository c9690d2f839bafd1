"""Workspaces for the dashboard tests: synthetic (runs, spans, labels), empty, imported-only.

Imported by the dashboard test modules (`from fixtures_dashboard import *`); built
through the Store API and `hallu_core.data.io`, never from a model.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hallu_core.data import synthetic
from hallu_core.data.io import import_file
from hallu_core.store.database import Store
from hallu_core.store.types import Detection, Example, Generation, Label, Span, generation_id

REPO = Path(__file__).resolve().parent.parent
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> & "quotes" \u202eRTL'


def add_hostile(store: Store) -> str:
    """One example whose prompt, source, output and evidence carry markup; returns its generation id."""
    ckpt = store.checkpoints()[-1]
    store.add_examples([Example("ex-hostile", "synthetic", f"Prompt {HOSTILE}", f"Source {HOSTILE}", HOSTILE, "bio")])
    text = f"Output {HOSTILE} end"
    gid = generation_id("ex-hostile", ckpt.id, {"strategy": "greedy"}, 0)
    store.add_generations([Generation(gid, "ex-hostile", ckpt.id, text, {"strategy": "greedy"}, "greedy")])
    start = text.index("<script>")
    store.add_detections([Detection(gid, "lexical", "h1", [Span(start, start + 30, "conflict", 0.9, {
        "text": HOSTILE, "start": 7, "end": 20, "field": "source"})], 0.9)])
    store.add_labels([Label(gid, "oracle", [Span(start, start + 8, "baseless", note=HOSTILE)])])
    return gid


def build_synthetic(root: Path) -> Path:
    store = synthetic.build(root, n_examples=24, steps=(0, 100, 200, 300))
    add_hostile(store)
    store.close()
    return root


def ragtruth_lines(n: int = 6) -> list[dict]:
    """A small RAGTruth-schema file: 3 sources x 2 models, some with gold spans."""
    rows = []
    for i in range(n):
        src = f"The bakery on Main Street opened in 1998 and sells rye bread. Record {i // 2}."
        response = "The bakery opened in 2001 and sells rye bread." if i % 2 else "The bakery opened in 1998."
        labels = [{"start": 21, "end": 25, "text": "2001", "label_type": "Evident Conflict",
                   "implicit_true": False, "due_to_null": False}] if i % 2 else []
        rows.append({"id": f"r{i}", "task_type": "Summary", "model": ["gpt-4-0613", "llama-2-7b-chat"][i % 2],
                     "source": src, "response": response, "labels": labels, "source_id": f"s{i // 2}",
                     "question": ""})
    return rows


def build_imported(root: Path) -> Path:
    path = root.parent / f"{root.name}-import.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ragtruth_lines()), encoding="utf-8")
    store = Store(root)
    import_file(store, path)
    store.close()
    return root


def build_empty(root: Path) -> Path:
    Store(root).close()
    return root


@pytest.fixture(scope="session")
def synthetic_ws(tmp_path_factory) -> Path:
    return build_synthetic(tmp_path_factory.mktemp("dash") / "synthetic")


@pytest.fixture(scope="session")
def imported_ws(tmp_path_factory) -> Path:
    return build_imported(tmp_path_factory.mktemp("dash") / "imported")


@pytest.fixture(scope="session")
def empty_ws(tmp_path_factory) -> Path:
    return build_empty(tmp_path_factory.mktemp("dash") / "empty")


@pytest.fixture(params=["synthetic", "imported", "empty"])
def any_ws(request) -> Path:
    return request.getfixturevalue(f"{request.param}_ws")
