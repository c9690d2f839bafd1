"""Chat prompting's settings and identity, without a model: what a user relies on when configs change."""
from __future__ import annotations

from types import SimpleNamespace

from hallu_core.data import prompts
from hallu_core.modeling.chat import chat_format, identity
from hallu_core.modeling.config import GenerateConfig, TrainConfig
from hallu_core.modeling.train import run_id_for


def test_chat_settings_at_their_defaults_leave_config_ids_as_they_were():
    plain = TrainConfig(base_model="gpt2", dataset="d")
    assert "chat_template" not in plain.to_dict() and "system_prompt" not in plain.to_dict()
    assert run_id_for(plain) == run_id_for(TrainConfig(base_model="gpt2", dataset="d", chat_template="auto"))
    # a setting that changes what the model sees makes another run
    assert run_id_for(plain) != run_id_for(plain.replace(chat_template="never"))
    assert run_id_for(plain) != run_id_for(plain.replace(system_prompt="Answer briefly."))
    assert GenerateConfig(checkpoints=("c",), system_prompt="Be terse.").to_dict()["system_prompt"] == "Be terse."


def test_a_tokenizer_without_a_template_is_prompted_raw_and_keeps_its_generation_ids():
    raw = SimpleNamespace(chat_template=None)
    assert chat_format(raw) is None and identity(None) == {}
    templated = SimpleNamespace(chat_template="{{ messages }}")
    assert chat_format(templated, "never") is None
    chat = chat_format(templated, "auto", "Be terse.")
    assert identity(chat) == {"chat_template": {"system_prompt": "Be terse."}}


def test_inspect_shows_the_prompt_as_the_model_saw_it():
    chat_meta = {"backend": "hf", "model_prompt": "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n"}
    assert prompts.as_seen(chat_meta, "Q?", None) == chat_meta["model_prompt"]
    assert prompts.as_seen({"backend": "hf", "prompt_template": "grounded"}, "Q?", "S.") == "Source:\nS.\n\nQ?"
    assert prompts.as_seen({"backend": "hf"}, "Q?", "S.") == "Q?"
    custom = {"backend": "hf", "prompt_template": "custom-1", "prompt_template_text": "[{source}] {prompt}"}
    assert prompts.as_seen(custom, "Q?", "S.") == "[S.] Q?"
    assert prompts.as_seen({}, "Q?", None) is None  # an imported output: Hallu did not prompt it
