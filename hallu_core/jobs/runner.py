"""Background jobs: long work runs in its own process, its state lives in the store.

A page or the CLI calls `start_job`; a detached `python -m hallu_core.jobs.runner` process
runs the job function with a `progress(done, total, message)` that writes to the
store, so the dashboard can poll it, and a script rerun never kills the work.
"""
from __future__ import annotations

import importlib
import logging
import os
import signal
import subprocess
import sys
import time
import traceback
import uuid
from typing import Callable

import psutil

from hallu_core import set_process_defaults
from hallu_core.errors import JobCancelled
from hallu_core.store.codec import json_text
from hallu_core.store.database import Store
from hallu_core.store.types import Job, now

log = logging.getLogger(__name__)

# kind -> "module:function"; each function is fn(store, args: dict, progress) -> dict | None
JOB_KINDS = {
    "import": "hallu_core.jobs.tasks:import_job",
    "demo": "hallu_core.jobs.tasks:demo_job",
    "finetune": "hallu_core.jobs.tasks:finetune_job",
    "distill": "hallu_core.jobs.tasks:distill_job",
    "generate": "hallu_core.jobs.tasks:generate_job",
    "detect": "hallu_core.jobs.tasks:detect_job",
    "train-detector": "hallu_core.detection.label_training:train_detector_job",
    "calibrate": "hallu_core.detection.workspace_calibration:calibrate_job",
}
FINISHED = ("done", "failed", "cancelled", "interrupted")
# a process's start time is computed from the boot time, which a clock adjustment can move by a second
START_SLACK = 1.0
# start_job(once=True), as the dashboard asks: an identical job (kind and args) asked for again this soon after
# one that has not failed is a double click or a second submit of the same form, refused so one click never
# starts two jobs (a quick job may be done before the second click arrives; a failed one may be retried at once)
REPEAT_WINDOW = 30.0


class DuplicateJob(ValueError):
    """An identical job was queued moments ago and has not failed; `job_id` is that job."""

    def __init__(self, job_id: str, kind: str):
        super().__init__(f"an identical {kind} job ({job_id}) was started moments ago: not starting it twice")
        self.job_id = job_id


def start_job(store: Store, kind: str, args: dict, *, custom: bool = False, once: bool = False) -> str:
    """Queue a job and start its process; `custom` allows a "module:function" kind (tests, plug-ins);
    `once` refuses a repeat of an identical job started moments ago (DuplicateJob; see REPEAT_WINDOW)."""
    if kind not in JOB_KINDS and not (custom and ":" in kind):
        raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(JOB_KINDS)}")
    job = Job(id=uuid.uuid4().hex[:12], kind=kind, args=args)
    job = _add_once(store, job) if once else store.add_job(job)
    log_dir = store.artifacts / "jobs"
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / f"{job.id}.out", "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "hallu_core.jobs.runner", str(store.root), job.id],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: cancel stops its children too
            )
    except OSError as exc:  # no memory, no free process slot, a full disk: the job never ran
        store.update_job(job.id, status="failed", finished_at=now(),
                         error=f"cannot start the job's process: {type(exc).__name__}: {exc}")
        raise
    store.update_job(job.id, pid=process.pid, pid_started_at=_started(process.pid))
    return job.id


def _add_once(store: Store, job: Job) -> Job:
    """Store `job` unless an identical one was queued within REPEAT_WINDOW and has not failed (DuplicateJob).
    The check and the insert are one write transaction: two submits racing each other store one job."""
    with store.transaction() as conn:
        same = conn.execute("SELECT id FROM jobs WHERE kind = ? AND args = ? AND created_at > ? AND status IN "
                            "('queued', 'running', 'done') ORDER BY created_at LIMIT 1",
                            (job.kind, json_text(job.args), job.created_at - REPEAT_WINDOW)).fetchone()
        if same:
            raise DuplicateJob(same[0], job.kind)
        return store.add_job(job)


