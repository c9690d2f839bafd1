"""The one place that loads models: device and dtype are decided here, once.

A model is an HF id or a local folder. A folder holding `adapter_config.json` is a
peft (LoRA) adapter: its base is loaded first and the adapter put on top. Nothing
here downloads when HF_HUB_OFFLINE=1 is set; a missing model is a clear error.
"""
from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from hallu_core.errors import ModelLoadError

log = logging.getLogger(__name__)
# transformers draws its own tqdm bars on load/save; progress belongs to the caller's `progress`
hf_logging.disable_progress_bar()
ADAPTER_CONFIG = "adapter_config.json"
# config attribute names that different architectures use for their dropout probabilities
DROPOUT_FIELDS = ("dropout", "attention_dropout", "hidden_dropout", "resid_pdrop", "embd_pdrop", "attn_pdrop",
                  "hidden_dropout_prob", "attention_probs_dropout_prob", "summary_first_dropout")


@functools.lru_cache(maxsize=1)
def resolve_device() -> torch.device:
    """cuda > mps > cpu, decided once per process."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@functools.lru_cache(maxsize=4)
def resolve_dtype(device_type: str | None = None) -> torch.dtype:
    """bf16 on CUDA cards that support it (halves memory, same range as fp32); fp32 elsewhere."""
    device_type = device_type or resolve_device().type
    if device_type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def is_adapter(location: str | Path) -> bool:
    return Path(location).joinpath(ADAPTER_CONFIG).is_file()


def adapter_base(location: str | Path) -> str:
    """The base model an adapter folder was trained on, as peft recorded it."""
    config = json.loads(Path(location).joinpath(ADAPTER_CONFIG).read_text(encoding="utf-8"))
    return config["base_model_name_or_path"]


def load_tokenizer(location: str | Path, *, for_generation: bool = False,
                   base_model: str | Path | None = None) -> PreTrainedTokenizerBase:
    """A tokenizer with a pad token; left padding for generation so prompts end where new tokens start.

    An adapter folder saved without its tokenizer uses its base's (`base_model`, else the one peft recorded)."""
    location = str(location)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
    except (OSError, ValueError) as exc:
        if is_adapter(location):
            return load_tokenizer(base_model or adapter_base(location), for_generation=for_generation)
        raise ModelLoadError(f"cannot load a tokenizer from {location}: {exc}") from exc
    if tokenizer.pad_token is None:
        # causal LMs rarely have one; EOS is safe because padded positions are masked
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left" if for_generation else "right"
    return tokenizer


def load_model(location: str | Path, *, base_model: str | Path | None = None, device: torch.device | None = None,
               dtype: torch.dtype | None = None, trainable_adapter: bool = False,
               config_overrides: dict | None = None) -> PreTrainedModel:
    """Load a causal LM (or base + LoRA adapter) onto the resolved device.

    `base_model` overrides the base an adapter folder names (its recorded path may be
    stale after a workspace moved). `config_overrides` sets config fields the model
    has (e.g. dropout) and ignores the rest.
    """
    device = device or resolve_device()
    dtype = dtype or resolve_dtype(device.type)
    location = str(location)
    if is_adapter(location):
        from peft import PeftModel  # peft only when an adapter is used

        base = load_model(base_model or adapter_base(location), device=device, dtype=dtype,
                          config_overrides=config_overrides)
        return PeftModel.from_pretrained(base, location, is_trainable=trainable_adapter).to(device)
    try:
        config = AutoConfig.from_pretrained(location)
        for name, value in (config_overrides or {}).items():
            if hasattr(config, name):
                setattr(config, name, value)
        model = AutoModelForCausalLM.from_pretrained(location, config=config, dtype=dtype)
    except Exception as exc:  # corrupt weights raise the loaders' own error types; a cancel is no Exception
        raise ModelLoadError(f"cannot load a causal LM from {location}: {type(exc).__name__}: {exc}") from exc
    log.info("loaded %s on %s as %s", location, device, dtype)
    return model.to(device)


def dropout_overrides(dropout: float | None) -> dict:
    return {} if dropout is None else {name: dropout for name in DROPOUT_FIELDS}


@dataclass
class LoadedModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    location: str

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def load_for_generation(location: str | Path, *, base_model: str | Path | None = None,
                        device: torch.device | None = None) -> LoadedModel:
    """Model in eval mode + left-padding tokenizer, ready for batched generation."""
    model = load_model(location, base_model=base_model, device=device)
    if hasattr(model, "merge_and_unload"):  # a LoRA adapter folded into its base: same outputs, faster steps
        model = model.merge_and_unload()
    model.eval()
    tokenizer = load_tokenizer(location, for_generation=True, base_model=base_model)
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return LoadedModel(model, tokenizer, str(location))
