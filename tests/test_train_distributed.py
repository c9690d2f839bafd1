"""The distributed path for real: `accelerate launch -m hallu_core.modeling.train CONFIG --workspace DIR` with two
processes on CPU (DDP over gloo) fine-tunes to completion and stores exactly one run, its checkpoints saved once."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hallu_core.demo.base_model import make_tiny_model
from hallu_core.modeling.config import TrainConfig
from hallu_core.modeling.train import is_main_process, run_dir, run_id_for
from hallu_core.store.database import Store

REPO = Path(__file__).resolve().parent.parent
ACCELERATE = Path(sys.executable).with_name("accelerate")
RECORDS = [{"prompt": f"Question: Where was person {i} born?\nAnswer:", "completion": f" Person {i} was born in Lindor."}
           for i in range(24)]

needs_launcher = pytest.mark.skipif(not ACCELERATE.exists(), reason=f"no accelerate launcher beside {sys.executable}")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("ddp") / "base")


def _free_port() -> int:
    with socket.socket() as s:  # other test sessions on this box may hold torch's default 29500
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(tmp_path: Path, tiny_dir: Path, launch_flags: list[str]) -> tuple[Store, TrainConfig]:
    data = tmp_path / "records.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    config = TrainConfig(base_model=str(tiny_dir), train_file=str(data), max_steps=4, save_every=2, eval_every=2,
                         batch_size=4, learning_rate=5e-3, val_fraction=0.2, report_to=())
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    workspace = tmp_path / "ws"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(REPO)}  # CPU ranks even on a GPU box: gloo
    command = [str(ACCELERATE), "launch", *launch_flags, "--num_processes", "2",
               "--main_process_port", str(_free_port()),
               "-m", "hallu_core.modeling.train", str(config_file), "--workspace", str(workspace)]
    done = subprocess.run(command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return Store(workspace), config


@pytest.mark.slow
@needs_launcher
@pytest.mark.parametrize("launch_flags, world_size", [
    (["--multi_gpu"], 2),  # torchrun under accelerate: two ranks; on a box without GPUs the Trainer runs DDP on gloo
    # the form the docs name for CPUs; accelerate's simple launcher starts ONE process here unless mpirun is set up
    # (--mpirun_hostfile), so this checks the command works and stores one run, not that it was distributed
    (["--cpu"], None),
], ids=["ddp-gloo-2-ranks", "cpu-flag"])
def test_accelerate_launch_trains_to_completion_and_stores_one_run(tmp_path, tiny_dir, launch_flags, world_size):
    store, config = _launch(tmp_path, tiny_dir, launch_flags)
    runs = store.runs()
    assert [(r.id, r.status) for r in runs] == [(run_id_for(config), "done")]  # every rank agreed on the run id
    checkpoints = store.checkpoints(runs[0].id)
    assert [(c.step, c.name) for c in checkpoints] == [(0, "base"), (2, "step-2"), (4, "step-4")]
    folders = sorted(p.name for p in run_dir(store, runs[0].id).glob("checkpoint-*"))
    assert folders == ["checkpoint-2", "checkpoint-4"]  # >= 2 on disk, one folder per step (not one per rank)
    for ckpt in checkpoints[1:]:
        path = store.abspath(ckpt.path)
        assert (path / "model.safetensors").exists() and (path / "trainer_state.json").exists()
        assert {"train_loss", "eval_loss"} <= set(ckpt.metrics)
    args = torch.load(run_dir(store, runs[0].id) / "checkpoint-4" / "training_args.bin", weights_only=False)
    if world_size is not None:
        assert args.world_size == world_size
        last = run_dir(store, runs[0].id) / "checkpoint-4"
        assert sorted(p.name for p in last.glob("rng_state*.pth")) == [f"rng_state_{r}.pth" for r in range(world_size)]
    store.close()


@pytest.mark.parametrize("env, main", [
    ({}, True), ({"RANK": "0"}, True), ({"RANK": "1"}, False),
    ({"PMI_RANK": "1"}, False), ({"OMPI_COMM_WORLD_RANK": "2"}, False),  # mpirun, before accelerate sets RANK
    ({"RANK": "0", "PMI_RANK": "0"}, True),
])
def test_only_rank_zero_is_the_main_process_whichever_launcher_named_the_rank(monkeypatch, env, main):
    for name in ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert is_main_process() is main
