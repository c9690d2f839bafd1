"""detect-file: RAGTruth-schema JSONL in, one prediction line per row out; clear errors."""
import json

import pytest

from hallu_core.data.records import ImportValidationError
from hallu_core.detection.detectors.filemode import detect_file, items_from_records, read_records


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [
    {"id": "r1", "task_type": "QA", "source_id": "s1", "source": "Oslo is the capital of Norway.",
     "response": "Oslo is the capital of Sweden.", "labels": [{"start": 23, "end": 29, "label_type": "Evident Conflict"}]},
    {"id": "r2", "task_type": "QA", "source_id": "s1", "source": "Oslo is the capital of Norway.",
     "response": "Oslo is the capital of Norway.", "labels": []},
]


def test_detect_file_writes_one_line_per_input(tmp_path):
    out = tmp_path / "pred.jsonl"
    assert detect_file(write_rows(tmp_path / "in.jsonl", ROWS), "lexical", out) == 2
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    assert [l["id"] for l in lines] == ["r1", "r2"]
    [span] = lines[0]["spans"]
    assert ROWS[0]["response"][span["start"]:span["end"]] == "Sweden"
    assert set(span) == {"start", "end", "type", "score"} and lines[1]["spans"] == []


def test_responses_of_one_source_are_each_others_samples(tmp_path):
    items = items_from_records(read_records(write_rows(tmp_path / "in.jsonl", ROWS)))
    assert items[0].samples == [ROWS[1]["response"]] and items[1].samples == [ROWS[0]["response"]]


def test_file_mode_and_the_workspace_build_the_same_items_for_a_file(store, ragtruth_path):
    """One RAGTruth row gets one grounding (question, source, samples) in `detect-file` and after `import`."""
    from hallu_core.data.io import import_file
    from hallu_core.detection.detect import detect_items

    import_file(store, ragtruth_path)
    in_workspace = {i.id: i for i in detect_items(store, store.generations())}
    from_file = {i.id: i for i in items_from_records(read_records(ragtruth_path))}
    assert from_file == in_workspace
    summary = next(i for i in from_file.values() if i.task == "Summary")
    assert summary.question is None  # the task's instruction is no grounding


def test_train_on_needs_a_trainable_detector(tmp_path):
    path = write_rows(tmp_path / "in.jsonl", ROWS)
    with pytest.raises(ValueError, match="nothing to train"):
        detect_file(path, "lexical", tmp_path / "o.jsonl", train_on=path)


@pytest.mark.parametrize("content, message", [
    ('{"id": "a", "response": "x"}\n{broken\n', ":2: broken JSON"),
    ('{"id": "a", "model": "m"}\n', ":1: response: required field is missing"),
    ('{"id": "a", "response": "x"}\n{"id": "a", "response": "y"}\n', ":2: id: duplicate id"),
    ("", "holds no records"),
])
def test_malformed_files_are_refused_naming_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportValidationError, match=message):
        read_records(path)
