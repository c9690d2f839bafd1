"""A cancel is never swallowed: wherever the job's process is when Cancel's SIGTERM arrives (a model load, the
demo's detector loop, a log write), the job ends "cancelled", not "failed" or "done", and no further work runs.

Each test runs the job in this process (`run_job`, as the job's own process does) and sends the SIGTERM that
`cancel_job` sends at the moment under test."""
from __future__ import annotations

import logging
import os
import signal

import pytest

from hallu_core.jobs.runner import run_job
from hallu_core.store.types import Job


def press_cancel() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # run_job's handler raises JobCancelled at the next bytecode


@pytest.fixture
def run_here(store):
    """Run a test job kind in this process; put back the SIGTERM handler and root logger run_job sets."""
    root = logging.getLogger()
    level, handler = root.level, signal.getsignal(signal.SIGTERM)

    def run(kind: str, args: dict) -> Job:
        store.add_job(Job(f"job-{kind}", f"tests.helpers.job_kinds:{kind}", args))
        return run_job(store, f"job-{kind}")

    yield run
    signal.signal(signal.SIGTERM, handler)
    root.setLevel(level)


def test_a_cancel_during_model_load_is_cancelled_not_a_failed_load(run_here, monkeypatch):
    pytest.importorskip("transformers")
    from hallu_core.modeling import models

    class CancelledWhileLoading:
        @staticmethod
        def from_pretrained(location, **kwargs):
            press_cancel()
            raise AssertionError("the cancel should have stopped the load")

    monkeypatch.setattr(models, "AutoConfig", CancelledWhileLoading)
    job = run_here("load_model", {"location": "some/model"})
    assert (job.status, job.error) == ("cancelled", None)
    assert job.message == "cancelled by the user" and job.done == 0  # nothing ran after the load
    assert "ModelLoadError" not in job.log


def test_a_cancel_during_the_demo_detectors_stops_the_demo(run_here, monkeypatch):
    from hallu_core.demo import demo_report

    ran = []

    def detection(store, name, run_id):
        ran.append(name)
        if name == "lexical":
            press_cancel()
        return {"detected": 1, "flagged": 0}

    monkeypatch.setattr(demo_report, "run_detection", detection)
    job = run_here("demo_detectors", {"run_id": "r", "detectors": ["lexical", "default", "span"]})
    assert (job.status, job.error) == ("cancelled", None)
    assert ran == ["lexical"]  # the next detectors never ran
    assert "skipped" not in job.log


def test_a_cancel_while_the_job_writes_its_log_stops_the_job(run_here, store, monkeypatch):
    append = store.append_job_log

    def append_then_cancel(job_id, text):
        append(job_id, text)
        if "step 1" in text:
            press_cancel()

    monkeypatch.setattr(store, "append_job_log", append_then_cancel)
    job = run_here("log_steps", {"steps": 3})
    assert (job.status, job.error) == ("cancelled", None)
    assert "step 1" in job.log and "step 2" not in job.log and job.done == 0
