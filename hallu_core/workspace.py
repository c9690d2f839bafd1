"""Where the workspace lives, and the embedded default one.

`--workspace DIR` wins, then `HALLU_WORKSPACE`, then the default workspace in the
user's data folder, which is built on first use from the package's sample data
(sample_data/ itself is never modified).
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from .store import DB_NAME, Store

log = logging.getLogger(__name__)
ENV_VAR = "HALLU_WORKSPACE"
REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO_ROOT / "sample_data"
PREBUILT = SAMPLE_DATA / "workspace"  # a ready demo workspace, copied as it is


def default_workspace_path() -> Path:
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "hallu" / "default-workspace"


def resolve_workspace(path: str | os.PathLike | None = None) -> Path:
    if path:
        return Path(path).expanduser().resolve()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser().resolve()
    return default_workspace_path()


def open_workspace(path: str | os.PathLike | None = None) -> Store:
    """Open the named workspace; the default one is created from sample_data on first use."""
    root = resolve_workspace(path)
    if not path and not os.environ.get(ENV_VAR) and not (root / DB_NAME).exists():
        build_default_workspace(root)
    return Store(root)


def build_default_workspace(root: Path) -> None:
    """Copy the prebuilt demo workspace, or import sample_data's files when there is none."""
    tmp = root.with_name(root.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    if PREBUILT.joinpath(DB_NAME).exists():
        shutil.copytree(PREBUILT, tmp)
    else:
        from .io import import_file  # local: io pulls in pandas

        store = Store(tmp)
        for file in sorted(SAMPLE_DATA.glob("*.jsonl")):
            import_file(store, file)
        store.close()
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(root)  # atomic: a half-built default workspace is never seen
    log.info("default workspace created at %s", root)
