"""Knowledge distillation: a student trained on a teacher's token distributions (`hallu distill`).

A distillation is a run like a fine-tune (kind "distill"): the same data format, Trainer
arguments, checkpoint rows, per-step metrics, TensorBoard and resume logic (hallu_core.modeling.train);
only the loss differs. On the completion tokens (where a fine-tune's loss is), with T the
temperature:

    loss = alpha * KL(teacher_T || student_T) * T^2 + (1 - alpha) * cross-entropy(student, labels)

(the T^2 keeps the KL gradients' scale independent of T; Hinton et al., 2015). Any HF causal
LM pair works when both use the same tokenizer; a pair that does not is refused before any
weights are loaded. The student is an HF id or folder, or "shrink": the teacher's own
architecture with fewer layers, initialised from evenly spaced teacher layers (as DistilBERT
was) and saved once in the run's folder, so a rerun resumes the same run.
"""
from __future__ import annotations

import copy
import json
import logging
import re
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForCausalLM, Trainer, TrainerCallback

from hallu_core.modeling.chat import chat_format
from hallu_core.modeling.config import SHRINK, ConfigError, DistillConfig
from hallu_core.modeling.model_sources import local_model
from hallu_core.modeling.models import load_model, load_tokenizer
from hallu_core.modeling.train import (
    Progress,
    _base_location,
    _trainer,
    last_complete_checkpoint,
    register_run,
    run_dir,
    run_id_for,
    train_recorded,
)
from hallu_core.modeling.train_data import IGNORE, load_records, split_records, tokenize_records
from hallu_core.store.database import Store
from hallu_core.store.types import Run

log = logging.getLogger(__name__)
STUDENT_INIT = "student-init"  # the shrunk student before training, inside the run's folder
LAYER_INDEX = re.compile(r"\.(\d+)\.")  # transformer.h.3.attn..., model.layers.3.mlp...: the block's index


class TokenizerMismatch(ConfigError):
    """Teacher and student tokenize differently: their distributions cannot be compared token by token."""


def resolve_teacher(store: Store, ref: str) -> tuple[str, str | None, str | None]:
    """(location, adapter base or None, checkpoint id or None) of a checkpoint id, RUN:STEP, run id or name, HF id
    or folder."""
    from hallu_core.modeling.generate import checkpoint_location
    from hallu_core.modeling.model_refs import resolve_checkpoint_ids

    try:
        ids = resolve_checkpoint_ids(store, [ref])
    except ConfigError:
        if not Path(ref).exists() and store.run_id_of(ref.rsplit(":", 1)[0]):
            raise  # a run of this workspace without that checkpoint, or without any yet
        return local_model(ref, store.root), None, None  # not in the workspace: an HF id, a folder or a .gguf
    checkpoint = store.get_checkpoint(ids[-1])  # a run id means its last checkpoint
    location, base = checkpoint_location(store, checkpoint)
    return location, base, checkpoint.id


def check_same_tokenizer(teacher: str, student: str):
    """The shared tokenizer; TokenizerMismatch naming both models when their vocabularies or special tokens differ."""
    teacher_tok, student_tok = load_tokenizer(teacher), load_tokenizer(student)
    teacher_vocab, student_vocab = teacher_tok.get_vocab(), student_tok.get_vocab()
    problems = []
    if teacher_vocab != student_vocab:
        differing = sorted(set(teacher_vocab.items()) ^ set(student_vocab.items()), key=lambda kv: kv[1])
        problems.append(f"vocabularies differ ({len(teacher_vocab)} vs {len(student_vocab)} tokens, "
                        f"{len(differing)} (token, id) pairs not shared, e.g. {differing[0][0]!r})")
    for name in ("eos_token", "bos_token", "pad_token"):
        if getattr(teacher_tok, name) != getattr(student_tok, name):
            problems.append(f"{name} {getattr(teacher_tok, name)!r} vs {getattr(student_tok, name)!r}")
    if problems:
        raise TokenizerMismatch(f"teacher {teacher} and student {student} use different tokenizers: "
                                f"{'; '.join(problems)}. Distillation compares their distributions token by token, "
                                "so both must use the same tokenizer.")
    return teacher_tok


