"""Import then export gives back every response and every span exactly."""
import json

import pandas as pd
import pytest

from hallu_core.io import export_file, import_file
from hallu_core.store import Store


def span_key(label):
    return (label["start"], label["end"], label["text"], label["label_type"])


def test_ragtruth_roundtrip_keeps_every_response_and_span(store, ragtruth_path, tmp_path):
    original = [json.loads(line) for line in ragtruth_path.open(encoding="utf-8")]
    summary = import_file(store, ragtruth_path)
    assert summary["generations"] == len(original) == 303
    assert summary["examples"] == len({r["source_id"] for r in original})
    assert store.counts()["checkpoints"] == 6  # one per generating model

    export_file(store, tmp_path / "back.jsonl")
    back = {r["id"]: r for r in map(json.loads, (tmp_path / "back.jsonl").open(encoding="utf-8"))}
    assert set(back) == {r["id"] for r in original}
    for row in original:
        got = back[row["id"]]
        assert got["response"] == row["response"]
        assert sorted(map(span_key, got["labels"])) == sorted(map(span_key, row["labels"]))
        for field in ("task_type", "model", "source", "source_id", "question", "quality", "split", "origin"):
            assert got[field] == row[field], field
        for label in got["labels"]:
            assert label["annotator"] == "gold"
            assert label["type"] in ("conflict", "baseless")
            assert got["response"][label["start"]:label["end"]] == label["text"]


def test_types_are_mapped_and_original_label_kept(store, ragtruth_path):
    import_file(store, ragtruth_path)
    spans = [s for label in store.labels(annotator="gold") for s in label.spans]
    assert len(spans) == 164
    for span in spans:
        expected = "conflict" if "Conflict" in span.label_type else "baseless"
        assert span.type == expected
        assert set(span.meta) == {"implicit_true", "due_to_null"}


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_flat_tables_roundtrip(store, ragtruth_path, tmp_path, suffix):
    import_file(store, ragtruth_path)
    out = tmp_path / f"flat.{suffix}"
    export_file(store, out)
    frame = pd.read_csv(out) if suffix == "csv" else pd.read_parquet(out)
    assert frame["id"].astype(str).nunique() == 303
    assert frame["start"].notna().sum() == 164  # one row per span

    again = Store(tmp_path / "again")
    import_file(again, out, dataset="ragtruth_dev")
    assert again.counts() == {**store.counts()}
    for label in store.labels():
        twin = again.get_label(label.generation_id, label.annotator)
        assert [(s.start, s.end, s.type, s.label_type) for s in twin.spans] == \
               [(s.start, s.end, s.type, s.label_type) for s in label.spans]


def test_reimport_is_idempotent(store, ragtruth_path):
    import_file(store, ragtruth_path)
    before = store.counts()
    summary = import_file(store, ragtruth_path)
    assert summary["new_generations"] == 0
    assert store.counts() == before


def test_examples_file_imports_prompts(store, tmp_path):
    path = tmp_path / "eval.jsonl"
    path.write_text('{"id": "q1", "prompt": "Who?", "source": "Ann.", "reference": "Ann", "task": "qa"}\n'
                    '{"prompt": "Where?", "lang": "en"}\n', encoding="utf-8")
    assert import_file(store, path) == {"dataset": "eval", "examples": 2}
    examples = store.examples("eval")
    assert [e.prompt for e in examples] == ["Who?", "Where?"]
    assert examples[0].reference == "Ann" and examples[1].meta == {"lang": "en"}


def test_labels_of_several_annotators_roundtrip(store, ragtruth_path, tmp_path):
    from hallu_core.types import Label, Span

    import_file(store, ragtruth_path)
    gen = store.generations()[0]
    store.save_label(Label(gen.id, "ann", [Span(0, 5, "baseless", note="made up")]))
    store.save_label(Label(store.generations()[1].id, "ann", []))  # judged clean: kept as a label
    export_file(store, tmp_path / "all.jsonl")
    again = Store(tmp_path / "again")
    import_file(again, tmp_path / "all.jsonl", dataset="ragtruth_dev")
    assert again.get_label(gen.id, "ann").spans[0].note == "made up"
    assert again.get_label(store.generations()[1].id, "ann").spans == []
    assert len(again.labels(annotator="ann")) == 2
