"""Background jobs report progress, logs and errors through the store, and can be cancelled."""
import os
import signal
import time

from hallu_core.jobs.runner import cancel_job, refresh_jobs, start_job, wait_for


def test_job_runs_in_its_own_process_and_reports_progress(store):
    job_id = start_job(store, "tests.helpers.job_kinds:count", {"total": 5}, custom=True)
    job = wait_for(store, job_id, timeout=60)
    assert job.status == "done"
    assert (job.done, job.total) == (5, 5)
    assert "counted to 5" in job.log
    assert job.pid != os.getpid()


def test_failed_job_keeps_its_error_and_traceback(store):
    job = wait_for(store, start_job(store, "tests.helpers.job_kinds:fail", {"value": 7}, custom=True), 60)
    assert job.status == "failed"
    assert job.error == "ValueError: bad value 7"
    assert "Traceback" in job.log
    assert (job.done, job.message) == (1, "about to fail")


def test_cancel_stops_a_running_job(store):
    job_id = start_job(store, "tests.helpers.job_kinds:count", {"total": 1000, "sleep": 0.05}, custom=True)
    _wait_until_running(store, job_id)
    cancel_job(store, job_id)
    job = wait_for(store, job_id, 60)
    assert job.status == "cancelled"
    assert job.done < 1000


def test_killed_job_is_marked_interrupted_with_its_last_progress(store):
    job_id = start_job(store, "tests.helpers.job_kinds:count", {"total": 1000, "sleep": 0.05}, custom=True)
    _wait_until_running(store, job_id)
    os.kill(store.get_job(job_id).pid, signal.SIGKILL)
    job = wait_for(store, job_id, 60)
    assert job.status == "interrupted"
    assert job.done > 0
    assert [j.status for j in refresh_jobs(store)] == ["interrupted"]


def test_unknown_kind_is_refused(store):
    import pytest

    with pytest.raises(ValueError, match="unknown job kind"):
        start_job(store, "os:system", {})


def _wait_until_running(store, job_id):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = store.get_job(job_id)
        if job.status == "running" and job.done > 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"job never started: {store.get_job(job_id)}")
