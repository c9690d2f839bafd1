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

from hallu_core.errors import JobCancelled
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


def start_job(store: Store, kind: str, args: dict, *, custom: bool = False) -> str:
    """Queue a job and start its process; `custom` allows a "module:function" kind (tests, plug-ins)."""
    if kind not in JOB_KINDS and not (custom and ":" in kind):
        raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(JOB_KINDS)}")
    job = store.add_job(Job(id=uuid.uuid4().hex[:12], kind=kind, args=args))
    log_dir = store.artifacts / "jobs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{job.id}.out", "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hallu_core.jobs.runner", str(store.root), job.id],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: cancel stops its children too
        )
    store.update_job(job.id, pid=process.pid)
    return job.id


def cancel_job(store: Store, job_id: str) -> None:
    job = store.get_job(job_id)
    if job is None or job.status in FINISHED:
        return
    if job.pid and _alive(job.pid):
        try:
            os.killpg(job.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    else:
        store.update_job(job_id, status="cancelled", finished_at=now())


def refresh_jobs(store: Store) -> list[Job]:
    """Mark jobs whose process died without finishing (SIGKILL, reboot) as interrupted."""
    jobs = store.jobs()
    for job in jobs:
        if job.status in ("queued", "running") and job.pid and not _alive(job.pid):
            store.update_job(job.id, status="interrupted", finished_at=now(),
                             error=job.error or "the job's process ended without finishing")
    return store.jobs()


def wait_for(store: Store, job_id: str, timeout: float = 600, poll: float = 0.2) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        refresh_jobs(store)
        job = store.get_job(job_id)
        if job.status in FINISHED:
            return job
        time.sleep(poll)
    raise TimeoutError(f"job {job_id} still {store.get_job(job_id).status} after {timeout}s")


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
        except Exception:  # logging must never break the job
            pass


def run_job(store: Store, job_id: str) -> Job:
    job = store.get_job(job_id)
    target = job.kind if ":" in job.kind else JOB_KINDS[job.kind]
    module, function = target.split(":")
    handler = _StoreLogHandler(store, job_id)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)

    def on_term(signum, frame):
        raise JobCancelled()

    signal.signal(signal.SIGTERM, on_term)
    store.update_job(job_id, status="running", pid=os.getpid(), started_at=now())
    try:
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
    run_job(Store(sys.argv[1]), sys.argv[2])
