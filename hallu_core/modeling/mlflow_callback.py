"""The Trainer's side of MLflow tracking (mlflow_tracking.py): apart, so that logging rates after a detection
never imports transformers."""
from __future__ import annotations

import logging

from transformers import TrainerCallback

from hallu_core.modeling import mlflow_tracking
from hallu_core.store.database import Store

log = logging.getLogger(__name__)


class MlflowCallback(TrainerCallback):
    """Logs a fine-tune to its MLflow run (mlflow_tracking.py): the config as it starts, `metrics` (the names of
    the Trainer's logs to keep) as they come."""

    def __init__(self, store: Store, run_id: str, config: dict, run_name: str, metrics: tuple[str, ...]):
        self.store, self.run_id, self.config, self.run_name, self.metrics = store, run_id, config, run_name, metrics
        self.tracker = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.tracker = mlflow_tracking.tracker(self.store, self.run_id, self.run_name)
        if self.tracker:
            self.tracker.log_params(self.config)  # a resume has the same config (the run id is its hash)
            self.tracker.client.update_run(self.tracker.mlflow_run_id, status="RUNNING")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.tracker and logs:
            self.tracker.log_metrics((k, v, state.global_step) for k, v in logs.items()
                                     if k in self.metrics and v is not None)

    def on_train_end(self, args, state, control, **kwargs):
        if self.tracker:
            stopped_early = state.global_step < state.max_steps
            self.tracker.client.set_terminated(self.tracker.mlflow_run_id, "KILLED" if stopped_early else "FINISHED")

    def end(self, status: str) -> None:
        """Close the MLflow run as `status` (FAILED, KILLED) when training stops without on_train_end: an
        exception or a cancel would otherwise leave it RUNNING for good. Never raises over the real error."""
        if self.tracker:
            try:
                self.tracker.client.set_terminated(self.tracker.mlflow_run_id, status)
            except Exception as exc:  # the tracking store is down: the training error is the one to report
                log.warning("could not mark MLflow run %s %s: %s", self.tracker.mlflow_run_id, status, exc)


def end_tracking(trainer, status: str) -> None:
    """`MlflowCallback.end` for the trainer's MLflow callback, if there is a trainer and it has one."""
    for callback in trainer.callback_handler.callbacks if trainer is not None else ():
        if isinstance(callback, MlflowCallback):
            callback.end(status)
