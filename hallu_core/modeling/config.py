"""Validated, frozen configs for fine-tuning and generation, as pydantic models.

Each field declares its type and bounds, and its description says what it allows: that text is the
error message's (`learning_rate = 2: a number in (0, 1)`) and the JSON schema's
(`TrainConfig.model_json_schema()`), so a typo in a config file or a UI form fails before any model
loads. The configs are stored as JSON next to what they made (a run's config, each generation's
decoding) and their dicts are hashed into run and generation ids, so `to_dict()` keeps the shape the
dataclasses these replace gave: an int stays an int (3 and 3.0 hash differently), a tuple a tuple, the
keys their order.
"""
from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, StrictStr, field_validator, model_validator

from hallu_core.data import prompts
from hallu_core.modeling.chat import CHAT_MODES
from hallu_core.validated import Config, ConfigError, Fraction, PositiveInt, Text, check, number

__all__ = ["ConfigError", "DecodingConfig", "DistillConfig", "GenerateConfig", "TrainConfig", "default_demo_decodings"]


CHAT_HELP = ("auto (a tokenizer with a chat template gets prompts as a user turn and answers as the assistant's) "
             "or never (raw prompts)")
SYSTEM_HELP = "null (the chat template's own default) or the system turn's text"


def _without_chat_defaults(out: dict) -> dict:
    """The chat fields count in a config's dict (and so its id) only when set: configs saved before keep their ids."""
    if out.get("chat_template") == "auto":
        out.pop("chat_template")
    if out.get("system_prompt") is None:
        out.pop("system_prompt", None)
    return out


LR_SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial")


class _Training(Config):
    """The data, schedule and logging fields TrainConfig and DistillConfig share."""
    dataset: StrictStr | None = Field(  # prompt -> reference as completion
        None, description="null or a dataset in the workspace (give it or train_file)")
    train_file: StrictStr | None = Field(
        None, description='null or a JSONL file of {"prompt", "completion"} records (give it or dataset)')
    learning_rate: number(gt=0, lt=1) = Field(5e-4, description="a number in (0, 1)")
    epochs: number(gt=0) = Field(3.0, description="a positive number")
    max_steps: StrictInt = Field(-1, description="a positive integer, or -1 to train for `epochs`")
    batch_size: PositiveInt = 8
    grad_accum: PositiveInt = 1
    weight_decay: Fraction = Field(0.0, description="a number in [0, 1)")
    eval_every: PositiveInt = 50
    save_every: PositiveInt = 50
    seed: StrictInt = Field(0, description="an integer")
    max_length: PositiveInt = 256
    val_fraction: Fraction = Field(0.1, description="a number in [0, 1)")
    warmup_steps: StrictInt = Field(0, ge=0, description="a non-negative integer")
    lr_scheduler: Literal[LR_SCHEDULERS] = Field("linear", description=f"one of {', '.join(LR_SCHEDULERS)}")
    report_to: tuple[Literal["tensorboard", "mlflow"], ...] = Field(
        ("tensorboard",), description="a list drawn from tensorboard, mlflow")
    name: Text = "finetune"
    chat_template: Literal[CHAT_MODES] = Field("auto", description=CHAT_HELP)
    system_prompt: StrictStr | None = Field(None, description=SYSTEM_HELP)

    def to_dict(self) -> dict:
        return _without_chat_defaults(super().to_dict())

    @field_validator("max_steps")
    @classmethod
    def _steps_or_epochs(cls, value: int) -> int:
        check(value > 0 or value == -1, "max_steps", value, "a positive integer, or -1 to train for `epochs`")
        return value

    @model_validator(mode="after")
    def _one_data_source(self):
        check((self.dataset is None) != (self.train_file is None), "dataset/train_file",
               (self.dataset, self.train_file), "give exactly one of dataset and train_file")
        return self


class TrainConfig(_Training):
    """A fine-tune (`hallu finetune`): the base model, full or LoRA, and the shared schedule."""
    base_model: Text = Field(description="an HF model id or a local folder")
    method: Literal["full", "lora"] = Field("full", description="one of full, lora")
    dropout: number(ge=0, lt=1) | None = Field(
        None, description="null or a number in [0, 1)")  # None keeps the model's own dropout
    lora_r: PositiveInt = 8
    lora_alpha: PositiveInt = 16
    lora_dropout: Fraction = Field(0.05, description="a number in [0, 1)")
    lora_target_modules: tuple[Text, ...] | None = Field(  # None: peft's default for the architecture
        None, description="null or a list of module names")

    _key_order = ("base_model", "dataset", "train_file", "method", "learning_rate", "epochs", "max_steps",
                  "batch_size", "grad_accum", "weight_decay", "dropout", "lora_r", "lora_alpha", "lora_dropout",
                  "lora_target_modules", "eval_every", "save_every", "seed", "max_length", "val_fraction",
                  "warmup_steps", "lr_scheduler", "report_to", "name", "chat_template", "system_prompt")


SHRINK = "shrink"  # DistillConfig.student: the teacher's own architecture with fewer layers


