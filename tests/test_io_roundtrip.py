"""Import then export gives back every response and every span exactly."""
import json

import pandas as pd
import pytest

from hallu_core.data.export import export_file
from hallu_core.data.io import ImportValidationError, import_file
from hallu_core.store.database import Store


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
    from hallu_core.store.types import Label, Span

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


def _write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _sample_rows(ragtruth_path):
    return [json.loads(line) for line in ragtruth_path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_reimport_with_another_model_order_is_idempotent(store, ragtruth_path, tmp_path):
    """Checkpoints are one per model whatever order the models first appear in."""
    rows = _sample_rows(ragtruth_path)
    import_file(store, _write_rows(tmp_path / "rt.jsonl", rows))
    before, checkpoints = store.counts(), {(c.id, c.name) for c in store.checkpoints()}
    again = tmp_path / "again" / "rt.jsonl"  # same dataset name, models first seen in reverse order
    again.parent.mkdir()
    summary = import_file(store, _write_rows(again, rows[::-1]))
    assert summary["new_generations"] == 0
    assert store.counts() == before
    assert {(c.id, c.name) for c in store.checkpoints()} == checkpoints


def test_a_new_model_in_a_second_file_adds_a_checkpoint_and_evicts_none(store, ragtruth_path, tmp_path):
    rows = _sample_rows(ragtruth_path)
    models = sorted({r["model"] for r in rows})
    first = [r for r in rows if r["model"] != models[0]]
    import_file(store, _write_rows(tmp_path / "rt.jsonl", first))
    kept = {c.id: (c.name, c.step) for c in store.checkpoints()}
    assert len(kept) == len(models) - 1
    both = tmp_path / "later" / "rt.jsonl"
    both.parent.mkdir()
    summary = import_file(store, _write_rows(both, [r for r in rows if r["model"] == models[0]] + first))
    assert summary["new_generations"] == len(rows) - len(first)
    now = {c.id: (c.name, c.step) for c in store.checkpoints()}
    assert {k: now[k] for k in kept} == kept  # the stored checkpoints are untouched
    assert sorted(name for name, _ in now.values()) == models
    assert len({step for _, step in now.values()}) == len(models)
    by_model = {c.name: c.id for c in store.checkpoints()}
    assert all(by_model[g.meta["model"]] == g.checkpoint_id for g in store.generations())
    assert store.counts()["generations"] == len(rows)
    assert store.query("PRAGMA foreign_key_check") == []


def test_the_same_rows_under_another_dataset_name_are_refused_naming_where_they_are(store, ragtruth_path):
    import_file(store, ragtruth_path)
    before = store.counts()
    with pytest.raises(ImportValidationError) as refused:
        import_file(store, ragtruth_path, dataset="other")
    first = refused.value.problems[0]
    assert (first.line, first.field) == (1, "id")
    assert "is already stored in dataset 'ragtruth_dev'" in first.message and "--dataset ragtruth_dev" in first.message
    assert store.counts() == before


def _provenance_workspace(store, ragtruth_path):
    """A fine-tuned run (base model as stored on the run: an HF id) with one output, beside an imported file."""
    from hallu_core.store.types import Checkpoint, Example, Generation, Run

    import_file(store, ragtruth_path)
    store.add_examples([Example("ex-1", "bios", "Who is P1?", None, "P1 is a baker.")])
    store.add_run(Run("run-ft", "ft", "HuggingFaceTB/SmolLM2-135M", config={"method": "lora"}, status="done"))
    store.add_checkpoint(Checkpoint("ft-40", "run-ft", 40, "step-40"))
    store.add_generations([Generation("ft-gen", "ex-1", "ft-40", "P1 is a pilot.", decoding_name="greedy")])
    return {g.id: g.meta["model"] for g in store.generations() if g.id != "ft-gen"}  # imported id -> model


def _read(path, suffix):
    if suffix == "jsonl":
        return {r["id"]: r for r in map(json.loads, path.open(encoding="utf-8"))}
    frame = pd.read_csv(path, dtype=str, keep_default_na=False) if suffix == "csv" else pd.read_parquet(path)
    return {str(r["id"]): r for r in frame.drop_duplicates("id").to_dict("records")}


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_export_names_each_outputs_base_model_and_a_fresh_workspace_reads_it_back(store, ragtruth_path, tmp_path,
                                                                                suffix):
    imported = _provenance_workspace(store, ragtruth_path)
    out = tmp_path / f"out.{suffix}"
    export_file(store, out)
    rows = _read(out, suffix)
    assert rows["ft-gen"]["base_model"] == "HuggingFaceTB/SmolLM2-135M"  # the run's base, not its checkpoint
    assert rows["ft-gen"]["model"] == "ft/step-40" and rows["ft-gen"]["run"] == "ft"  # the old fields unchanged
    # an imported output has no training run: its base model is the generating model, as the import stored it
    assert {gid: rows[gid]["base_model"] for gid in imported} == imported
    assert {"gpt-4-0613", "mistral-7B-instruct"} <= set(imported.values())

    fresh = Store(tmp_path / "fresh")
    import_file(fresh, out, dataset="back")  # the field is accepted on import and kept through a second export
    again = tmp_path / f"again.{suffix}"
    export_file(fresh, again)
    back = _read(again, suffix)
    assert back["ft-gen"]["base_model"] == "HuggingFaceTB/SmolLM2-135M"
    assert {gid: back[gid]["base_model"] for gid in imported} == imported
    fresh.close()


def test_a_base_model_that_is_not_text_is_refused(store, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "g1", "response": "ok", "model": "m", "base_model": 7}) + "\n",
                    encoding="utf-8")
    with pytest.raises(ImportValidationError, match=r"bad.jsonl:1: base_model: expected str, got int 7"):
        import_file(store, path)


