"""SIGKILL of fine-tune and generation jobs at random points; missing or corrupt checkpoints.

What a user relies on: a job killed at any moment (OOM killer, reboot, `kill -9`) leaves
the workspace consistent (SQLite integrity ok, no half-written rows), shows as
interrupted with the progress it had reached, and running it again resumes: the
fine-tune from its last checkpoint, generation without duplicating what exists.
A checkpoint folder that is gone or damaged gives a clear error, not a traceback only.
Tiny models (tens of thousands of parameters) keep each job to seconds.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from hallu_core.modeling.config import DecodingConfig, GenerateConfig, TrainConfig  # noqa: E402
from hallu_core.demo.base_model import make_tiny_model  # noqa: E402
from hallu_core.jobs.runner import cancel_job, refresh_jobs, start_job, wait_for  # noqa: E402
from hallu_core.store.database import Store  # noqa: E402
from hallu_core.modeling.train import run_id_for  # noqa: E402
from hallu_core.store.types import Checkpoint, Example, Run  # noqa: E402

pytestmark = pytest.mark.slow
RNG = random.Random(int(os.environ.get("HALLU_FAULT_SEED", "7")))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("faults") / "base", pretrain_steps=10)


def _integrity(store: Store) -> str:
    return store.query("PRAGMA integrity_check")[0][0]


def _kill_when(store: Store, job_id: str, min_done: int, timeout: float = 120) -> int:
    """SIGKILL the job's process once it has reported `min_done` progress; returns that progress."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = store.get_job(job_id)
        if job.status in ("done", "failed"):
            pytest.fail(f"the job finished before it could be killed: {job.status} {job.error}")
        if job.status == "running" and job.done >= min_done and job.pid:
            os.kill(job.pid, signal.SIGKILL)
            return job.done
        time.sleep(0.02)
    pytest.fail(f"the job never reached {min_done}: {store.get_job(job_id)}")


def _records(tmp_path, n=40):
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Question: Where was person {i} born?\nAnswer:",
                                        "completion": f" Person {i} was born in Lindor."}) + "\n"
                            for i in range(n)), encoding="utf-8")
    return path


def test_killed_finetune_is_interrupted_and_resumes_from_its_last_checkpoint(tmp_path, tiny_dir):
    store = Store(tmp_path / "ws")
    # 120 steps: progress is written at most every 0.3 s, so a shorter run on an idle machine could
    # finish between two writes before the kill point is ever seen
    config = TrainConfig(base_model=str(tiny_dir), train_file=str(_records(tmp_path)), max_steps=120, save_every=4,
                         eval_every=4, batch_size=4, learning_rate=5e-3, val_fraction=0.2, report_to=(),
                         name="fault-run")
    job_id = start_job(store, "finetune", {"config": config.to_dict()})
    reached = _kill_when(store, job_id, min_done=RNG.randint(6, 20))
    job = wait_for(store, job_id, timeout=60)
    assert job.status == "interrupted" and job.done >= reached > 0 and job.total == 120
    assert _integrity(store) == "ok"
    run = store.runs()[0]
    saved = [c.step for c in store.checkpoints(run.id)]
    assert saved == sorted(set(saved)) and saved[0] == 0 and len(saved) > 1  # whole checkpoints, no duplicate
    registered = {c.step: c.created_at for c in store.checkpoints(run.id)}

    again = wait_for(store, start_job(store, "finetune", {"config": config.to_dict()}), timeout=300)
    assert again.status == "done", again.error
    steps = [c.step for c in store.checkpoints(run.id)]
    assert steps == sorted(set(steps)) and steps[-1] == 120
    # resumed, not restarted from step 0: the steps saved before the kill were not trained and saved again
    assert {c.step: c.created_at for c in store.checkpoints(run.id) if c.step in registered} == registered
    resaved = [int(n) for n in re.findall(r"checkpoint checkpoint-(\d+) registered", again.log)]
    assert resaved and min(resaved) > max(saved), resaved
    assert store.get_run(run.id).status == "done"
    assert _integrity(store) == "ok"


