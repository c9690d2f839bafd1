"""Generate from checkpoints on an evaluation set, into the store.

Every generation is content-addressed (example x checkpoint x decoding [x prompt template, when
not closed-book] x sample index, `types.generation_id`), so a rerun skips what exists and a killed run picks up where it
stopped: results are stored batch by batch. Backends and the meaning of the stored
logprob/entropy are in `generate_backends`.
"""
from __future__ import annotations

import gc
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch

from hallu_core.data import prompts
from hallu_core.modeling.chat import ChatFormat, chat_format
from hallu_core.modeling.chat import identity as chat_identity
from hallu_core.modeling.config import ConfigError, DecodingConfig, GenerateConfig
from hallu_core.modeling.decoding_names import workspace_label
from hallu_core.modeling.generate_backends import Output, load_backend
from hallu_core.modeling.model_refs import resolve_checkpoint_ids
from hallu_core.modeling.model_sources import local_model
from hallu_core.modeling.models import is_adapter, load_tokenizer
from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Example, Generation, content_hash, generation_id

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]


def _no_progress(done: int, total: int, message: str = "") -> None:
    pass


def generate_texts(backend, prompts: Sequence[str], decoding: DecodingConfig, *, batch_size: int = 16,
                   seed: int = 0, progress: Progress | None = None) -> list[list[Output]]:
    """Outputs for each prompt (num_samples each), in batches of `batch_size` prompts."""
    progress = progress or _no_progress
    results: list[list[Output]] = []
    for lo in range(0, len(prompts), batch_size):
        results.extend(backend.generate(list(prompts[lo:lo + batch_size]), decoding, seed=seed + lo))
        progress(min(lo + batch_size, len(prompts)), len(prompts), f"generating ({decoding.name})")
    return results


def checkpoint_location(store: Store, checkpoint: Checkpoint) -> tuple[str, str | None]:
    """Where a checkpoint's weights are, and the base model for an adapter checkpoint.

    Stored paths are relative to the workspace; a path that is no folder there is an HF id.
    """
    if not checkpoint.path:
        raise ValueError(f"checkpoint {checkpoint.name!r} ({checkpoint.id}) has no weights to generate from "
                         "(imported generations have no model)")

    def resolve(stored: str) -> str:
        local = store.abspath(stored)
        return str(local) if local.exists() else stored

    run = store.get_run(checkpoint.run_id)
    base = resolve(run.base_model) if run and run.base_model else None
    location = resolve(checkpoint.path)
    if location.startswith("artifacts/"):  # inside the workspace, yet not there
        location = str(store.abspath(location))
    if (Path(location).is_absolute() or location.startswith("artifacts/")) and not Path(location).exists():
        raise FileNotFoundError(f"checkpoint {checkpoint.name!r}: folder {location} is missing")
    # a bundled model's short name or a .gguf file: its converted folder (converted on first use); the run's base
    # only for an adapter, which needs it (a full checkpoint loads without it, even where the base is gone)
    location = local_model(location, store.root)
    return location, (local_model(base, store.root) if base and is_adapter(location) else None)


def select_examples(store: Store, *, examples: Iterable[Example] | None = None, example_ids: Iterable[str] | None = None,
                    dataset: str | None = None) -> list[Example]:
    if examples is not None:
        return list(examples)
    chosen = store.examples(dataset)
    if example_ids is not None:
        wanted = set(example_ids)
        chosen = [e for e in chosen if e.id in wanted]
    return chosen


