"""Which models a job can start from, checked before the job starts, and which checkpoints a reference names
(no torch import here: `hallu detect` resolves its checkpoints too).

The dashboard offers the workspace's own models (the demo base model, every checkpoint on
disk) and checks a typed reference before queueing a job, so a job never starts only to
fail minutes later trying to reach the hub.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable

from hallu_core.errors import ModelLoadError
from hallu_core.validated import ConfigError
from hallu_core.store.database import Store

log = logging.getLogger(__name__)
MODEL_FILES = ("config.json", "adapter_config.json")


def local_models(store: Store) -> list[tuple[str, str]]:
    """(reference, label) of every model a fine-tune can start from here: the bundled models that are
    installed (by short name, with where they came from), then every checkpoint whose folder holds a model
    (path as stored, "run / checkpoint (step N)")."""
    from hallu_core.modeling.model_sources import BUNDLED, bundled_file

    bundled = []
    for model in BUNDLED.values():
        try:
            bundled_file(model.name)
        except ModelLoadError:
            continue
        bundled.append((model.name, f"{model.name} (bundled: {model.origin})"))
    rows = store.query("SELECT c.path, r.name, c.name, c.step, r.kind FROM checkpoints c JOIN runs r ON r.id = c.run_id "
                       "WHERE c.path IS NOT NULL AND c.path != '' ORDER BY r.created_at, r.id, c.step")
    out, seen = [], set()
    for path, run, name, step, kind in rows:
        folder = Path(path) if Path(path).is_absolute() else store.root / path
        if path in seen or not any((folder / f).is_file() for f in MODEL_FILES):
            continue
        seen.add(path)
        what = "base model" if step == 0 and kind == "finetune" else f"step {step}"
        out.append((path, f"{run} / {name} ({what})"))
    return bundled + out


def model_problem(ref: str, timeout: float = 5.0) -> str | None:
    """Why `ref` (an absolute folder or an HF id, as `paths.confine_model_ref` returns it) cannot load; None if it can."""
    from hallu_core.modeling.model_sources import BUNDLED, bundled_file

    if ref in BUNDLED:
        try:
            bundled_file(ref)
        except ModelLoadError as exc:
            return str(exc)
        return None
    path = Path(ref)
    if ref.lower().endswith(".gguf"):
        return None if path.is_file() else f"{ref} is not a file"
    if path.is_absolute():
        if not path.is_dir():
            return f"{ref} is not a folder"
        if not any((path / f).is_file() for f in MODEL_FILES):
            return f"{ref} holds no config.json: it is not a model folder"
        return None
    try:
        from huggingface_hub import HfApi, try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on it
        return None
    if isinstance(try_to_load_from_cache(ref, "config.json"), str):
        return None
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return (f"{ref!r} is neither a model folder nor in the Hugging Face cache, and HF_HUB_OFFLINE is set: "
                "choose a model of this workspace or a local folder")
    try:
        HfApi().model_info(ref, timeout=timeout)
    except Exception as exc:  # no network, no such repository, gated: all mean the job would fail
        log.info("model check of %r failed: %s", ref, exc)
        return f"cannot reach {ref!r} on the Hugging Face hub ({type(exc).__name__}); choose a local model"
    return None


def resolve_checkpoint_ids(store: Store, refs: Iterable[str]) -> list[str]:
    """Checkpoint ids from refs that are checkpoint ids, runs (all their checkpoints) or RUN:STEP, a run named
    by its id or its name (`Store.run_id_of`: a name several runs share is refused with their ids)."""
    ids: list[str] = []
    for ref in refs:
        if store.get_checkpoint(ref):
            ids.append(ref)
        elif run_id := store.run_id_of(ref):
            found = [c.id for c in store.checkpoints(run_id)]
            if not found:
                raise ConfigError(f"run {ref!r} has no checkpoints yet")
            ids.extend(found)
        elif ":" in ref and (run_id := store.run_id_of(ref.rsplit(":", 1)[0])):
            step = ref.rsplit(":", 1)[1]
            match = [c.id for c in store.checkpoints(run_id) if str(c.step) == step or c.name == step]
            if not match:
                raise ConfigError(f"run {ref.rsplit(':', 1)[0]!r} has no checkpoint {step!r}")
            ids.extend(match)
        else:
            raise ConfigError(f"{ref!r} is no checkpoint id, run id or name, or RUN:STEP in the workspace")
    return list(dict.fromkeys(ids))