class DistillConfig(_Training):
    """A student trained on a teacher's token distributions (`hallu distill`); the schedule fields are TrainConfig's.

    loss = alpha * KL(teacher_T || student_T) * T^2 + (1 - alpha) * cross-entropy on the hard labels,
    both over the completion tokens only, as a fine-tune's loss is.
    """
    teacher: Text = Field(  # a checkpoint id, RUN:STEP or run id (its last checkpoint) in the workspace
        description="a checkpoint id, RUN:STEP, an HF model id or a local folder")
    student: Text = Field(SHRINK, description=f"{SHRINK!r}, an HF model id or a local folder")
    student_layers: PositiveInt | None = Field(  # for "shrink": None = half the teacher's layers (at least 1)
        None, description="null or a positive integer")
    temperature: number(gt=0, le=100) = Field(2.0, description="a number in (0, 100]")
    alpha: number(ge=0, le=1) = Field(  # weight of the KL term; 1 - alpha weighs the hard-label cross-entropy
        0.5, description="a number in [0, 1]")
    name: Text = "distill"

    _key_order = ("teacher", "student", "student_layers", "dataset", "train_file", "temperature", "alpha",
                  "learning_rate", "epochs", "max_steps", "batch_size", "grad_accum", "weight_decay", "eval_every",
                  "save_every", "seed", "max_length", "val_fraction", "warmup_steps", "lr_scheduler", "report_to",
                  "name", "chat_template", "system_prompt")

    @model_validator(mode="after")
    def _layers_only_for_shrink(self):
        check(self.student_layers is None or self.student == SHRINK, "student_layers", self.student_layers,
               f"only for student = {SHRINK!r} (a given student keeps its own layers)")
        return self


STRATEGIES = ("greedy", "beam", "sample")


class DecodingConfig(Config):
    strategy: Literal[STRATEGIES] = Field("greedy", description=f"one of {', '.join(STRATEGIES)}")
    num_beams: PositiveInt = 1
    temperature: number(gt=0) = Field(1.0, description="a positive number")
    top_p: number(gt=0, le=1) = Field(1.0, description="a number in (0, 1]")
    top_k: StrictInt = Field(0, ge=0, description="a non-negative integer (0 = off)")
    num_samples: PositiveInt = Field(  # outputs per prompt (sample: independent draws; beam: the top beams)
        1, description="a positive integer")
    max_new_tokens: PositiveInt = 64
    seed: StrictInt = Field(  # sampling seed, part of the content hash so a rerun draws the same samples
        0, description="an integer")

    @model_validator(mode="after")
    def _strategy_fits(self):
        if self.strategy == "greedy":
            check(self.num_samples == 1, "num_samples", self.num_samples, "greedy decoding gives 1 output")
            check(self.num_beams == 1, "num_beams", self.num_beams, "greedy decoding uses 1 beam")
        if self.strategy == "beam":
            check(self.num_beams > 1, "num_beams", self.num_beams, "beam search needs at least 2 beams")
            check(self.num_samples <= self.num_beams, "num_samples", self.num_samples,
                   f"at most num_beams ({self.num_beams}) outputs per prompt")
        return self

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


class GenerateConfig(Config):
    checkpoints: tuple[Annotated[StrictStr, Field(min_length=1)], ...] = Field(
        min_length=1, description="a non-empty list of checkpoint ids")  # checkpoint ids in the workspace
    dataset: StrictStr | None = Field(None, description="a dataset name, or null for every example in the workspace")
    decodings: tuple[DecodingConfig, ...] = Field(
        (DecodingConfig(),), min_length=1, description="a non-empty list of decoding configs")
    batch_size: PositiveInt = 16
    backend: Literal["hf", "vllm"] = Field("hf", description="one of hf, vllm")
    prompt_template: str = Field(prompts.CLOSED_BOOK, description=(
        "a template name (closed-book, grounded) or a template text with {prompt} and {source}"))
    chat_template: Literal[CHAT_MODES] = Field("auto", description=CHAT_HELP)
    system_prompt: StrictStr | None = Field(None, description=SYSTEM_HELP)

    @field_validator("decodings", mode="before")
    @classmethod
    def _decodings_in_their_own_words(cls, value: Any) -> Any:
        # JSON gives dicts: each is checked as a DecodingConfig of its own, so its errors read as one's
        if isinstance(value, (list, tuple)):
            return tuple(DecodingConfig.from_dict(d) if isinstance(d, dict) else d for d in value)
        return value

    @field_validator("prompt_template", mode="before")
    @classmethod
    def _known_template(cls, value: Any) -> Any:
        why = prompts.problem(value)
        check(why is None, "prompt_template", value, why or "")
        return value

    def to_dict(self) -> dict:
        return _without_chat_defaults({**super().to_dict(), "checkpoints": list(self.checkpoints)})


def default_demo_decodings(max_new_tokens: int = 48,
                           temperatures: tuple[float, ...] = (0.7, 1.3)) -> tuple[DecodingConfig, ...]:
    """The strategies the demo compares: greedy, and plain sampling at each temperature (no top-p cut, so
    the temperature alone decides how far from the likeliest tokens a sample wanders)."""
    return (DecodingConfig(strategy="greedy", max_new_tokens=max_new_tokens),
            *(DecodingConfig(strategy="sample", temperature=t, max_new_tokens=max_new_tokens) for t in temperatures))