def _shrink_layers(model_config, layers: int | None, teacher: str) -> tuple[object, list[int]]:
    """A copy of the teacher's config with fewer blocks, and which teacher block each student block starts from."""
    total = getattr(model_config, "num_hidden_layers", None)
    if not isinstance(total, int):
        raise ConfigError(f"student = {SHRINK!r}: the teacher {teacher} has no num_hidden_layers in its config; "
                          "give a student model instead")
    layers = layers or max(1, total // 2)
    if layers >= total:
        raise ConfigError(f"student_layers = {layers}: a shrunk student needs fewer layers than the teacher's {total}")
    picks = [round(i * (total - 1) / (layers - 1)) if layers > 1 else 0 for i in range(layers)]
    small = copy.deepcopy(model_config)
    small.num_hidden_layers = layers  # each architecture maps this onto its own name (n_layer, num_layers, ...)
    return small, picks


def shrink_teacher(teacher, tokenizer, layers: int | None, out_dir: Path, teacher_name: str, seed: int) -> None:
    """Save the shrunk student to `out_dir` (written aside, then renamed: never a half-written folder)."""
    teacher_config = teacher.config
    small, picks = _shrink_layers(teacher_config, layers, teacher_name)
    torch.manual_seed(seed)
    student = AutoModelForCausalLM.from_config(small, dtype=torch.float32)
    source, target, copied = teacher.state_dict(), student.state_dict(), {}
    for key, tensor in target.items():
        match = LAYER_INDEX.search(key)
        origin = key[:match.start(1)] + str(picks[int(match.group(1))]) + key[match.end(1):] if match else key
        if origin in source and source[origin].shape == tensor.shape:
            copied[key] = source[origin].detach().to("cpu", torch.float32)
    student.load_state_dict(copied, strict=False)
    if getattr(teacher, "generation_config", None) is not None:
        student.generation_config = teacher.generation_config
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    student.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(out_dir)
    log.info("shrunk student: %d of the teacher's %d layers (from layers %s), %d of %d tensors copied", len(picks),
             teacher_config.num_hidden_layers, picks, len(copied), len(target))


class DistillTrainer(Trainer):
    """A Trainer whose loss is the distillation loss; logs its KL and cross-entropy terms beside `loss`."""

    def __init__(self, *args, teacher, temperature: float, alpha: float, vocab_size: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.teacher, self.temperature, self.alpha, self.vocab_size = teacher.eval(), temperature, alpha, vocab_size
        self.loss_is_scaled_for_ga = False  # a per-batch mean: the Trainer divides it over accumulation steps
        self._sums = {"train": torch.zeros(3), "eval": torch.zeros(3)}  # kl, ce, batches since the last log

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs["labels"]
        batch = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        outputs = model(**batch)
        with torch.no_grad():
            teacher_logits = self.teacher(**batch).logits
        # position i predicts token i + 1; only completion tokens count; models may pad their vocab beyond the tokenizer
        target = labels[:, 1:]
        keep = target != IGNORE
        student = outputs.logits[:, :-1, :self.vocab_size][keep].float()
        teacher = teacher_logits[:, :-1, :self.vocab_size][keep].float()
        t = self.temperature
        kl = F.kl_div(F.log_softmax(student / t, -1), F.log_softmax(teacher / t, -1), log_target=True,
                      reduction="batchmean") * t * t
        ce = F.cross_entropy(student, target[keep])
        loss = self.alpha * kl + (1 - self.alpha) * ce
        self._sums["train" if model.training else "eval"] += torch.tensor([kl.item(), ce.item(), 1.0])
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict, *args, **kwargs) -> None:
        for part, prefix, key in (("train", "", "loss"), ("eval", "eval_", "eval_loss")):
            kl, ce, n = self._sums[part].tolist()
            if key in logs and n:
                logs.update({f"{prefix}kl": kl / n, f"{prefix}ce": ce / n})
                self._sums[part].zero_()
        super().log(logs, *args, **kwargs)


def _prepare_student(config: DistillConfig, teacher, tokenizer, output_dir: Path, student_ref: str) -> str:
    """Where the student starts from: the given model, or the shrunk teacher saved once in the run's folder."""
    if config.student != SHRINK:
        return student_ref
    init = output_dir / STUDENT_INIT
    if not (init / "config.json").is_file():
        output_dir.mkdir(parents=True, exist_ok=True)
        shrink_teacher(teacher, tokenizer, config.student_layers, init, config.teacher, config.seed)
    return str(init)


def distill(store: Store, config: DistillConfig, *, records: list[dict] | None = None, run_id: str | None = None,
            run_meta: dict | None = None, progress: Progress | None = None,
            callbacks: list[TrainerCallback] = ()) -> Run:
    """Distil `config.teacher` into a student; returns the run (kind "distill"). Resumes an interrupted run.

    `records` overrides the config's dataset/train_file; `callbacks` are extra TrainerCallbacks.
    Runs in one process (the teacher sits on the resolved device beside the student).
    """
    progress = progress or (lambda done, total, message="": None)
    run_id = run_id or run_id_for(config)
    output_dir = run_dir(store, run_id)
    teacher_location, teacher_base, teacher_checkpoint = resolve_teacher(store, config.teacher)
    student_ref = config.student if config.student == SHRINK else local_model(config.student, store.root, progress)
    if config.student == SHRINK:
        tokenizer = load_tokenizer(teacher_location)
        _shrink_layers(AutoConfig.from_pretrained(teacher_base or teacher_location), config.student_layers,
                       config.teacher)  # a student_layers that cannot shrink is refused before any weights load
    else:
        tokenizer = check_same_tokenizer(teacher_location, student_ref)
    records = records if records is not None else load_records(store, config)
    train_records, val_records = split_records(records, config.val_fraction, config.seed)
    chat = chat_format(tokenizer, config.chat_template, config.system_prompt)
    train_set = tokenize_records(tokenizer, train_records, config.max_length, chat)
    val_set = tokenize_records(tokenizer, val_records, config.max_length, chat)

    resume = last_complete_checkpoint(output_dir)
    student_base = (store.relpath(output_dir / STUDENT_INIT) if config.student == SHRINK
                    else _base_location(store, config.student))
    register_run(store, Run(run_id, config.name, student_base, "distill", config.to_dict(), "running",
                            {**(run_meta or {}), "teacher": _base_location(store, teacher_location),
                             "teacher_checkpoint": teacher_checkpoint, "train_records": len(train_records),
                             "val_records": len(val_records), "output_dir": store.relpath(output_dir)}))
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "distill_config.json").write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")

    def make_trainer() -> Trainer:
        teacher = load_model(teacher_location, base_model=teacher_base)
        if hasattr(teacher, "merge_and_unload"):  # a LoRA teacher only infers: fold the adapter in
            teacher = teacher.merge_and_unload()
        teacher.requires_grad_(False)
        student = load_model(_prepare_student(config, teacher, tokenizer, output_dir, student_ref), dtype=torch.float32)
        return _trainer(store, config, run_id, output_dir, tokenizer, train_set, val_set, progress, callbacks,
                        distributed=False, is_main=True, model=student, trainer_class=DistillTrainer,
                        trainer_kwargs={"teacher": teacher, "temperature": config.temperature, "alpha": config.alpha,
                                        "vocab_size": len(tokenizer)})

    train_recorded(store, run_id, make_trainer, resume, student_base, has_val=bool(val_set), is_main=True)
    return store.get_run(run_id) or Run(run_id, config.name, student_base, "distill")
