"""Exported generations carry their context (run, kind, step, decoding, template, example meta) and a
fresh workspace reads it back."""
import json

import pandas as pd
import pytest

from hallu_core.data.export import export_file
from hallu_core.data.io import ImportValidationError, import_file
from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Example, Generation, Label, Run, Span
from hallu_core.views import queries

CONTEXT = ("run", "run_kind", "step", "decoding", "sample_index", "prompt_template", "meta")


def _workspace(store: Store, runs=(("full", {"method": "full"}), ("adapter", {"method": "lora"}))) -> Store:
    """Runs on the same examples (meta `knowledge`), two checkpoints each, greedy and sampled outputs;
    the oracle flags the new facts' outputs of the later checkpoint."""
    store.add_examples([Example(f"ex-{i}", "bios", f"Who is P{i}?", None, f"P{i} is a baker.",
                                meta={"knowledge": "new" if i % 2 else "known", "entity": i}) for i in range(4)])
    for name, config in runs:
        store.add_run(Run(f"run-{name}", name, "tiny", config=config, status="done"))
        for step in (0, 40):
            ckpt = store.add_checkpoint(Checkpoint(f"{name}-{step}", f"run-{name}", step, f"step-{step}"))
            for decoding in ("greedy", "sample-t1.3"):
                for i in range(4):
                    gid = f"{name}-{step}-{decoding}-{i}"
                    text = f"P{i} is a {'pilot' if step and i % 2 else 'baker'}."
                    store.add_generations([Generation(gid, f"ex-{i}", ckpt.id, text, decoding_name=decoding)])
                    spans = [Span(8, 13, "conflict")] if "pilot" in text else []
                    store.add_labels([Label(gid, "oracle", spans)])
    return store


def _jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_jsonl_export_names_run_kind_step_decoding_and_example_meta(store, tmp_path):
    _workspace(store)
    export_file(store, tmp_path / "out.jsonl")
    rows = {r["id"]: r for r in _jsonl(tmp_path / "out.jsonl")}
    assert len(rows) == 32
    row = rows["adapter-40-sample-t1.3-1"]
    assert {k: row[k] for k in CONTEXT} == {
        "run": "adapter", "run_kind": "lora", "step": 40, "decoding": "sample-t1.3", "sample_index": 0,
        "prompt_template": None, "meta": {"knowledge": "new", "entity": 1}}
    assert rows["full-0-greedy-2"]["run_kind"] == "finetune"
    assert rows["full-0-greedy-2"]["meta"]["knowledge"] == "known"


def test_a_stored_prompt_template_is_exported(store, tmp_path):
    _workspace(store, runs=(("full", {}),))
    gen = store.get_generation("full-0-greedy-0")
    store.add_generations([Generation("templated", gen.example_id, gen.checkpoint_id, "P0 is a baker.",
                                      decoding_name="greedy", sample_index=1, meta={"prompt_template": "grounded"})])
    export_file(store, tmp_path / "out.jsonl")
    templates = {r["id"]: r["prompt_template"] for r in _jsonl(tmp_path / "out.jsonl")}
    assert templates["templated"] == "grounded" and templates["full-0-greedy-0"] is None


def test_generated_outputs_export_their_template_and_reimport_on_a_side_of_their_own(store, tmp_path):
    from hallu_core.modeling.config import DecodingConfig
    from hallu_core.modeling.generate import _records
    from hallu_core.modeling.generate_backends import Output

    _workspace(store, runs=(("full", {}),))
    ckpt, examples = store.get_checkpoint("full-40"), store.examples("bios")[:2]
    for template in ("closed-book", "grounded"):
        store.add_generations(_records(ckpt, DecodingConfig(), examples, [[Output("P0 is a pilot.", [])]] * 2,
                                       "hf", template))
    export_file(store, tmp_path / "out.jsonl")
    rows = [r for r in _jsonl(tmp_path / "out.jsonl") if r["run"] == "full" and r["step"] == 40]
    made_here = [(r["decoding"], r["prompt_template"]) for r in rows if r["prompt_template"]]
    # the file gives decoding and template apart (the workspace's label "greedy · grounded" folds them)
    assert sorted(made_here) == [("greedy", "closed-book")] * 2 + [("greedy", "grounded")] * 2
    fresh = Store(tmp_path / "fresh")
    import_file(fresh, tmp_path / "out.jsonl", dataset="back")
    counts = dict(fresh.query("SELECT decoding_name, COUNT(*) FROM generations g JOIN checkpoints c "
                              "ON c.id = g.checkpoint_id WHERE c.step = 40 GROUP BY decoding_name"))
    assert counts == {"greedy": 4 + 2, "greedy · grounded": 2, "sample-t1.3": 4}


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_flat_tables_have_context_columns_for_pandas(store, tmp_path, suffix):
    _workspace(store)
    out = tmp_path / f"out.{suffix}"
    export_file(store, out)
    frame = pd.read_csv(out) if suffix == "csv" else pd.read_parquet(out)
    assert set(CONTEXT) <= set(frame.columns)
    frame["knowledge"] = frame["meta"].map(json.loads).str["knowledge"]
    one = frame[frame["id"] == "full-40-greedy-3"].iloc[0]
    assert (one["run"], one["run_kind"], int(one["step"]), one["decoding"], one["knowledge"]) == \
           ("full", "finetune", 40, "greedy", "new")
    assert sorted(frame["run_kind"].unique()) == ["finetune", "lora"]
    assert frame.groupby("knowledge")["id"].nunique().to_dict() == {"known": 16, "new": 16}


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_export_reimports_into_a_fresh_workspace_keeping_meta_decodings_and_steps(store, tmp_path, suffix):
    _workspace(store, runs=(("full", {}),))
    out = tmp_path / f"out.{suffix}"
    export_file(store, out)
    fresh = Store(tmp_path / "fresh")
    summary = import_file(fresh, out, dataset="back")
    assert summary["generations"] == 16 and summary["examples"] == 4  # one example per example, not per file
    examples = {e.prompt: e for e in fresh.examples("back")}
    assert examples["Who is P1?"].meta["knowledge"] == "new" and examples["Who is P1?"].meta["entity"] == 1
    assert {c.step for c in fresh.checkpoints()} == {0, 40}  # the file's steps, as they do not collide
    gen = fresh.get_generation("full-40-sample-t1.3-1")
    assert gen.decoding_name == "sample-t1.3"
    assert gen.meta["origin"] == {"run": "full", "run_kind": "finetune", "base_model": "tiny", "step": 40}
    rates = queries.hallucination_rates(fresh, [("labels", "oracle")], by_decoding=False, by_knowledge=True)
    assert {(r["step"], r["knowledge"]): r["rate"] for r in rates} == {
        (0, "known"): 0.0, (0, "new"): 0.0, (40, "known"): 0.0, (40, "new"): 1.0}


