"""The `hallu` commands that run models or detectors: generate, detect, evaluate, detect-file.

Each is driven the way a user types it (click's runner, a real workspace, a tiny model or
the cheap lexical detector); a bad argument must end in a clear message, never a traceback.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hallu_core.cli.main import main
from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Example, Run


def invoke(*args):
    """Run `hallu ARGS`; an exception that click did not turn into an exit is a test failure."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    pytest.importorskip("transformers")
    from hallu_core.demo.base_model import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("cli") / "model", pretrain_steps=5)


@pytest.fixture
def model_ws(tmp_path, tiny_dir):
    """A run with two checkpoints (steps 0 and 10) and three examples."""
    root = tmp_path / "ws"
    store = Store(root)
    store.add_examples([Example(f"ex{i}", "eval", f"Person {i} was born in") for i in range(3)])
    store.add_run(Run("run1", "tiny", str(tiny_dir)))
    for step in (0, 10):
        store.add_checkpoint(Checkpoint(f"ck{step}", "run1", step, f"step-{step}", str(tiny_dir)))
    store.close()
    return root


def _config(tmp_path, checkpoints):
    path = tmp_path / "generate.json"
    path.write_text(json.dumps({"checkpoints": checkpoints, "dataset": "eval",
                                "decodings": [{"strategy": "greedy", "max_new_tokens": 4}]}), encoding="utf-8")
    return path


def _generated_by_checkpoint(root) -> dict:
    store = Store(root)
    try:
        return dict(store.query("SELECT checkpoint_id, COUNT(*) FROM generations GROUP BY checkpoint_id"))
    finally:
        store.close()


def test_generate_config_accepts_a_run_id(tmp_path, model_ws):
    result = invoke("generate", _config(tmp_path, ["run1"]), "-w", model_ws)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["generated"] == 6
    assert _generated_by_checkpoint(model_ws) == {"ck0": 3, "ck10": 3}


def test_generate_config_accepts_run_colon_step(tmp_path, model_ws):
    result = invoke("generate", _config(tmp_path, ["run1:10"]), "-w", model_ws)
    assert result.exit_code == 0, result.output
    assert _generated_by_checkpoint(model_ws) == {"ck10": 3}


@pytest.mark.parametrize("ref, named", [("nope", "'nope'"), ("run1:7", "run 'run1' has no checkpoint '7'")])
def test_generate_with_an_unknown_checkpoint_says_which(tmp_path, model_ws, ref, named):
    result = invoke("generate", _config(tmp_path, [ref]), "-w", model_ws)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert named in result.output and "Traceback" not in result.output
    assert _generated_by_checkpoint(model_ws) == {}


def test_generate_options_with_an_unknown_checkpoint_or_run_say_which(model_ws):
    result = invoke("generate", "--checkpoint", "ck99", "-w", model_ws)
    assert result.exit_code == 1 and "'ck99'" in result.output
    result = invoke("generate", "--run", "run9", "-w", model_ws)
    assert result.exit_code == 1 and "'run9'" in result.output


def test_a_model_that_cannot_load_is_a_clear_error(tmp_path, model_ws):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json", encoding="utf-8")
    store = Store(model_ws)
    store.add_checkpoint(Checkpoint("bad", "run1", 20, "step-20", str(broken)))
    store.close()
    result = invoke("generate", "--checkpoint", "bad", "-w", model_ws)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "cannot load" in result.output and str(broken) in result.output


def test_detect_with_an_unknown_detector_names_the_known_ones(tmp_path):
    result = invoke("detect", "--detector", "typo", "-w", tmp_path / "ws")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "unknown detector 'typo'" in result.output and "lexical" in result.output


def test_detect_file_with_an_unknown_detector_names_the_known_ones(tmp_path, ragtruth_path):
    result = invoke("detect-file", ragtruth_path, "--detector", "typo", "--out", tmp_path / "p.jsonl")
    assert result.exit_code == 2 and "unknown detector 'typo'" in result.output
    assert not (tmp_path / "p.jsonl").exists()


