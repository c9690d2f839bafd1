"""Rates exported to MLflow: after a detector runs, each checkpoint's hallucination rate with its interval
goes to the MLflow run of every fine-tune that reports there (`report_to: ["mlflow"]`;
hallu_core.modeling.mlflow_tracking), at the checkpoint's step: `<detector>/hallucination_rate`,
`<detector>/hallucination_rate_ci_low`, `<detector>/hallucination_rate_ci_high`, `<detector>/outputs`
and `<detector>/labeled`, with the estimation method as the tag `<detector>/rate_method`.
"""
from __future__ import annotations

import logging
from typing import Iterable

from hallu_core.modeling.mlflow_tracking import tracker, tracking_uri, wants_mlflow
from hallu_core.rates.table import checkpoint_rates
from hallu_core.store.connection import marks
from hallu_core.store.database import Store

log = logging.getLogger(__name__)
RATE_METRICS = {"estimate": "hallucination_rate", "ci_low": "hallucination_rate_ci_low",
                "ci_high": "hallucination_rate_ci_high", "n": "outputs", "labeled": "labeled"}


def log_rates(store: Store, detector: str, run_ids: Iterable[str]) -> None:
    """After `detector` ran: each listed run that reports to MLflow gets its checkpoints' rates by that detector
    (every person's labels folded in), at each checkpoint's step; a figure unchanged since it was last logged
    is not logged again."""
    for run in filter(None, map(store.get_run, run_ids)):
        if not wants_mlflow(run.config):
            continue
        track = tracker(store, run.id, run.name)
        if track is None:
            return
        rows = [r for r in checkpoint_rates(store, run.id, detector) if r["estimate"] is not None
                and r["step"] is not None]
        metrics = []
        for field, name in RATE_METRICS.items():
            key = f"{detector}/{name}"
            logged = track.latest_at_steps(key)
            metrics += [(key, r[field], r["step"]) for r in rows
                        if r[field] is not None and logged.get(r["step"]) != float(r[field])]
        track.log_metrics(metrics)
        methods = sorted({r["method"] for r in rows if r.get("method")})
        if methods:
            track.client.set_tag(track.mlflow_run_id, f"{detector}/rate_method", ", ".join(methods))


def log_rates_after_detection(store: Store, detector: str, run_id: str | None = None,
                              checkpoint_ids: list[str] | None = None) -> None:
    """`log_rates` for the runs a detection covered (a run, some checkpoints, or every run) that report to MLflow."""
    if run_id:
        run_ids = [run_id]
    elif checkpoint_ids:
        run_ids = [r[0] for r in store.query(
            f"SELECT DISTINCT run_id FROM checkpoints WHERE id IN ({marks(checkpoint_ids)})", list(checkpoint_ids))]
    else:
        run_ids = [r.id for r in store.runs()]
    try:
        log_rates(store, detector, run_ids)
    except Exception as exc:  # noqa: BLE001 - a tracker that is down must not fail a detection already stored
        log.warning("rates not logged to MLflow at %s: %s: %s", tracking_uri(store), type(exc).__name__, exc)
