"""Background jobs report progress, logs and errors through the store, and can be cancelled."""
import errno
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from hallu_core.jobs.runner import cancel_job, refresh_jobs, run_job, start_job, wait_for
from hallu_core.store.types import Job


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
    with pytest.raises(ValueError, match="unknown job kind"):
        start_job(store, "os:system", {})


@pytest.fixture
def stranger():
    """A live process that is not a job's, in its own process group, as a pid reused after a reboot would be."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def _job_on(store, job_id, process) -> Job:
    """A "running" job whose stored pid is now `process`'s; the job's own process had started an hour earlier."""
    started = psutil.Process(process.pid).create_time() - 3600
    return store.add_job(Job(job_id, "finetune", {}, status="running", pid=process.pid, pid_started_at=started))


def test_cancel_never_signals_a_process_that_took_over_the_jobs_pid(store, stranger):
    _job_on(store, "job-before-reboot", stranger)
    cancel_job(store, "job-before-reboot")
    time.sleep(0.5)
    assert stranger.poll() is None, "Cancel signalled a process that is not the job's"
    job = store.get_job("job-before-reboot")
    assert job.status == "interrupted" and job.finished_at is not None


def test_a_job_whose_pid_was_reused_is_marked_interrupted(store, stranger):
    _job_on(store, "job-before-reboot", stranger)
    (job,) = refresh_jobs(store)
    assert job.status == "interrupted"
    assert job.error == "the job's process ended without finishing"
    assert stranger.poll() is None


def test_a_running_job_keeps_its_pid_and_start_time(store):
    job_id = start_job(store, "tests.helpers.job_kinds:count", {"total": 1000, "sleep": 0.05}, custom=True)
    _wait_until_running(store, job_id)
    job = store.get_job(job_id)
    assert job.pid_started_at == pytest.approx(psutil.Process(job.pid).create_time(), abs=1.0)
    assert refresh_jobs(store)[0].status == "running"  # its own process: not mistaken for a reused pid
    cancel_job(store, job_id)
    assert wait_for(store, job_id, 60).status == "cancelled"


def test_a_job_whose_process_cannot_start_is_failed_not_left_queued(store, monkeypatch):
    def no_process(*args, **kwargs):
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    with pytest.raises(OSError, match="Resource temporarily unavailable"):
        start_job(store, "tests.helpers.job_kinds:count", {"total": 3}, custom=True)
    (job,) = refresh_jobs(store)
    assert job.status == "failed" and job.finished_at is not None
    assert job.error == "cannot start the job's process: BlockingIOError: [Errno 11] Resource temporarily unavailable"


def test_a_job_cancelled_before_its_process_starts_never_runs(store):
    store.add_job(Job("job-early", "tests.helpers.job_kinds:count", {"total": 3}))  # queued, no process yet
    cancel_job(store, "job-early")
    job = run_job(store, "job-early")  # what its process does once it starts
    assert job.status == "cancelled" and job.done == 0 and job.started_at is None


def test_the_job_process_gets_hallus_openmp_setting_and_the_users_own_wins(store, monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    args = {"names": ["OMP_WAIT_POLICY"]}
    job = wait_for(store, start_job(store, "tests.helpers.job_kinds:environment", args, custom=True), 60)
    assert "OMP_WAIT_POLICY=PASSIVE" in job.log, job.log
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    job = wait_for(store, start_job(store, "tests.helpers.job_kinds:environment", args, custom=True), 60)
    assert "OMP_WAIT_POLICY=ACTIVE" in job.log, job.log


def _wait_until_running(store, job_id):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = store.get_job(job_id)
        if job.status == "running" and job.done > 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"job never started: {store.get_job(job_id)}")