def generate_for_checkpoints(store: Store, checkpoint_ids: Sequence[str], *, examples: Iterable[Example] | None = None,
                             example_ids: Iterable[str] | None = None, dataset: str | None = None,
                             decodings: Sequence[DecodingConfig] = (DecodingConfig(),), batch_size: int = 16,
                             backend: str = "hf", prompt_template: str | Sequence[str] = prompts.CLOSED_BOOK,
                             chat_template: str = "auto", system_prompt: str | None = None,
                             progress: Progress | None = None) -> dict:
    """Generate every missing (example, checkpoint, decoding, sample); returns counts.

    Examples: `examples` as given, else the workspace's (one `dataset`, or all), narrowed
    to `example_ids` when given. Each prompt goes through `prompt_template` (prompts.py; several templates
    share each model load), then, for a
    model whose tokenizer has one, its chat template (chat.py; `chat_template="never"` keeps raw prompts).
    Returns {"generated", "skipped", "checkpoints", "empty"}: `empty` counts stored outputs with no text
    (a chat model prompted raw answers its end-of-turn token at once), which is also logged as a warning.
    """
    progress = progress or _no_progress
    templates = [prompt_template] if isinstance(prompt_template, str) else list(dict.fromkeys(prompt_template))
    for template in templates:
        if (why := prompts.problem(template)) is not None:
            raise ConfigError(f"prompt_template = {template!r}: {why}")
    chosen = select_examples(store, examples=examples, example_ids=example_ids, dataset=dataset)
    for template in templates:
        _check_sources(chosen, template)
    checkpoints = []
    for cid in checkpoint_ids:
        checkpoint = store.get_checkpoint(cid)
        if checkpoint is None:
            raise ConfigError(f"no checkpoint {cid!r} in the workspace")
        checkpoints.append(checkpoint)
    # plan first, so progress has a true total and finished work is never reloaded
    plan, skipped, chats = [], 0, {}
    # (location, adapter base), resolved once; an imported checkpoint has none (it fails below if asked to generate)
    weights = {c.id: checkpoint_location(store, c) for c in checkpoints if c.path}
    for checkpoint in checkpoints:
        chats[checkpoint.id] = _chat_for(weights.get(checkpoint.id), chat_template, system_prompt)
        for template in templates:
            for decoding in decodings:
                identity = _identity(decoding, template, chats[checkpoint.id])
                ids = {(e.id, k): generation_id(e.id, checkpoint.id, identity, k)
                       for e in chosen for k in range(decoding.num_samples)}
                existing = store.existing_generation_ids(ids.values())
                todo = [(i, e) for i, e in enumerate(chosen)
                        if any(ids[e.id, k] not in existing for k in range(decoding.num_samples))]
                skipped += len(existing)
                if todo:
                    plan.append((checkpoint, decoding, template, todo))
    total = sum(len(todo) for *_, todo in plan)
    done = generated = empty = 0
    labels = {}  # one name per (decoding, template), chosen before this call stores anything (decoding_names.py)
    for _, decoding, template, _ in plan:
        if (key := _label_key(decoding, template)) not in labels:
            labels[key] = workspace_label(store, decoding, template, taken=set(labels.values()))
    progress(0, total, "generating")
    shared = _SharedOutputs(weights)
    for checkpoint in {p[0].id: p[0] for p in plan}.values():  # one model load per checkpoint
        chat, entries = chats[checkpoint.id], [p for p in plan if p[0] is checkpoint]
        model = None
        if not all(shared.has(checkpoint, _identity(d, t, chat), [e for _, e in todo]) for _, d, t, todo in entries):
            model = load_backend(backend, *(weights.get(checkpoint.id) or checkpoint_location(store, checkpoint)))
            model.chat = chat
        for _, decoding, template, todo in entries:
            # the seed depends on what is generated, not on when: reruns draw the same samples
            identity = _identity(decoding, template, chat)
            seed = int(content_hash(checkpoint.id, identity, length=8), 16) % 2**31
            label = labels[_label_key(decoding, template)]
            for first, batch in _batches(todo, batch_size):
                outputs = shared.get(checkpoint, identity, batch)
                if outputs is None:
                    texts = [prompts.render(template, e.prompt, e.source) for e in batch]
                    outputs = model.generate(texts, decoding, seed=seed + first)
                    shared.keep(checkpoint, identity, batch, outputs)
                empty += sum(not out.text.strip() for samples in outputs for out in samples)
                generated += store.add_generations(_records(checkpoint, decoding, batch, outputs, backend,
                                                            template, chat, label))
                done += len(batch)
                progress(done, total, f"{checkpoint.name} / {label}: {done}/{total}")
        del model
        _free_memory()
    log.info("generated %d, skipped %d existing, over %d checkpoints", generated, skipped, len(checkpoints))
    if empty:
        log.warning("%d of %d new outputs are empty (no text, or special tokens only): a chat model prompted "
                    "without its chat template, or max_new_tokens too low?", empty, generated)
    return {"generated": generated, "skipped": skipped, "checkpoints": len(checkpoints), "empty": empty}


