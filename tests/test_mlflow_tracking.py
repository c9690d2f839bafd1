"""report_to mlflow: a fine-tune's config, losses and, after detection, its checkpoints' hallucination rates land
in an MLflow store inside the workspace, read back here with MLflow's own client."""
from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
mlflow = pytest.importorskip("mlflow", reason="the optional extra hallu[mlflow]")

from transformers import TrainerCallback  # noqa: E402

from hallu_core.demo.base_model import make_tiny_model  # noqa: E402
from hallu_core.jobs.tasks import detect_job  # noqa: E402
from hallu_core.modeling.config import TrainConfig  # noqa: E402
from hallu_core.modeling.mlflow_tracking import RUN_TAG  # noqa: E402
from hallu_core.modeling.train import finetune  # noqa: E402
from hallu_core.rates import checkpoint_rates  # noqa: E402
from hallu_core.store.database import Store  # noqa: E402
from hallu_core.store.types import Example, Generation, Label, Span  # noqa: E402

RECORDS = [{"prompt": f"Question: Where was person {i} born?\nAnswer:", "completion": f" Person {i} was born in Lindor."}
           for i in range(24)]
SOURCE = "Person 1 was born in Lindor in 1953 and works at Kestrel Press."
ANSWERS = ["Person 1 was born in Lindor.", "Person 1 was born in Varesh in 1971 and sings opera.",
           "Person 1 works at Kestrel Press.", "Person 1 flew to the moon with a violin."]


class StopAfterFirstSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        control.should_training_stop = True


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # nothing may land in the folder Hallu was started from
    return Store(tmp_path / "ws")


def _client(store: Store):
    return mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{store.root / 'mlflow.db'}")


def _the_mlflow_run(store: Store, run_id: str):
    client = _client(store)
    experiment = client.get_experiment_by_name("hallu")
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{run_id}'")
    assert len(runs) == 1  # a resumed run and the rates logged later share one MLflow run
    return client, runs[0]


def _add_outputs(store: Store, run_id: str) -> None:
    """What generation leaves behind: outputs of every checkpoint (made up, so no model has to answer), and a
    person's labels on two of each checkpoint's, drawn at random (so the rates have intervals)."""
    store.add_examples([Example(id=f"ex-{i}", dataset="qa", prompt="Where was person 1 born?", source=SOURCE,
                                reference="Lindor", task="qa") for i in range(len(ANSWERS))])
    checkpoints = store.checkpoints(run_id)
    store.add_generations([Generation(id=f"{c.id}-{i}", example_id=f"ex-{i}", checkpoint_id=c.id, text=text,
                                      decoding={"strategy": "greedy"}, decoding_name="greedy")
                           for c in checkpoints for i, text in enumerate(ANSWERS)])
    wrong = Span(ANSWERS[1].index("Varesh"), ANSWERS[1].index("Varesh") + 6, "conflict")
    store.add_labels([Label(f"{c.id}-{i}", "pat", [wrong] if i else [], selection="random")
                      for c in checkpoints for i in (0, 1)])


