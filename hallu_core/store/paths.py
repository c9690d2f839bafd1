"""Confinement of paths typed into the dashboard.

A model or data path that a user types into the UI is resolved (symlinks, `..`, `~`)
and must lie inside an allowed folder: the workspace, the models folder
(`HALLU_MODELS_DIR` or `HALLU_MODELS`, default `<workspace>/models`), and whatever the operator adds
with `HALLU_ALLOWED_PATHS` (folders separated by `os.pathsep`). Without this, anyone
who can reach the dashboard could make it read (or write checkpoints to) any file the
server's user can. A value that is not a path but a Hugging Face model id ("gpt2",
"org/name") passes unchanged, as an id: the hub, not the disk, is asked for it.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

MODELS_ENV = "HALLU_MODELS_DIR"
ALLOWED_ENV = "HALLU_ALLOWED_PATHS"

# the hub's repo-id grammar: one optional namespace, [A-Za-z0-9._-], no "--" or ".." runs, <= 96 chars
_HF_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_HF_ID = re.compile(rf"^(?:{_HF_PART}/)?{_HF_PART}$")


class PathNotAllowed(ValueError):
    """A typed path outside the allowed folders (or not a usable path at all)."""

    def __init__(self, value: str, message: str, allowed: list[Path]):
        self.value, self.allowed = value, allowed
        super().__init__(f"{value!r}: {message}. Allowed folders: "
                         f"{', '.join(str(p) for p in allowed) or '(none)'}; an operator can add folders "
                         f"with {ALLOWED_ENV} (separated by {os.pathsep!r}).")


def models_dir(workspace: str | os.PathLike) -> Path:
    configured = (os.environ.get(MODELS_ENV, "") or os.environ.get("HALLU_MODELS", "")).strip()
    base = Path(configured).expanduser() if configured else Path(workspace) / "models"
    return base.resolve()


def allowed_roots(workspace: str | os.PathLike) -> list[Path]:
    """The workspace, the models folder, then the operator's extra folders (resolved, de-duplicated)."""
    roots = [Path(workspace).expanduser().resolve(), models_dir(workspace)]
    for entry in os.environ.get(ALLOWED_ENV, "").split(os.pathsep):
        if entry.strip():
            roots.append(Path(entry.strip()).expanduser().resolve())
    return list(dict.fromkeys(roots))


def is_hf_model_id(value: str, workspace: str | os.PathLike | None = None) -> bool:
    """True for "gpt2" or "org/name" that does not exist as a path (from the workspace or the cwd)."""
    if not value or len(value) > 96 or value[0] in "/.~\\" or "--" in value or ".." in value:
        return False
    if not _HF_ID.match(value):
        return False
    # from_pretrained tries a relative folder (from the process' cwd) before the hub: an "id"
    # that exists there is a path and must pass confinement instead. A namespace that is a
    # local folder ("models/x", "artifacts/x") means a path too, even when x is missing.
    bases = [Path.cwd()] + ([Path(workspace)] if workspace is not None else [])
    first = value.split("/")[0]
    return not any((base / value).exists() or ("/" in value and (base / first).is_dir()) for base in bases)


def confine_path(value: str | os.PathLike, workspace: str | os.PathLike, *, must_exist: bool = False,
                 what: str = "path") -> Path:
    """The resolved path of `value` (relative paths count from the workspace), if it is allowed.

    Raises PathNotAllowed naming the value and the allowed folders otherwise.
    """
    allowed = allowed_roots(workspace)
    raw = os.fspath(value) if not isinstance(value, str) else value
    text = raw.strip()
    if not text:
        raise PathNotAllowed(raw, f"an empty {what} is not a path", allowed)
    if "\x00" in text or any(ord(c) < 32 for c in text):
        raise PathNotAllowed(raw, f"the {what} contains control characters", allowed)
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path(workspace).expanduser().resolve() / path
    try:
        resolved = path.resolve()  # follows every symlink, folds `..`
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise PathNotAllowed(raw, f"cannot resolve the {what}: {exc}", allowed) from exc
    if not any(resolved == root or resolved.is_relative_to(root) for root in allowed):
        shown = "" if str(resolved) == text else f" (resolves to {resolved})"
        raise PathNotAllowed(raw, f"the {what}{shown} lies outside the allowed folders", allowed)
    if must_exist and not resolved.exists():
        raise PathNotAllowed(raw, f"the {what} {resolved} does not exist", allowed)
    return resolved


def confine_model_ref(value: str, workspace: str | os.PathLike, *, must_exist: bool = True) -> str:
    """A model reference typed into the UI: an HF id passes as it is, a path must be allowed.

    Returns the id, or the resolved absolute path as a string.
    """
    text = (value or "").strip()
    if is_hf_model_id(text, workspace):
        return text
    return str(confine_path(text, workspace, must_exist=must_exist, what="model path"))
