"""One generation from any model reference, for a quick look from a terminal (`hallu ask`)."""
from __future__ import annotations

from typing import Callable

from hallu_core.data import prompts
from hallu_core.modeling.chat import chat_format
from hallu_core.modeling.config import ConfigError, DecodingConfig
from hallu_core.modeling.generate import checkpoint_location
from hallu_core.modeling.generate_backends import HFBackend, Output
from hallu_core.modeling.model_refs import resolve_checkpoint_ids
from hallu_core.modeling.model_sources import local_model
from hallu_core.store.database import Store

Progress = Callable[[int, int, str], None]


def model_location(store: Store, ref: str, progress: Progress | None = None) -> tuple[str, str | None]:
    """(weights, adapter base or None) of a checkpoint id, RUN:STEP, run id (its last checkpoint), bundled
    short name, .gguf file, local folder or HF id."""
    try:
        ids = resolve_checkpoint_ids(store, [ref])
    except ConfigError:
        return local_model(ref, store.root, progress), None
    return checkpoint_location(store, store.get_checkpoint(ids[-1]))


def ask(store: Store, model: str, prompt: str, *, source: str | None = None, max_new_tokens: int = 64,
        chat_template: str = "auto", system_prompt: str | None = None, progress: Progress | None = None) -> Output:
    """The model's greedy answer to `prompt` (after `source`, as the grounded template puts it, when given)."""
    location, base = model_location(store, model, progress)
    backend = HFBackend.load(location, base)
    backend.chat = chat_format(backend.loaded.tokenizer, chat_template, system_prompt)
    text = prompts.render(prompts.GROUNDED if source else prompts.CLOSED_BOOK, prompt, source)
    decoding = DecodingConfig(strategy="greedy", max_new_tokens=max_new_tokens)
    return backend.generate([text], decoding)[0][0]
