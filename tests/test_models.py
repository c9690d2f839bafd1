"""models.py: device/dtype resolution, save + reload, LoRA adapters on top of their base."""
from __future__ import annotations

import os

# spin-waiting OpenMP threads starve each other on a shared 2-core box (2-3x slower)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from hallu_core.demo.base_model import make_tiny_model  # noqa: E402
from hallu_core.modeling.models import (  # noqa: E402
    ModelLoadError, is_adapter, load_for_generation, load_model, load_tokenizer, resolve_device, resolve_dtype,
)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model", pretrain_steps=5)


def _logits(model, tokenizer, text="Ada Lindqvist was born in"):
    ids = tokenizer(text, return_tensors="pt")["input_ids"].to(next(model.parameters()).device)
    with torch.no_grad():
        return model(input_ids=ids).logits.float().cpu()


def test_device_and_dtype_are_resolved_once():
    assert resolve_device() is resolve_device()
    if not torch.cuda.is_available():
        assert resolve_dtype("cpu") == torch.float32
        assert resolve_device().type in ("cpu", "mps")


def test_save_and_reload_give_identical_logits(tiny_dir, tmp_path):
    model = load_model(tiny_dir)
    tokenizer = load_tokenizer(tiny_dir)
    model.save_pretrained(tmp_path / "copy")
    tokenizer.save_pretrained(tmp_path / "copy")
    again = load_model(tmp_path / "copy")
    assert torch.equal(_logits(model, tokenizer), _logits(again, tokenizer))


def test_lora_adapter_saves_and_loads_on_its_base(tiny_dir, tmp_path):
    from peft import LoraConfig, get_peft_model

    base = load_model(tiny_dir)
    tokenizer = load_tokenizer(tiny_dir)
    before = _logits(base, tokenizer)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"], task_type="CAUSAL_LM"))
    torch.manual_seed(1)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:  # B starts at zero (a no-op adapter): make it matter
            param.data.normal_(0, 0.5)
    adapted = _logits(peft_model, tokenizer)
    assert not torch.allclose(before, adapted)
    peft_model.save_pretrained(tmp_path / "adapter")
    assert is_adapter(tmp_path / "adapter")
    reloaded = load_model(tmp_path / "adapter", base_model=str(tiny_dir))
    assert torch.allclose(adapted, _logits(reloaded, tokenizer), atol=1e-6)
    # the tokenizer of an adapter folder without one comes from its base
    assert load_tokenizer(tmp_path / "adapter").get_vocab() == tokenizer.get_vocab()


def test_generation_loading_sets_left_padding_and_pad_token(tiny_dir):
    loaded = load_for_generation(tiny_dir)
    assert loaded.tokenizer.padding_side == "left"
    assert loaded.tokenizer.pad_token is not None
    assert not loaded.model.training


def test_dropout_override_only_touches_known_fields(tiny_dir):
    model = load_model(tiny_dir, config_overrides={"resid_pdrop": 0.3, "not_a_field": 1})
    assert model.config.resid_pdrop == 0.3
    assert not hasattr(model.config, "not_a_field")


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model(tmp_path / "nothing-here")
