"""Fine-tuning with the HF Trainer (full or LoRA), with every checkpoint registered in the store.

The same entry point runs in-process (`finetune(store, config, ...)`, used by the CLI,
jobs and the demo) and under `accelerate launch` / `torchrun`
(`python -m hallu_core.modeling.train CONFIG --workspace DIR`): the Trainer does the
distribution, and only rank 0 writes to the store. Checkpoints land in
<workspace>/artifacts/runs/<run_id>/checkpoint-<step>; a rerun of the same run resumes
from the last one it finds there.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Callable

import torch
from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments

from hallu_core.errors import JobCancelled
from hallu_core.modeling.chat import chat_format
from hallu_core.modeling.config import TrainConfig
from hallu_core.modeling.mlflow_callback import MlflowCallback, end_tracking
from hallu_core.modeling.model_sources import local_model
from hallu_core.modeling.models import dropout_overrides, load_model, load_tokenizer, resolve_device, resolve_dtype
from hallu_core.modeling.train_data import CompletionCollator, load_records, split_records, tokenize_records
from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Run, content_hash

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
# kl / ce: a distillation's two loss terms (hallu_core.modeling.distill), on the train and validation sets
LOGGED_METRICS = ("loss", "eval_loss", "learning_rate", "grad_norm", "kl", "ce", "eval_kl", "eval_ce")
CHECKPOINT_METRICS = {"loss": "train_loss", "eval_loss": "eval_loss", "kl": "train_kl", "eval_kl": "eval_kl"}


# the launchers' rank and world-size variables, as accelerate reads them (torchrun sets RANK; `accelerate launch
# --cpu` over mpirun sets only the MPI ones until the Trainer's TrainingArguments copies them into RANK)
RANK_VARS = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
WORLD_SIZE_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def _env_int(names: tuple[str, ...], default: int) -> int:
    return next((int(os.environ[name]) for name in names if os.environ.get(name)), default)


def is_main_process() -> bool:
    """Rank 0 (or a plain single process): the only writer to the store."""
    return _env_int(RANK_VARS, 0) == 0


def run_id_for(config: TrainConfig) -> str:
    """Same config -> same run, so rerunning an interrupted fine-tune resumes it."""
    return "run-" + content_hash("run", config.to_dict(), length=12)


def checkpoint_id(run_id: str, step: int) -> str:
    return content_hash("checkpoint", run_id, int(step))


def run_dir(store: Store, run_id: str) -> Path:
    return store.artifacts / "runs" / run_id


class StoreCallback(TrainerCallback):
    """Adapts the Trainer's events to `progress` and to the store (rank 0 only)."""

    def __init__(self, store: Store, run_id: str, output_dir: Path, progress: Progress):
        self.store, self.run_id, self.output_dir, self.progress = store, run_id, output_dir, progress

    def on_train_begin(self, args, state, control, **kwargs):
        self.progress(state.global_step, state.max_steps, "starting")

    def on_step_end(self, args, state, control, **kwargs):
        # log the train loss at every save and eval, so each checkpoint has one
        if control.should_save or control.should_evaluate:
            control.should_log = True
        self.progress(state.global_step, state.max_steps, f"step {state.global_step}/{state.max_steps}")
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            metrics = {k: float(v) for k, v in logs.items() if k in LOGGED_METRICS and v is not None}
            if metrics:
                self.store.log_metrics(self.run_id, state.global_step, metrics)

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            step = state.global_step
            register_checkpoint(self.store, self.run_id, self.output_dir / f"checkpoint-{step}", step, state.epoch,
                                state.log_history)


def register_checkpoint(store: Store, run_id: str, path: Path, step: int, epoch, log_history: list[dict]) -> None:
    """The checkpoint's row, with the latest train and eval loss logged at or before its step."""
    metrics = {"epoch": epoch}
    for entry in log_history:
        if entry.get("step", 0) <= step:
            metrics.update({name: entry[key] for key, name in CHECKPOINT_METRICS.items() if key in entry})
    store.add_checkpoint(Checkpoint(checkpoint_id(run_id, step), run_id, step, f"step-{step}", store.relpath(path),
                                    metrics))
    log.info("checkpoint %s registered: %s", path.name, metrics)


