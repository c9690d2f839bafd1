"""Validated, frozen configs for fine-tuning and generation.

Each config checks itself in `__post_init__` and names the field and the bad value,
so a typo in a config file or a UI form fails before any model is loaded. They are
stored as JSON next to what they made (the run's config, each generation's decoding).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hallu_core.data import prompts


class ConfigError(ValueError):
    """A config value that cannot work, said with the field's name and value."""


def _check(ok: bool, name: str, value: Any, want: str) -> None:
    if not ok:
        raise ConfigError(f"{name} = {value!r}: {want}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Serialisable:
    @classmethod
    def from_dict(cls, data: dict):
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown field(s) {unknown}; known: {sorted(known)}")
        return cls(**{k: _from_json(cls, k, v) for k, v in data.items()})

    @classmethod
    def from_file(cls, path: str | Path):
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read a JSON config: {exc}") from exc
        try:
            return cls.from_dict(data)
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)  # type: ignore[arg-type]


def _from_json(cls, key: str, value: Any) -> Any:
    # JSON has lists, not tuples; nested decodings arrive as dicts (or as configs, from to_dict())
    if cls is GenerateConfig and key == "decodings" and isinstance(value, (list, tuple)):
        return tuple(DecodingConfig.from_dict(d) if isinstance(d, dict) else d for d in value)
    if isinstance(value, list):
        return tuple(value)
    return value


LR_SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial")


@dataclass(frozen=True)
class TrainConfig(_Serialisable):
    base_model: str
    dataset: str | None = None  # a dataset in the workspace: prompt -> reference as completion
    train_file: str | None = None  # or a JSONL file of {"prompt", "completion"} records
    method: str = "full"  # full | lora
    learning_rate: float = 5e-4
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 8
    grad_accum: int = 1
    weight_decay: float = 0.0
    dropout: float | None = None  # None keeps the model's own dropout
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: tuple[str, ...] | None = None  # None: peft's default for the architecture
    eval_every: int = 50
    save_every: int = 50
    seed: int = 0
    max_length: int = 256
    val_fraction: float = 0.1
    warmup_steps: int = 0
    lr_scheduler: str = "linear"  # any HF scheduler name: linear, cosine, constant, constant_with_warmup
    report_to: tuple[str, ...] = ("tensorboard",)
    name: str = "finetune"

    def __post_init__(self):
        _check(isinstance(self.base_model, str) and self.base_model.strip() != "", "base_model",
               self.base_model, "an HF model id or a local folder")
        _check(self.method in ("full", "lora"), "method", self.method, "one of full, lora")
        _check_training(self)
        for name in ("lora_r", "lora_alpha"):
            value = getattr(self, name)
            _check(_is_int(value) and value > 0, name, value, "a positive integer")
        _check(self.dropout is None or (_is_num(self.dropout) and 0 <= self.dropout < 1), "dropout",
               self.dropout, "null or a number in [0, 1)")
        _check(_is_num(self.lora_dropout) and 0 <= self.lora_dropout < 1, "lora_dropout", self.lora_dropout,
               "a number in [0, 1)")
        _check(self.lora_target_modules is None or (isinstance(self.lora_target_modules, tuple) and all(
            isinstance(m, str) and m for m in self.lora_target_modules)), "lora_target_modules",
            self.lora_target_modules, "null or a list of module names")