def test_a_cancelled_finetune_job_is_cancelled_not_failed(tmp_path, tiny_dir):
    """`cancel_job` sends SIGTERM, as the dashboard's Cancel button does: the job and its run say cancelled."""
    store = Store(tmp_path / "ws")
    config = TrainConfig(base_model=str(tiny_dir), train_file=str(_records(tmp_path)), max_steps=400, save_every=50,
                         eval_every=50, batch_size=4, val_fraction=0.2, report_to=(), name="cancel-run")
    job_id = start_job(store, "finetune", {"config": config.to_dict()})
    deadline = time.monotonic() + 120
    while store.get_job(job_id).done < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    cancel_job(store, job_id)
    job = wait_for(store, job_id, timeout=60)
    assert job.status == "cancelled" and job.error is None
    assert store.get_run(run_id_for(config)).status == "cancelled"
    assert _integrity(store) == "ok"


@pytest.fixture
def gen_store(tmp_path, tiny_dir):
    store = Store(tmp_path / "ws")
    store.add_run(Run("r", "tiny", str(tiny_dir)))
    model_dir = store.artifacts / "models" / "tiny"
    shutil.copytree(tiny_dir, model_dir)
    store.add_checkpoint(Checkpoint("ck", "r", 0, "base", store.relpath(model_dir)))
    store.add_examples([Example(f"e{i:03d}", "d", f"Person {i} was born in") for i in range(96)])
    return store, model_dir


def _generate_config(batch_size=4):
    return GenerateConfig(checkpoints=("ck",), dataset="d", batch_size=batch_size,
                          decodings=(DecodingConfig(strategy="greedy", max_new_tokens=24),
                                     DecodingConfig(strategy="sample", num_samples=2, max_new_tokens=16, seed=1)))


def test_killed_generation_keeps_whole_rows_and_a_rerun_adds_no_duplicates(gen_store):
    store, _ = gen_store
    config = _generate_config()
    expected = 96 * 3  # greedy + 2 samples per prompt
    kills = 0
    for _ in range(2):  # kill it twice at random points, then let it finish
        job_id = start_job(store, "generate", {"config": config.to_dict()})
        _kill_when(store, job_id, min_done=RNG.randint(4, 40))
        job = wait_for(store, job_id, timeout=60)
        assert job.status == "interrupted" and job.done > 0
        kills += 1
        assert _integrity(store) == "ok"
        for g in store.generations():  # every stored row is whole: text and its token offsets agree
            assert all(0 <= t.start <= t.end <= len(g.text) for t in g.tokens)
        assert store.counts()["generations"] < expected
    before = store.counts()["generations"]
    final = wait_for(store, start_job(store, "generate", {"config": config.to_dict()}), timeout=300)
    assert final.status == "done", final.error
    ids = [g.id for g in store.generations()]
    assert len(ids) == len(set(ids)) == expected
    assert store.counts()["generations"] - before == expected - before  # only what was missing
    assert f"'generated': {expected - before}, 'skipped': {before}," in final.log  # it knew what existed
    assert kills == 2 and [j.status for j in refresh_jobs(store)].count("interrupted") == 2


def test_a_missing_checkpoint_folder_is_a_clear_job_error(gen_store):
    store, model_dir = gen_store
    shutil.rmtree(model_dir)
    job = wait_for(store, start_job(store, "generate", {"config": _generate_config().to_dict()}), timeout=120)
    assert job.status == "failed"
    assert "missing" in job.error and str(model_dir) in job.error
    assert store.counts()["generations"] == 0 and _integrity(store) == "ok"


@pytest.mark.parametrize("damage", ["config", "weights"])
def test_a_corrupt_checkpoint_folder_is_a_clear_job_error(gen_store, damage):
    store, model_dir = gen_store
    if damage == "config":
        (model_dir / "config.json").write_text("{ not json", encoding="utf-8")
    else:
        for weights in list(model_dir.glob("*.safetensors")) + list(model_dir.glob("*.bin")):
            weights.write_bytes(b"\x00garbage" * 10)
    job = wait_for(store, start_job(store, "generate", {"config": _generate_config().to_dict()}), timeout=120)
    assert job.status == "failed"
    assert job.error and len(job.error) < 2000
    assert str(model_dir) in job.error or "checkpoint" in job.error.lower(), job.error
    assert store.counts()["generations"] == 0 and _integrity(store) == "ok"
