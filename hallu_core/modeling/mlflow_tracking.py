"""MLflow tracking of fine-tuning runs: `report_to: ["mlflow"]`, with the optional extra `hallu[mlflow]`.

One Hallu run is one MLflow run, found again by its tag `hallu.run_id`, so a resumed fine-tune and the
rates logged after each detection land in the same one. It holds the run's config (params) and the
Trainer's losses per step (metrics; mlflow_callback.py's MlflowCallback), and, whenever a detector has run over
the run's outputs, each checkpoint's hallucination rate with its interval (hallu_core.rates.tracking).

The tracking store is `sqlite:///<workspace>/mlflow.db` (offline, no server: `mlflow ui --backend-store-uri`
reads it) unless MLFLOW_TRACKING_URI names another; the experiment is `hallu` unless
MLFLOW_EXPERIMENT_NAME names another.
"""
from __future__ import annotations

import json
import logging
import os
import time
from typing import Iterable

from hallu_core.store.database import Store

log = logging.getLogger(__name__)
RUN_TAG = "hallu.run_id"
DEFAULT_EXPERIMENT = "hallu"
MISSING = "report_to mlflow asked for, but mlflow is not installed: skipped (pip install 'hallu[mlflow]')"


def tracking_uri(store: Store) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(store.root / 'mlflow.db').resolve()}"


def wants_mlflow(config: dict) -> bool:
    return "mlflow" in (config.get("report_to") or ())


class Tracker:
    """The MLflow run of one Hallu run (created on first use)."""

    def __init__(self, store: Store, run_id: str, run_name: str):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=tracking_uri(store))
        self.experiment_id = self._experiment(store)
        found = self.client.search_runs([self.experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{run_id}'",
                                        max_results=1)
        self.mlflow_run_id = found[0].info.run_id if found else self.client.create_run(
            self.experiment_id, run_name=run_name, tags={RUN_TAG: run_id, "hallu.workspace": str(store.root)}
        ).info.run_id

    def _experiment(self, store: Store) -> str:
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        # artifacts (none logged today) stay in the workspace, not in ./mlruns of whatever folder Hallu started in
        location = (store.root / "mlruns").resolve().as_uri() if "MLFLOW_TRACKING_URI" not in os.environ else None
        return self.client.create_experiment(name, artifact_location=location)

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        self.client.log_batch(self.mlflow_run_id, params=[
            Param(key, value if isinstance(value, str) else json.dumps(value)) for key, value in params.items()])

    def log_metrics(self, metrics: Iterable[tuple[str, float, int]]) -> None:
        """(key, value, step) triples, one timestamp."""
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        batch = [Metric(key, float(value), stamp, int(step)) for key, value, step in metrics]
        for start in range(0, len(batch), 1000):  # MLflow takes at most 1000 metrics a batch
            self.client.log_batch(self.mlflow_run_id, metrics=batch[start:start + 1000])

    def latest_at_steps(self, key: str) -> dict[int, float]:
        """The newest value logged for `key` at each step."""
        newest: dict[int, tuple[int, float]] = {}
        for m in self.client.get_metric_history(self.mlflow_run_id, key):
            if m.step not in newest or m.timestamp >= newest[m.step][0]:
                newest[m.step] = (m.timestamp, m.value)
        return {step: value for step, (_, value) in newest.items()}


def tracker(store: Store, run_id: str, run_name: str) -> Tracker | None:
    try:
        return Tracker(store, run_id, run_name)
    except ImportError:
        log.warning(MISSING)
        return None
