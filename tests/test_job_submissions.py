"""One submit starts one job: the dashboard's `start_job(once=True)` refuses an identical job asked for moments
after one that has not failed (a double click, Enter then the button), in the store's own write transaction."""
import threading

import pytest

from hallu_core.jobs.runner import DuplicateJob, cancel_job, start_job, wait_for

SLOW = "tests.helpers.job_kinds:count"


def _stop(store, *job_ids):
    for job_id in job_ids:
        cancel_job(store, job_id)
        wait_for(store, job_id, 60)


def test_a_second_identical_submit_is_refused_and_names_the_first_job(store):
    first = start_job(store, SLOW, {"total": 1000, "sleep": 0.05}, custom=True, once=True)
    with pytest.raises(DuplicateJob) as refused:
        start_job(store, SLOW, {"sleep": 0.05, "total": 1000}, custom=True, once=True)  # same args, other order
    assert refused.value.job_id == first
    assert "not starting it twice" in str(refused.value)
    other = start_job(store, SLOW, {"total": 999, "sleep": 0.05}, custom=True, once=True)  # other settings: a job
    assert [j.id for j in store.jobs()] == [other, first]
    _stop(store, first, other)


def test_a_failed_job_may_be_retried_at_once(store):
    failed = wait_for(store, start_job(store, "tests.helpers.job_kinds:fail", {"value": 7}, custom=True, once=True))
    assert failed.status == "failed"
    again = start_job(store, "tests.helpers.job_kinds:fail", {"value": 7}, custom=True, once=True)
    assert again != failed.id
    wait_for(store, again, 60)


def test_two_racing_submits_store_one_job(store):
    """Two script runs of one session (a double click) or two tabs submitting in the same instant."""
    started, refused, barrier = [], [], threading.Barrier(4)

    def submit():
        barrier.wait()
        try:
            started.append(start_job(store, SLOW, {"total": 1000, "sleep": 0.05}, custom=True, once=True))
        except DuplicateJob as exc:
            refused.append(exc.job_id)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(started) == 1 and refused == started * 3
    assert len(store.jobs()) == 1
    _stop(store, *started)


def test_without_once_identical_jobs_still_start(store):
    """The CLI and the API start what they are asked to (a script may run one job twice on purpose)."""
    first = start_job(store, SLOW, {"total": 1000, "sleep": 0.05}, custom=True)
    second = start_job(store, SLOW, {"total": 1000, "sleep": 0.05}, custom=True)
    assert first != second and len(store.jobs()) == 2
    _stop(store, first, second)
