"""Generate from checkpoints on an evaluation set, into the store.

Every generation is content-addressed (example x checkpoint x decoding [x prompt template, when
not closed-book] x sample index, `types.generation_id`), so a rerun skips what exists and a killed run picks up where it
stopped: results are stored batch by batch. Backends and the meaning of the stored
logprob/entropy are in `generate_backends`.
"""
from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch

from hallu_core.data import prompts
from hallu_core.modeling.config import ConfigError, DecodingConfig, GenerateConfig
from hallu_core.modeling.generate_backends import Output, load_backend
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
    return location, base


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
                             backend: str = "hf", prompt_template: str = prompts.CLOSED_BOOK,
                             progress: Progress | None = None) -> dict:
    """Generate every missing (example, checkpoint, decoding, sample); returns counts.

    Examples: `examples` as given, else the workspace's (one `dataset`, or all), narrowed
    to `example_ids` when given. Each prompt goes through `prompt_template` (prompts.py).
    Returns {"generated", "skipped", "checkpoints"}.
    """
    progress = progress or _no_progress
    if (why := prompts.problem(prompt_template)) is not None:
        raise ConfigError(f"prompt_template = {prompt_template!r}: {why}")
    chosen = select_examples(store, examples=examples, example_ids=example_ids, dataset=dataset)
    _check_sources(chosen, prompt_template)
    checkpoints = []
    for cid in checkpoint_ids:
        checkpoint = store.get_checkpoint(cid)
        if checkpoint is None:
            raise ConfigError(f"no checkpoint {cid!r} in the workspace")
        checkpoints.append(checkpoint)
    # plan first, so progress has a true total and finished work is never reloaded
    plan, skipped = [], 0
    for checkpoint in checkpoints:
        for decoding in decodings:
            identity = prompts.identity(decoding.hash_dict(), prompt_template)
            ids = {(e.id, k): generation_id(e.id, checkpoint.id, identity, k)
                   for e in chosen for k in range(decoding.num_samples)}
            existing = store.existing_generation_ids(ids.values())
            todo = [(i, e) for i, e in enumerate(chosen)
                    if any(ids[e.id, k] not in existing for k in range(decoding.num_samples))]
            skipped += len(existing)
            if todo:
                plan.append((checkpoint, decoding, todo))
    total = sum(len(todo) for _, _, todo in plan)
    done = generated = 0
    progress(0, total, "generating")
    for checkpoint in {c.id: c for c, _, _ in plan}.values():  # one model load per checkpoint
        location, base = checkpoint_location(store, checkpoint)
        model = load_backend(backend, location, base)
        for _, decoding, todo in (p for p in plan if p[0] is checkpoint):
            # the seed depends on what is generated, not on when: reruns draw the same samples
            identity = prompts.identity(decoding.hash_dict(), prompt_template)
            seed = int(content_hash(checkpoint.id, identity, length=8), 16) % 2**31
            for first, batch in _batches(todo, batch_size):
                texts = [prompts.render(prompt_template, e.prompt, e.source) for e in batch]
                outputs = model.generate(texts, decoding, seed=seed + first)
                generated += store.add_generations(_records(checkpoint, decoding, batch, outputs, backend,
                                                            prompt_template))
                done += len(batch)
                label = prompts.label(decoding.name, prompts.name_of(prompt_template))
                progress(done, total, f"{checkpoint.name} / {label}: {done}/{total}")
        del model
        _free_memory()
    log.info("generated %d, skipped %d existing, over %d checkpoints", generated, skipped, len(checkpoints))
    return {"generated": generated, "skipped": skipped, "checkpoints": len(checkpoints)}


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
                                    progress=progress)


def resolve_checkpoint_ids(store: Store, refs: Iterable[str]) -> list[str]:
    """Checkpoint ids from refs that are checkpoint ids, run ids (all their checkpoints) or RUN:STEP."""
    ids: list[str] = []
    for ref in refs:
        if store.get_checkpoint(ref):
            ids.append(ref)
        elif store.get_run(ref):
            found = [c.id for c in store.checkpoints(ref)]
            if not found:
                raise ConfigError(f"run {ref!r} has no checkpoints yet")
            ids.extend(found)
        elif ":" in ref and store.get_run(ref.rsplit(":", 1)[0]):
            run_id, step = ref.rsplit(":", 1)
            match = [c.id for c in store.checkpoints(run_id) if str(c.step) == step or c.name == step]
            if not match:
                raise ConfigError(f"run {run_id!r} has no checkpoint {step!r}")
            ids.extend(match)
        else:
            raise ConfigError(f"{ref!r} is no checkpoint id, run id or RUN:STEP in the workspace")
    return list(dict.fromkeys(ids))


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
             outputs: list[list[Output]], backend: str, prompt_template: str = prompts.CLOSED_BOOK) -> list[Generation]:
    records = []
    identity = prompts.identity(decoding.hash_dict(), prompt_template)
    label = prompts.label(decoding.name, prompts.name_of(prompt_template))
    template = _template_meta(prompt_template)
    for example, samples in zip(examples, outputs):
        for k, out in enumerate(samples):
            records.append(Generation(
                id=generation_id(example.id, checkpoint.id, identity, k), example_id=example.id,
                checkpoint_id=checkpoint.id, text=out.text, decoding=decoding.hash_dict(),
                decoding_name=label, sample_index=k, tokens=out.tokens,
                meta={**out.meta, "backend": backend, "logprob_basis": "model", **template},
            ))
    return records


def _free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