class _SharedOutputs:
    """Outputs of a deterministic decoding (greedy, beam) kept for checkpoints with the very same weights: every
    run of one base model has that model as its step 0, and it answers greedily once, not once per run."""

    def __init__(self, weights: dict[str, tuple[str, str | None]]):
        self.weights = weights  # checkpoint id -> (location, adapter base)
        counts = Counter(self.weights.values())
        self.twins = {key for key, n in counts.items() if n > 1}
        self.outputs: dict[tuple, list[Output]] = {}

    def _key(self, checkpoint: Checkpoint, identity: dict, example: Example) -> tuple | None:
        weights = self.weights.get(checkpoint.id)
        if weights not in self.twins or identity.get("strategy") == "sample":
            return None
        return weights, json.dumps(identity, sort_keys=True), example.id

    def has(self, checkpoint: Checkpoint, identity: dict, examples: list[Example]) -> bool:
        return all((key := self._key(checkpoint, identity, e)) is not None and key in self.outputs for e in examples)

    def get(self, checkpoint: Checkpoint, identity: dict, examples: list[Example]) -> list[list[Output]] | None:
        if not self.has(checkpoint, identity, examples):
            return None
        return [self.outputs[self._key(checkpoint, identity, e)] for e in examples]

    def keep(self, checkpoint: Checkpoint, identity: dict, examples: list[Example],
             outputs: list[list[Output]]) -> None:
        for example, samples in zip(examples, outputs):
            if (key := self._key(checkpoint, identity, example)) is not None:
                self.outputs[key] = samples


def _chat_for(weights: tuple[str, str | None] | None, mode: str, system_prompt: str | None) -> ChatFormat | None:
    """The chat format a checkpoint's prompts go through (its tokenizer's template), None for raw prompts."""
    if mode == "never" or weights is None:
        return None
    location, base = weights
    return chat_format(load_tokenizer(location, base_model=base), mode, system_prompt)


def _label_key(decoding: DecodingConfig, template: str) -> tuple[str, str]:
    return content_hash(decoding.hash_dict()), template


def _identity(decoding: DecodingConfig, prompt_template: str, chat: ChatFormat | None) -> dict:
    return {**prompts.identity(decoding.hash_dict(), prompt_template), **chat_identity(chat)}


def _batches(todo: list[tuple[int, Example]], batch_size: int):
    """(index of the batch's first item, its examples) over fixed slices of the whole example list.

    Batches are cut by each example's index in the full list, not by its place in what is left,
    so a resumed run generates the same batches with the same seeds as an uninterrupted one
    (a batch is stored whole, so a killed run leaves whole batches to do)."""
    groups: dict[int, list[Example]] = {}
    for i, example in todo:
        groups.setdefault(i // batch_size, []).append(example)
    for b, examples in groups.items():
        yield b * batch_size, examples


def generate_from_config(store: Store, config: GenerateConfig, progress: Progress | None = None) -> dict:
    """`hallu generate` with a GenerateConfig (checkpoint refs resolved as in `resolve_checkpoint_ids`)."""
    return generate_for_checkpoints(store, resolve_checkpoint_ids(store, config.checkpoints), dataset=config.dataset,
                                    decodings=config.decodings, batch_size=config.batch_size,
                                    backend=config.backend, prompt_template=config.prompt_template,
                                    chat_template=config.chat_template, system_prompt=config.system_prompt,
                                    progress=progress)


def _check_sources(examples: list[Example], prompt_template: str) -> None:
    if (why := prompts.source_problem(examples, prompt_template)) is not None:
        raise ConfigError(why)


def _template_meta(prompt_template: str) -> dict:
    """What a generation stores about its template: nothing for closed-book (as before templates existed)."""
    name = prompts.name_of(prompt_template)
    if name == prompts.CLOSED_BOOK:
        return {}
    return {"prompt_template": name, **({"prompt_template_text": prompt_template} if name != prompt_template else {})}


def _records(checkpoint: Checkpoint, decoding: DecodingConfig, examples: list[Example],
             outputs: list[list[Output]], backend: str, prompt_template: str = prompts.CLOSED_BOOK,
             chat: ChatFormat | None = None, label: str | None = None) -> list[Generation]:
    records = []
    identity = _identity(decoding, prompt_template, chat)
    label = label or prompts.label(decoding.name, prompts.name_of(prompt_template))
    template = _template_meta(prompt_template)
    for example, samples in zip(examples, outputs):
        for k, out in enumerate(samples):
            records.append(Generation(
                id=generation_id(example.id, checkpoint.id, identity, k), example_id=example.id,
                checkpoint_id=checkpoint.id, text=out.text, decoding=decoding.hash_dict(),
                decoding_name=label, sample_index=k, tokens=out.tokens,
                meta={**out.meta, "backend": backend, "logprob_basis": "model", **template, **chat_identity(chat)},
            ))
    return records


def _free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