def test_runs_sharing_steps_reimport_with_distinct_checkpoints(store, tmp_path):
    _workspace(store)
    export_file(store, tmp_path / "out.jsonl")
    fresh = Store(tmp_path / "fresh")
    import_file(fresh, tmp_path / "out.jsonl", dataset="back")
    assert sorted(c.name for c in fresh.checkpoints()) == ["adapter/step-0", "adapter/step-40",
                                                           "full/step-0", "full/step-40"]
    assert len({c.step for c in fresh.checkpoints()}) == 4
    assert import_file(fresh, tmp_path / "out.jsonl", dataset="back")["new_generations"] == 0


def test_unknown_fields_are_still_kept_beside_the_context(store, tmp_path):
    row = {"id": "g1", "response": "P0 is a baker.", "model": "m", "run": "r", "step": 3, "decoding": "greedy",
           "meta": {"knowledge": "known"}, "temperature": 0.7}
    (tmp_path / "in.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    import_file(store, tmp_path / "in.jsonl")
    gen = store.get_generation("g1")
    assert gen.meta["extra"] == {"temperature": 0.7}
    export_file(store, tmp_path / "out.jsonl")
    (back,) = _jsonl(tmp_path / "out.jsonl")
    assert back["temperature"] == 0.7 and back["meta"] == {"knowledge": "known"} and back["decoding"] == "greedy"
    assert back["run_kind"] == "import"


BASE = {"id": "g1", "response": "P0 is a baker.", "model": "m", "source_id": "s1"}


@pytest.mark.parametrize("changes, field, message", [
    ({"step": "40"}, "step", "expected int, got str '40'"),
    ({"step": -1}, "step", "expected a non-negative integer, got -1"),
    ({"step": True}, "step", "expected int, got bool True"),
    ({"run_kind": 5}, "run_kind", "expected str, got int 5"),
    ({"run": ["a"]}, "run", "expected str, got list"),
    ({"decoding": {"strategy": "greedy"}}, "decoding", "expected str, got dict"),
    ({"prompt_template": 1}, "prompt_template", "expected str, got int 1"),
    ({"sample_index": 1.5}, "sample_index", "expected int, got float 1.5"),
    ({"meta": ["known"]}, "meta", "expected dict, got list ['known']"),
])
def test_bad_context_fields_are_refused_with_file_line_field_and_value(store, tmp_path, changes, field, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({**BASE, "id": "g0"}) + "\n" + json.dumps({**BASE, **changes}) + "\n",
                    encoding="utf-8")
    with pytest.raises(ImportValidationError) as refused:
        import_file(store, path)
    assert f"{path}:2: {field}: {message}" in str(refused.value)
    assert store.counts()["generations"] == 0


def test_outputs_of_one_source_with_different_meta_are_refused(store, tmp_path):
    path = tmp_path / "bad.jsonl"
    rows = [{**BASE, "meta": {"knowledge": "known"}}, {**BASE, "id": "g2", "meta": {"knowledge": "new"}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(ImportValidationError, match=r"bad.jsonl:2: meta: source_id 's1' has a different meta"):
        import_file(store, path)


@pytest.mark.parametrize("column, value, message", [
    ("step", "forty", "step: expected an integer, got 'forty'"),
    ("meta", "{not json", "meta: expected a JSON object, got '{not json'"),
    ("meta", "[1, 2]", "meta: expected a JSON object, got '[1, 2]'"),
])
def test_bad_context_cells_in_a_csv_name_line_and_column(store, tmp_path, column, value, message):
    _workspace(store, runs=(("full", {}),))
    export_file(store, tmp_path / "out.csv")
    frame = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    frame.loc[frame["id"] == frame["id"].iloc[2], column] = value  # the third row: CSV line 4
    frame.to_csv(tmp_path / "bad.csv", index=False)
    fresh = Store(tmp_path / "fresh")
    with pytest.raises(ImportValidationError) as refused:
        import_file(fresh, tmp_path / "bad.csv")
    assert f"bad.csv:4: {message}" in str(refused.value)
    assert fresh.counts()["generations"] == 0