def _check_training(cfg) -> None:
    """The data, schedule and logging fields TrainConfig and DistillConfig share."""
    _check((cfg.dataset is None) != (cfg.train_file is None), "dataset/train_file",
           (cfg.dataset, cfg.train_file), "give exactly one of dataset and train_file")
    _check(_is_num(cfg.learning_rate) and 0 < cfg.learning_rate < 1, "learning_rate",
           cfg.learning_rate, "a number in (0, 1)")
    _check(_is_num(cfg.epochs) and cfg.epochs > 0, "epochs", cfg.epochs, "a positive number")
    _check(_is_int(cfg.max_steps) and (cfg.max_steps > 0 or cfg.max_steps == -1), "max_steps",
           cfg.max_steps, "a positive integer, or -1 to train for `epochs`")
    for name in ("batch_size", "grad_accum", "eval_every", "save_every", "max_length"):
        value = getattr(cfg, name)
        _check(_is_int(value) and value > 0, name, value, "a positive integer")
    _check(_is_int(cfg.warmup_steps) and cfg.warmup_steps >= 0, "warmup_steps", cfg.warmup_steps,
           "a non-negative integer")
    _check(_is_int(cfg.seed), "seed", cfg.seed, "an integer")
    _check(cfg.lr_scheduler in LR_SCHEDULERS, "lr_scheduler", cfg.lr_scheduler,
           f"one of {', '.join(LR_SCHEDULERS)}")
    _check(_is_num(cfg.weight_decay) and 0 <= cfg.weight_decay < 1, "weight_decay", cfg.weight_decay,
           "a number in [0, 1)")
    _check(_is_num(cfg.val_fraction) and 0 <= cfg.val_fraction < 1, "val_fraction", cfg.val_fraction,
           "a number in [0, 1)")
    _check(isinstance(cfg.report_to, tuple) and all(r in ("tensorboard", "mlflow") for r in cfg.report_to),
           "report_to", cfg.report_to, "a list drawn from tensorboard, mlflow")
    _check(isinstance(cfg.name, str) and cfg.name.strip() != "", "name", cfg.name, "a non-empty string")


SHRINK = "shrink"  # DistillConfig.student: the teacher's own architecture with fewer layers


@dataclass(frozen=True)
class DistillConfig(_Serialisable):
    """A student trained on a teacher's token distributions (`hallu distill`); the schedule fields are TrainConfig's.

    loss = alpha * KL(teacher_T || student_T) * T^2 + (1 - alpha) * cross-entropy on the hard labels,
    both over the completion tokens only, as a fine-tune's loss is.
    """
    teacher: str  # a checkpoint id, RUN:STEP or run id (its last checkpoint) in the workspace, an HF id or a folder
    student: str = SHRINK  # an HF id or folder (same tokenizer), or "shrink": the teacher with fewer layers
    student_layers: int | None = None  # for "shrink": None = half the teacher's layers (at least 1)
    dataset: str | None = None
    train_file: str | None = None
    temperature: float = 2.0
    alpha: float = 0.5  # weight of the KL term; 1 - alpha weighs the hard-label cross-entropy
    learning_rate: float = 5e-4
    epochs: float = 3.0
    max_steps: int = -1
    batch_size: int = 8
    grad_accum: int = 1
    weight_decay: float = 0.0
    eval_every: int = 50
    save_every: int = 50
    seed: int = 0
    max_length: int = 256
    val_fraction: float = 0.1
    warmup_steps: int = 0
    lr_scheduler: str = "linear"
    report_to: tuple[str, ...] = ("tensorboard",)
    name: str = "distill"

    def __post_init__(self):
        _check(isinstance(self.teacher, str) and self.teacher.strip() != "", "teacher", self.teacher,
               "a checkpoint id, RUN:STEP, an HF model id or a local folder")
        _check(isinstance(self.student, str) and self.student.strip() != "", "student", self.student,
               f"{SHRINK!r}, an HF model id or a local folder")
        _check(self.student_layers is None or (_is_int(self.student_layers) and self.student_layers > 0),
               "student_layers", self.student_layers, "null or a positive integer")
        _check(self.student_layers is None or self.student == SHRINK, "student_layers", self.student_layers,
               f"only for student = {SHRINK!r} (a given student keeps its own layers)")
        _check(_is_num(self.temperature) and 0 < self.temperature <= 100, "temperature", self.temperature,
               "a number in (0, 100]")
        _check(_is_num(self.alpha) and 0 <= self.alpha <= 1, "alpha", self.alpha, "a number in [0, 1]")
        _check_training(self)


STRATEGIES = ("greedy", "beam", "sample")


