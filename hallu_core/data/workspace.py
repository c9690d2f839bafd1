"""Where the workspace lives, and the embedded default one.

`--workspace DIR` wins, then `HALLU_WORKSPACE`, then the default workspace in the
user's data folder, which is built on first use from the package's sample data
(sample_data/ itself is never modified).
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from hallu_core.data.bundle import sample_data
from hallu_core.store.database import DB_NAME, Store, StoreError

log = logging.getLogger(__name__)
ENV_VAR = "HALLU_WORKSPACE"
SAMPLE_DATA = sample_data()
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
    """Build the default workspace in a private temporary folder, then move it into place.

    Two first starts at once each build their own copy; the first rename wins and the
    other keeps the winner's. An empty folder at `root` is taken over; anything else
    there is refused, never overwritten.
    """
    refuse_foreign_folder(root)
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.building-", dir=root.parent))
    except OSError as exc:
        raise StoreError(f"cannot create the default workspace at {root}: {exc.strerror or exc}") from exc
    try:
        fill_from_sample_data(tmp)
        move_into_place(tmp, root)
    except OSError as exc:
        raise StoreError(f"cannot create the default workspace at {root}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def refuse_foreign_folder(root: Path) -> None:
    if (root / DB_NAME).exists() or not (root.exists() or root.is_symlink()):
        return
    if root.is_dir():
        entries = sorted(p.name for p in root.iterdir())
        if not entries:
            return
        shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
        holds = f"it holds {shown} but no {DB_NAME}"
    else:
        holds = "it is not a folder"
    raise StoreError(f"{root} is not a Hallu workspace ({holds}); move it away or empty it to get the "
                     f"default workspace, or name another folder with --workspace or {ENV_VAR}")


def fill_from_sample_data(tmp: Path) -> None:
    """Copy the prebuilt demo workspace, or import sample_data's files when there is none."""
    if PREBUILT.joinpath(DB_NAME).exists():
        # copyfile, not copy2: an installed package may be read-only, its copy must not be
        shutil.copytree(PREBUILT, tmp, dirs_exist_ok=True, copy_function=shutil.copyfile)
        return
    from hallu_core.data.io import import_file  # local: io pulls in pandas

    store = Store(tmp)
    for file in sorted(SAMPLE_DATA.glob("*.jsonl")):
        import_file(store, file)
    store.close()


def move_into_place(tmp: Path, root: Path) -> None:
    """Rename is atomic: `root` is either absent, the empty folder we adopt, or complete."""
    try:
        root.rmdir()  # an empty folder is adopted; a full one stays and makes the rename fail
    except OSError:
        pass
    try:
        os.rename(tmp, root)
    except OSError:
        if (root / DB_NAME).exists():
            log.info("default workspace at %s was built by another start; using that one", root)
            return
        refuse_foreign_folder(root)  # something else appeared there meanwhile: say what
        raise
    log.info("default workspace created at %s", root)