def test_an_export_says_how_many_unfinished_labels_it_left_out(store, tmp_path):
    """Issue 22 item 4: drafts were left out with no notice. They stay out (a reader, Hallu's import too,
    takes every label in the file as final), and the export counts them."""
    from hallu_core.labeling import queue as labeling
    from helpers.labeling import build

    build(store)
    labeling.add_span(store, "g2", "carol", 0, 2, "conflict")  # a draft
    labeling.add_span(store, "g3", "carol", 0, 2, "conflict")
    labeling.skip(store, "g4", "dave")
    summary = export_file(store, tmp_path / "out.jsonl")
    assert summary["left_out"] == {"draft": 2, "skipped": 1}
    exported = [json.loads(line) for line in (tmp_path / "out.jsonl").open(encoding="utf-8")]
    assert not any(label["annotator"] in ("carol", "dave") for r in exported for label in r["labels"])
    assert export_file(store, tmp_path / "gold.jsonl", annotators=["gold"])["left_out"] == {"draft": 0, "skipped": 0}
    assert export_file(store, tmp_path / "b.jsonl", run_id="nope")["left_out"] == {"draft": 0, "skipped": 0}


def test_the_cli_export_names_what_it_left_out(tmp_path):
    from click.testing import CliRunner

    from hallu_core.cli.main import main as cli
    from hallu_core.labeling import queue as labeling
    from helpers.labeling import build

    store = Store(tmp_path / "ws")
    build(store)
    labeling.add_span(store, "g2", "carol", 0, 2, "conflict")
    store.close()
    result = CliRunner().invoke(cli, ["export", "--out", str(tmp_path / "o.jsonl"), "-w", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    assert "Left out of the export: 1 draft label(s) not marked done" in result.stderr
    assert json.loads(result.stdout)["left_out"] == {"draft": 1, "skipped": 0}


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_a_failed_export_leaves_no_partial_file_and_the_old_export_intact(store, ragtruth_path, tmp_path,
                                                                          monkeypatch, suffix):
    """Issue 22 item 12: `<out>.partial` stayed behind when an export failed midway."""
    from hallu_core.data import export, tables

    import_file(store, ragtruth_path)
    out = tmp_path / f"out.{suffix}"
    out.write_text("the previous export", encoding="utf-8")
    records = tables.export_records(store)
    records[150]["response"] = object()  # not serializable: the writer fails halfway through
    monkeypatch.setattr(tables, "export_records", lambda *a, **k: records)
    if suffix == "csv":  # pandas would write the object's repr: fail inside the writer instead
        real = tables.write_flat

        def failing(recs, path, fmt):
            real(recs[:150], path, fmt)
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(tables, "write_flat", failing)
    with pytest.raises((TypeError, OSError)):
        export.export_file(store, out)
    assert out.read_text(encoding="utf-8") == "the previous export"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == [out.name]


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_how_each_label_was_chosen_survives_export_and_import(store, ragtruth_path, tmp_path, suffix):
    """A score-ordered label re-imported as "import" (taken as a random draw) would bias a rate estimate."""
    from hallu_core.store.types import Label, Span

    import_file(store, ragtruth_path)
    g0, g1, g2 = (g.id for g in store.generations()[:3])
    store.save_label(Label(g0, "ann", [Span(0, 5, "baseless")], selection="score", assisted=True))
    store.save_label(Label(g1, "ann", [], selection="random"))
    store.save_label(Label(g2, "ann", []))  # not recorded
    out = tmp_path / f"all.{suffix}"
    export_file(store, out)
    again = Store(tmp_path / "again")
    import_file(again, out, dataset="ragtruth_dev")
    got = {g: again.get_label(g, "ann") for g in (g0, g1, g2)}
    assert [(got[g].selection, got[g].assisted) for g in (g0, g1, g2)] == [("score", True), ("random", False),
                                                                           (None, False)]
    assert again.get_label(g0, "gold").selection == "import"  # as first imported from RAGTruth's file
    plain = tmp_path / "plain.jsonl"  # a file from elsewhere, without label_info: its labels are an import
    plain.write_text(json.dumps({"id": "x1", "response": "abc", "labels": []}) + "\n", encoding="utf-8")
    import_file(again, plain, dataset="other")
    assert again.get_label("x1", "gold").selection == "import"


def test_a_bad_label_info_is_refused_naming_line_and_field(store, tmp_path):
    path = _write_rows(tmp_path / "bad.jsonl", [
        {"id": "a", "response": "abc", "labels": [], "label_info": {"gold": {"selection": "random"}}},
        {"id": "b", "response": "abc", "labels": [], "label_info": {"gold": {"selection": "by hand"}}},
        {"id": "c", "response": "abc", "labels": [], "label_info": {"gold": {"assisted": "yes"}}}])
    with pytest.raises(ImportValidationError) as err:
        import_file(store, path)
    text = str(err.value)
    assert "bad.jsonl:2" in text and "label_info.gold.selection" in text and "by hand" in text
    assert "bad.jsonl:3" in text and "label_info.gold.assisted" in text
    assert store.counts()["generations"] == 0