def cancel_job(store: Store, job_id: str) -> None:
    job = store.get_job(job_id)
    if job is None or job.status in FINISHED:
        return
    if job.pid is None:  # not started yet: its process will see the status and not run
        store.update_job(job_id, status="cancelled", finished_at=now())
    elif _runs_the_job(job):
        try:
            os.killpg(job.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    else:  # never signal a pid that is no longer the job's: after a reboot it may be anyone's
        _mark_interrupted(store, job)


def refresh_jobs(store: Store) -> list[Job]:
    """Mark jobs whose process died without finishing (SIGKILL, reboot) as interrupted."""
    for job in store.jobs():
        if job.status in ("queued", "running") and job.pid and not _runs_the_job(job):
            _mark_interrupted(store, job)
    return store.jobs()


def _mark_interrupted(store: Store, job: Job) -> None:
    store.update_job(job.id, status="interrupted", finished_at=now(),
                     error=job.error or "the job's process ended without finishing")


def wait_for(store: Store, job_id: str, timeout: float = 600, poll: float = 0.2) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        refresh_jobs(store)
        job = store.get_job(job_id)
        if job.status in FINISHED:
            return job
        time.sleep(poll)
    raise TimeoutError(f"job {job_id} still {store.get_job(job_id).status} after {timeout}s")


def _runs_the_job(job: Job) -> bool:
    """Whether the job's own process still runs: its pid is alive and, where its start time was recorded, the
    process with that pid started then (a pid reused after the job died, or after a reboot, did not)."""
    if not job.pid or not _alive(job.pid):
        return False
    if job.pid_started_at is None:  # a job recorded before start times were
        return True
    started = _started(job.pid)
    return started is not None and abs(started - job.pid_started_at) < START_SLACK


def _started(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch); None when there is none or it is not ours to see."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap our own finished children
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def store_progress(store: Store, job_id: str, every: float = 0.3) -> Callable[[int, int, str], None]:
    """A progress callable that writes at most every `every` seconds (and always the last step)."""
    last = [0.0]

    def progress(done: int, total: int, message: str = "") -> None:
        if time.monotonic() - last[0] >= every or (total and done >= total):
            last[0] = time.monotonic()
            store.update_job(job_id, done=int(done), total=int(total), message=str(message)[:500])

    return progress


class _StoreLogHandler(logging.Handler):
    def __init__(self, store: Store, job_id: str):
        super().__init__(logging.INFO)
        self.store, self.job_id = store, job_id
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.store.append_job_log(self.job_id, self.format(record) + "\n")
        except Exception:  # logging must never break the job; a cancel (no Exception) still stops it
            pass


def run_job(store: Store, job_id: str) -> Job:
    job = store.get_job(job_id)
    if job.status != "queued":  # cancelled before its process started
        return job
    target = job.kind if ":" in job.kind else JOB_KINDS[job.kind]
    module, function = target.split(":")
    handler = _StoreLogHandler(store, job_id)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)

    def on_term(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second Cancel must not break the clean-up
        raise JobCancelled()

    signal.signal(signal.SIGTERM, on_term)
    try:
        store.update_job(job_id, status="running", pid=os.getpid(), pid_started_at=_started(os.getpid()),
                         started_at=now())
        result = getattr(importlib.import_module(module), function)(store, job.args, store_progress(store, job_id))
        if result:
            log.info("result: %s", result)
        store.update_job(job_id, status="done", finished_at=now())
    except JobCancelled:
        store.update_job(job_id, status="cancelled", finished_at=now(), message="cancelled by the user")
    except Exception as exc:
        store.append_job_log(job_id, traceback.format_exc())
        store.update_job(job_id, status="failed", finished_at=now(), error=f"{type(exc).__name__}: {exc}")
    finally:
        logging.getLogger().removeHandler(handler)
    return store.get_job(job_id)


if __name__ == "__main__":
    set_process_defaults()  # before the job function first imports torch
    run_job(Store(sys.argv[1]), sys.argv[2])