@dataclass(frozen=True)
class DecodingConfig(_Serialisable):
    strategy: str = "greedy"  # greedy | beam | sample
    num_beams: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    num_samples: int = 1  # outputs per prompt (sample: independent draws; beam: the top beams)
    max_new_tokens: int = 64
    seed: int = 0  # sampling seed, part of the content hash so a rerun draws the same samples

    def __post_init__(self):
        _check(self.strategy in STRATEGIES, "strategy", self.strategy, f"one of {', '.join(STRATEGIES)}")
        for name in ("num_beams", "num_samples", "max_new_tokens"):
            value = getattr(self, name)
            _check(_is_int(value) and value > 0, name, value, "a positive integer")
        _check(_is_num(self.temperature) and self.temperature > 0, "temperature", self.temperature,
               "a positive number")
        _check(_is_num(self.top_p) and 0 < self.top_p <= 1, "top_p", self.top_p, "a number in (0, 1]")
        _check(_is_int(self.top_k) and self.top_k >= 0, "top_k", self.top_k, "a non-negative integer (0 = off)")
        _check(_is_int(self.seed), "seed", self.seed, "an integer")
        if self.strategy == "greedy":
            _check(self.num_samples == 1, "num_samples", self.num_samples, "greedy decoding gives 1 output")
            _check(self.num_beams == 1, "num_beams", self.num_beams, "greedy decoding uses 1 beam")
        if self.strategy == "beam":
            _check(self.num_beams > 1, "num_beams", self.num_beams, "beam search needs at least 2 beams")
            _check(self.num_samples <= self.num_beams, "num_samples", self.num_samples,
                   f"at most num_beams ({self.num_beams}) outputs per prompt")

    @property
    def name(self) -> str:
        """A short label for the UI: greedy, beam4, sample-t0.8-p0.95-k50."""
        if self.strategy == "greedy":
            return "greedy"
        if self.strategy == "beam":
            return f"beam{self.num_beams}"
        parts = [f"sample-t{self.temperature:g}"]
        if self.top_p < 1:
            parts.append(f"p{self.top_p:g}")
        if self.top_k:
            parts.append(f"k{self.top_k}")
        return "-".join(parts)

    def hash_dict(self) -> dict:
        """What makes two generations different (the content hash's input)."""
        return self.to_dict()


@dataclass(frozen=True)
class GenerateConfig(_Serialisable):
    checkpoints: tuple[str, ...]  # checkpoint ids in the workspace
    dataset: str | None = None  # None: every example in the workspace
    decodings: tuple[DecodingConfig, ...] = (DecodingConfig(),)
    batch_size: int = 16
    backend: str = "hf"  # hf | vllm
    prompt_template: str = prompts.CLOSED_BOOK  # a template name or a text with {prompt} / {source} (prompts.py)

    def __post_init__(self):
        _check(isinstance(self.checkpoints, tuple) and len(self.checkpoints) > 0 and all(
            isinstance(c, str) and c for c in self.checkpoints), "checkpoints", self.checkpoints,
            "a non-empty list of checkpoint ids")
        _check(isinstance(self.decodings, tuple) and len(self.decodings) > 0 and all(
            isinstance(d, DecodingConfig) for d in self.decodings), "decodings", self.decodings,
            "a non-empty list of decoding configs")
        _check(_is_int(self.batch_size) and self.batch_size > 0, "batch_size", self.batch_size,
               "a positive integer")
        _check(self.backend in ("hf", "vllm"), "backend", self.backend, "one of hf, vllm")
        why = prompts.problem(self.prompt_template)
        _check(why is None, "prompt_template", self.prompt_template, why or "")

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["checkpoints"] = list(self.checkpoints)
        return out


def default_demo_decodings(max_new_tokens: int = 48,
                           temperatures: tuple[float, ...] = (0.7, 1.3)) -> tuple[DecodingConfig, ...]:
    """The strategies the demo compares: greedy, and plain sampling at each temperature (no top-p cut, so
    the temperature alone decides how far from the likeliest tokens a sample wanders)."""
    return (DecodingConfig("greedy", max_new_tokens=max_new_tokens),
            *(DecodingConfig("sample", temperature=t, max_new_tokens=max_new_tokens) for t in temperatures))