def register_unrecorded_checkpoints(store: Store, run_id: str, output_dir: Path) -> None:
    """Whole checkpoint folders without a row get one: a kill can fall after the Trainer saved a
    folder and before `on_save` registered it, and a resumed run never saves that step again."""
    known = {c.step for c in store.checkpoints(run_id)}
    for folder in output_dir.glob("checkpoint-*") if output_dir.is_dir() else []:
        step, state_file = folder.name.split("-")[-1], folder / "trainer_state.json"
        if step.isdigit() and int(step) not in known and state_file.exists():
            state = json.loads(state_file.read_text(encoding="utf-8"))
            register_checkpoint(store, run_id, folder, int(step), state.get("epoch"), state.get("log_history", []))


def last_complete_checkpoint(output_dir: Path) -> str | None:
    """The newest checkpoint folder the Trainer finished writing; a kill can leave a partial one.

    The Trainer writes trainer_state.json after the weights and optimizer state, so its
    presence marks a whole checkpoint; partial folders are removed so the step saves again.
    """
    folders = sorted((p for p in output_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                     key=lambda p: int(p.name.split("-")[-1]), reverse=True) if output_dir.is_dir() else []
    for folder in folders:
        if (folder / "trainer_state.json").exists():
            return str(folder)
        log.warning("removing partial checkpoint %s (the run was interrupted while saving it)", folder)
        shutil.rmtree(folder, ignore_errors=True)
    return None


def _base_location(store: Store, base_model: str) -> str:
    """A local base folder is stored relative to the workspace when it lies inside it."""
    return store.relpath(base_model) if Path(base_model).exists() else base_model


def _training_args(config: TrainConfig, output_dir: Path, has_val: bool) -> TrainingArguments:
    on_cuda = resolve_device().type == "cuda"
    return TrainingArguments(
        output_dir=str(output_dir), per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size, gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate, weight_decay=config.weight_decay, num_train_epochs=config.epochs,
        max_steps=config.max_steps, warmup_steps=config.warmup_steps, lr_scheduler_type=config.lr_scheduler,
        eval_strategy="steps" if has_val else "no", eval_steps=config.eval_every, save_strategy="steps",
        save_steps=config.save_every, logging_steps=min(10, config.save_every), seed=config.seed,
        data_seed=config.seed, bf16=on_cuda and resolve_dtype("cuda") == torch.bfloat16,
        use_cpu=resolve_device().type == "cpu", report_to="none", disable_tqdm=True,  # trackers: see _trainer
        remove_unused_columns=False, dataloader_num_workers=0, save_total_limit=None,
        run_name=config.name,
    )


def _build_model(config: TrainConfig, distributed: bool, location: str | None = None):
    # full fine-tuning keeps fp32 master weights (the Trainer's bf16 autocast does the rest);
    # LoRA loads the frozen base in bf16 on CUDA to halve its memory.
    device = torch.device("cpu") if distributed else None  # the Trainer places each rank's copy
    dtype = torch.float32 if config.method == "full" else None
    model = load_model(location or config.base_model, device=device, dtype=dtype,
                       config_overrides=dropout_overrides(config.dropout))
    if config.method == "lora":
        from peft import LoraConfig, get_peft_model
        from transformers.pytorch_utils import Conv1D

        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                          target_modules=list(config.lora_target_modules) if config.lora_target_modules else None,
                          # GPT-2 stores its projections transposed (Conv1D): say so rather than have peft warn
                          fan_in_fan_out=any(isinstance(m, Conv1D) for m in model.modules()),
                          task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
    return model


def _trainer(store: Store, config: TrainConfig, run_id: str, output_dir: Path, tokenizer, train_set, val_set,
             progress: Progress, callbacks, distributed: bool, is_main: bool, *, model=None,
             trainer_class: type[Trainer] = Trainer, trainer_kwargs: dict | None = None) -> Trainer:
    """`model`/`trainer_class`/`trainer_kwargs` let a distillation bring its own student and loss."""
    torch.manual_seed(config.seed)
    model = model if model is not None else _build_model(config, distributed)
    args = _training_args(config, output_dir, has_val=bool(val_set))
    extra = [StoreCallback(store, run_id, output_dir, progress), *callbacks]
    if "tensorboard" in config.report_to and is_main:
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback

        extra.append(TensorBoardCallback(SummaryWriter(log_dir=str(output_dir / "tensorboard"))))
    if "mlflow" in config.report_to and is_main:
        extra.append(MlflowCallback(store, run_id, config.to_dict(), config.name, LOGGED_METRICS))
    trainer = trainer_class(model=model, args=args, train_dataset=train_set, eval_dataset=val_set or None,
                            data_collator=CompletionCollator(tokenizer.pad_token_id), processing_class=tokenizer,
                            callbacks=extra, **(trainer_kwargs or {}))
    trainer.remove_callback(PrinterCallback)  # it prints every log line; we log and report progress instead
    return trainer


def finetune(store: Store, config: TrainConfig, *, records: list[dict] | None = None, run_id: str | None = None,
             run_meta: dict | None = None, progress: Progress | None = None,
             callbacks: list[TrainerCallback] = ()) -> Run:
    """Fine-tune `config.base_model`; returns the run (status done). Resumes an interrupted run.

    `records` ({"prompt", "completion"}) overrides the config's dataset/train_file;
    `callbacks` are extra TrainerCallbacks (tests stop a run with one).
    """
    progress = progress or (lambda done, total, message="": None)
    run_id = run_id or run_id_for(config)
    output_dir = run_dir(store, run_id)
    is_main = is_main_process()
    distributed = _env_int(WORLD_SIZE_VARS, 1) > 1
    records = records if records is not None else load_records(store, config)
    train_records, val_records = split_records(records, config.val_fraction, config.seed)
    location = local_model(config.base_model, store.root, progress)  # a bundled name or .gguf: its converted folder
    tokenizer = load_tokenizer(location)
    chat = chat_format(tokenizer, config.chat_template, config.system_prompt)
    train_set = tokenize_records(tokenizer, train_records, config.max_length, chat)
    val_set = tokenize_records(tokenizer, val_records, config.max_length, chat)

    resume = last_complete_checkpoint(output_dir)
    base = _base_location(store, config.base_model)
    if is_main:
        register_run(store, Run(run_id, config.name, base, "finetune", config.to_dict(), "running",
                                {**(run_meta or {}), "train_records": len(train_records),
                                 "val_records": len(val_records), "output_dir": store.relpath(output_dir)}))
    train_recorded(store, run_id, lambda: _trainer(store, config, run_id, output_dir, tokenizer, train_set, val_set,
                                                   progress, callbacks, distributed, is_main,
                                                   model=_build_model(config, distributed, location)),
                   resume, base, has_val=bool(val_set), is_main=is_main)
    return store.get_run(run_id) or Run(run_id, config.name, config.base_model)


def register_run(store: Store, run: Run) -> None:
    """Store the run as running (keeping a rerun's creation time and earlier meta), and any checkpoint a kill left
    unregistered in its folder."""
    existing = store.get_run(run.id)
    if existing:
        run = dataclasses.replace(run, meta={**existing.meta, **run.meta}, created_at=existing.created_at)
    store.add_run(run)
    register_unrecorded_checkpoints(store, run.id, run_dir(store, run.id))


def train_recorded(store: Store, run_id: str, make_trainer: Callable[[], Trainer], resume: str | None,
                   base_location: str, *, has_val: bool, is_main: bool) -> None:
    """Build the trainer, record the untrained model as step 0 (unless resuming) and train.

    From here on the run is "running": every way out records how it ended.
    """
    trainer = None
    try:
        trainer = make_trainer()
        if resume is None:  # every rank evaluates (it is a collective op); rank 0 records
            evaluated = trainer.evaluate() if has_val else {}
            base_metrics = {k: v for k, v in evaluated.items() if k in CHECKPOINT_METRICS.values()}
            if is_main:
                store.add_checkpoint(Checkpoint(checkpoint_id(run_id, 0), run_id, 0, "base", base_location,
                                                base_metrics))
        trainer.train(resume_from_checkpoint=resume)
    except BaseException as exc:
        if is_main:  # Ctrl-C, or the job runner's SIGTERM: the user stopped it; anything else failed
            stopped = isinstance(exc, (KeyboardInterrupt, JobCancelled))
            store.set_run_status(run_id, "cancelled" if stopped else "failed")
            end_tracking(trainer, "KILLED" if stopped else "FAILED")
        raise
    if is_main:
        stopped_early = trainer.state.global_step < trainer.state.max_steps
        store.set_run_status(run_id, "interrupted" if stopped_early else "done")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fine-tune a causal LM into a Hallu workspace.")
    parser.add_argument("config", help="a TrainConfig JSON file")
    parser.add_argument("--workspace", required=True, help="the workspace folder")
    parser.add_argument("--run-id", default=None, help="resume or name this run (default: from the config)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if is_main_process() else logging.WARNING)
    run = finetune(Store(args.workspace), TrainConfig.from_file(args.config), run_id=args.run_id)
    log.info("run %s: %s", run.id, run.status)


if __name__ == "__main__":
    main()
