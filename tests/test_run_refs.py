"""A run named by its name wherever the CLI takes a run (issue 22): generate, detect, export, ask, RUN:STEP.

Every page names runs by name; the CLI takes that name beside the run id, and a name several runs
share is refused with the ids that have it."""
from __future__ import annotations

import pytest

from hallu_core.modeling.model_refs import resolve_checkpoint_ids
from hallu_core.store.database import AmbiguousRun, Store
from hallu_core.store.types import Checkpoint, Example, Generation, Run
from test_cli_models import invoke, tiny_dir  # noqa: F401 (tiny_dir: a fixture)


@pytest.fixture
def ws(tmp_path, tiny_dir):  # noqa: F811 (the imported fixture)
    """run-a named demo-s0-known-only; run-b and run-c both named twin; two checkpoints each."""
    store = Store(tmp_path / "ws")
    store.add_examples([Example(f"ex{i}", "eval", f"Person {i} was born in", f"Person {i} lives in Oslo.")
                        for i in range(3)])
    for run_id, name in (("run-a", "demo-s0-known-only"), ("run-b", "twin"), ("run-c", "twin")):
        store.add_run(Run(run_id, name, str(tiny_dir)))
        for step in (0, 10):
            store.add_checkpoint(Checkpoint(f"{run_id}-{step}", run_id, step, f"step-{step}", str(tiny_dir)))
    yield store
    store.close()


def stored_by_checkpoint(store: Store, table: str = "generations") -> dict:
    join = "" if table == "generations" else " d JOIN generations g ON g.id = d.generation_id"
    return dict(store.query(f"SELECT checkpoint_id, COUNT(*) FROM {table}{join} GROUP BY checkpoint_id"))


def add_outputs(store: Store) -> None:
    store.add_generations([Generation(f"{c.id}-ex{i}", f"ex{i}", c.id, f"Person {i} lives in Rome.", {}, "greedy")
                           for c in store.checkpoints() for i in range(3)])


def test_generate_takes_a_runs_name_and_run_colon_step_by_name(ws):
    result = invoke("generate", "--run", "demo-s0-known-only", "--max-new-tokens", "3", "-w", ws.root)
    assert result.exit_code == 0, result.output
    assert stored_by_checkpoint(ws) == {"run-a-0": 3, "run-a-10": 3}
    result = invoke("generate", "--checkpoint", "twin:10", "--max-new-tokens", "3", "-w", ws.root)
    assert result.exit_code == 1 and "run-b, run-c" in result.output  # ambiguous, even with a step


def test_an_ambiguous_name_is_refused_with_the_matching_run_ids(ws):
    result = invoke("generate", "--run", "twin", "-w", ws.root)
    assert result.exit_code == 1
    assert "2 runs are named 'twin': run-b, run-c" in result.output and "Traceback" not in result.output
    assert stored_by_checkpoint(ws) == {}


def test_detect_and_export_take_a_runs_name(ws, tmp_path):
    add_outputs(ws)
    result = invoke("detect", "--detector", "lexical", "--run", "demo-s0-known-only", "-w", ws.root)
    assert result.exit_code == 0, result.output
    assert stored_by_checkpoint(ws, "detections") == {"run-a-0": 3, "run-a-10": 3}
    result = invoke("detect", "--detector", "lexical", "--checkpoint", "run-b:10", "-w", ws.root)
    assert result.exit_code == 0, result.output
    assert stored_by_checkpoint(ws, "detections")["run-b-10"] == 3

    out = tmp_path / "a.jsonl"
    result = invoke("export", "--run", "demo-s0-known-only", "--out", out, "-w", ws.root)
    assert result.exit_code == 0, result.output
    assert len(out.read_text(encoding="utf-8").splitlines()) == 6
    for command in (("export", "--out", tmp_path / "b.jsonl"), ("detect", "--detector", "lexical")):
        result = invoke(*command, "--run", "twin", "-w", ws.root)
        assert result.exit_code == 1 and "run-b, run-c" in result.output
        result = invoke(*command, "--run", "nope", "-w", ws.root)  # no longer an empty result
        assert result.exit_code == 2 and "'nope'" in result.output


def test_the_one_resolver_prefers_ids_and_serves_ask_and_distill(ws):
    ws.add_run(Run("demo-s0-known-only", "other", "tiny"))  # an id equal to another run's name: the id wins
    ws.add_checkpoint(Checkpoint("x-0", "demo-s0-known-only", 0, "base", "tiny"))
    assert resolve_checkpoint_ids(ws, ["demo-s0-known-only"]) == ["x-0"]
    assert resolve_checkpoint_ids(ws, ["other:0", "run-c:step-10"]) == ["x-0", "run-c-10"]
    with pytest.raises(AmbiguousRun, match="run-b, run-c"):
        resolve_checkpoint_ids(ws, ["twin"])

    from hallu_core.modeling.ask import model_location
    from hallu_core.modeling.distill import resolve_teacher

    ws.add_run(Run("run-d", "named-run", "tiny"))
    ws.add_checkpoint(Checkpoint("run-d-5", "run-d", 5, "step-5", str(ws.root / "artifacts")))
    assert model_location(ws, "named-run")[0] == str(ws.root / "artifacts")  # its last checkpoint
    assert resolve_teacher(ws, "named-run:5")[2] == "run-d-5"
    assert resolve_teacher(ws, "named-run")[2] == "run-d-5"