def test_detect_then_evaluate_against_gold(tmp_path, ragtruth_path):
    ws = tmp_path / "ws"
    assert invoke("import", ragtruth_path, "-w", ws).exit_code == 0
    result = invoke("detect", "--detector", "lexical", "-w", ws)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["detector"] == "lexical" and summary["detected"] == 303 and summary["flagged"] > 0
    again = json.loads(invoke("detect", "--detector", "lexical", "-w", ws).output.strip().splitlines()[-1])
    assert again["detected"] == 0  # a rerun detects only what is new

    rows = [json.loads(line) for line in invoke("evaluate", "--json", "-w", ws).output.splitlines()]
    overall = next(r for r in rows if r["task"] == "overall")
    assert overall["detector"] == "lexical" and overall["n"] == 303
    assert {r["task"] for r in rows} == {"overall", "QA", "Summary", "Data2txt"}
    assert sum(r["n"] for r in rows if r["task"] != "overall") == 303
    assert all(0 <= r[k] <= 1 for r in rows for k in ("response_p", "response_r", "span_f1"))
    by_model = [json.loads(line) for line in invoke("evaluate", "--by", "checkpoint", "--json", "-w", ws).output
                .splitlines()]
    assert sum(r["n"] for r in by_model if r["checkpoint"] != "overall") == 303
    assert any(r["checkpoint"].endswith("/gpt-4-0613") for r in by_model)
    table = invoke("evaluate", "-w", ws)
    assert table.exit_code == 0 and table.output.splitlines()[0].split()[:3] == ["detector", "task", "n"]
    assert any(line.split()[:2] == ["lexical", "overall"] for line in table.output.splitlines())


def test_evaluate_without_detections_says_what_to_run(tmp_path, ragtruth_path):
    ws = tmp_path / "ws"
    invoke("import", ragtruth_path, "-w", ws)
    result = invoke("evaluate", "-w", ws)
    assert result.exit_code == 1 and "run `hallu detect`" in result.output


def test_detect_file_writes_one_line_per_response_like_the_workspace_path(tmp_path, ragtruth_path):
    out = tmp_path / "pred.jsonl"
    result = invoke("detect-file", ragtruth_path, "--detector", "lexical", "--out", out)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1]) == {"out": str(out), "responses": 303}
    predicted = {r["id"]: r["spans"] for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    ws = tmp_path / "ws"
    invoke("import", ragtruth_path, "-w", ws)
    invoke("detect", "--detector", "lexical", "-w", ws)
    store = Store(ws)
    stored = {d.generation_id: [{"start": s.start, "end": s.end, "type": s.type, "score": round(s.score, 4)}
                                for s in d.spans]
              for g in store.generations() for d in store.detections(g.id)}
    store.close()
    assert predicted == stored  # one grounding for a row, whichever path detects it


def test_detect_file_refuses_a_bad_file_with_its_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "response": 5}\n', encoding="utf-8")
    result = invoke("detect-file", bad, "--detector", "lexical", "--out", tmp_path / "p.jsonl")
    assert result.exit_code == 1 and f"{bad}:1: response: expected str" in result.output


def test_generate_prompt_template_option(tmp_path, model_ws):
    from hallu_core.data import prompts

    result = invoke("generate", "--checkpoint", "ck0", "--prompt-template", "{prompt} {sorce}", "-w", model_ws)
    assert result.exit_code == 1
    assert "prompt_template = '{prompt} {sorce}': unknown placeholder {sorce}" in result.output
    result = invoke("generate", "--checkpoint", "ck0", "--prompt-template", "grounded", "-w", model_ws)
    assert result.exit_code == 1 and "3 example(s) have none" in result.output  # these examples carry no source
    assert _generated_by_checkpoint(model_ws) == {}
    # the option overrides a config file's template; closed-book and the template are two sets of outputs
    assert invoke("generate", _config(tmp_path, ["ck0"]), "-w", model_ws).exit_code == 0
    result = invoke("generate", _config(tmp_path, ["ck0"]), "--prompt-template", "Q: {prompt}", "-w", model_ws)
    assert result.exit_code == 0, result.output
    store = Store(model_ws)
    labels = dict(store.query("SELECT decoding_name, COUNT(*) FROM generations GROUP BY decoding_name"))
    store.close()
    assert labels == {"greedy": 3, f"greedy · {prompts.name_of('Q: {prompt}')}": 3}