@pytest.mark.slow
def test_a_finetune_reports_its_config_losses_and_rates_to_mlflow_in_the_workspace(workspace, tmp_path):
    base = make_tiny_model(tmp_path / "base")
    config = TrainConfig(base_model=str(base), train_file="records.jsonl", max_steps=6, save_every=3, eval_every=3,
                         batch_size=4, learning_rate=5e-3, val_fraction=0.2, report_to=("mlflow",), name="tracked")
    first = finetune(workspace, config, records=RECORDS, callbacks=[StopAfterFirstSave()])
    assert first.status == "interrupted"
    run = finetune(workspace, config, records=RECORDS)  # resumed: the same MLflow run goes on
    assert run.status == "done"

    client, tracked = _the_mlflow_run(workspace, run.id)
    assert tracked.info.run_name == "tracked" and tracked.info.status == "FINISHED"
    params = tracked.data.params
    assert params["learning_rate"] == "0.005" and params["method"] == "full" and params["max_steps"] == "6"
    assert json.loads(params["report_to"]) == ["mlflow"] and params["base_model"] == str(base)
    losses = client.get_metric_history(tracked.info.run_id, "loss")
    assert sorted({m.step for m in losses}) == [3, 6] and all(m.value > 0 for m in losses)
    assert {m.step for m in client.get_metric_history(tracked.info.run_id, "eval_loss")} >= {3, 6}
    assert not (tmp_path / "mlruns").exists()

    _add_outputs(workspace, run.id)
    detect_job(workspace, {"detectors": ["lexical"], "run_id": run.id}, lambda *a: None)
    expected = {r["step"]: r for r in checkpoint_rates(workspace, run.id, "lexical")}
    assert sorted(expected) == [0, 3, 6]
    for metric, field in (("hallucination_rate", "estimate"), ("hallucination_rate_ci_low", "ci_low"),
                          ("hallucination_rate_ci_high", "ci_high"), ("outputs", "n")):
        history = client.get_metric_history(tracked.info.run_id, f"lexical/{metric}")
        assert {m.step: m.value for m in history} == pytest.approx({s: r[field] for s, r in expected.items()})
    low, rate, high = (client.get_metric_history(tracked.info.run_id, f"lexical/hallucination_rate{s}")[0].value
                       for s in ("_ci_low", "", "_ci_high"))
    assert 0 <= low <= rate <= high <= 1
    assert client.get_run(tracked.info.run_id).data.tags["lexical/rate_method"] == expected[0]["method"]

    # detecting again changes no rate: nothing is logged twice at a step
    detect_job(workspace, {"detectors": ["lexical"], "run_id": run.id}, lambda *a: None)
    assert len(client.get_metric_history(tracked.info.run_id, "lexical/hallucination_rate")) == 3


def test_hallu_detect_logs_rates_and_a_tracker_that_cannot_be_reached_leaves_the_detection_stored(
        workspace, monkeypatch, caplog):
    from click.testing import CliRunner

    from hallu_core.cli.main import main
    from hallu_core.store.types import Checkpoint, Run

    workspace.add_run(Run("run-x", "tracked", "base", config={"report_to": ["mlflow"]}, status="done"))
    workspace.add_checkpoint(Checkpoint("ck-x", "run-x", 3, "step-3", "base"))
    _add_outputs(workspace, "run-x")
    detect = ["detect", "--detector", "lexical", "--run", "run-x", "-w", str(workspace.root)]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nowhere://tracker")
    result = CliRunner().invoke(main, detect)
    assert result.exit_code == 0 and json.loads(result.output.splitlines()[-1])["detected"] == len(ANSWERS)
    assert "rates not logged to MLflow at nowhere://tracker" in caplog.text

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert CliRunner().invoke(main, detect).exit_code == 0
    client, tracked = _the_mlflow_run(workspace, "run-x")
    [rate] = client.get_metric_history(tracked.info.run_id, "lexical/hallucination_rate")
    assert rate.step == 3 and rate.value == pytest.approx(checkpoint_rates(workspace, "run-x", "lexical")[0]["estimate"])


class FailAtStep(TrainerCallback):
    def __init__(self, error: BaseException):
        self.error = error

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 2:
            raise self.error


@pytest.mark.parametrize("error, run_status, mlflow_status", [(RuntimeError("out of memory"), "failed", "FAILED"),
                                                              (KeyboardInterrupt(), "cancelled", "KILLED")])
def test_a_fine_tune_that_crashes_or_is_stopped_is_not_left_running_in_mlflow(workspace, tmp_path, error,
                                                                              run_status, mlflow_status):
    base = make_tiny_model(tmp_path / "base")
    config = TrainConfig(base_model=str(base), train_file="records.jsonl", max_steps=6, save_every=3, eval_every=3,
                         batch_size=4, learning_rate=5e-3, report_to=("mlflow",), name="crashing")
    with pytest.raises(type(error)):
        finetune(workspace, config, records=RECORDS, callbacks=[FailAtStep(error)])
    [run] = workspace.runs()
    assert run.status == run_status
    _, tracked = _the_mlflow_run(workspace, run.id)
    assert tracked.info.status == mlflow_status
