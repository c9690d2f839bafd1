"""Job functions: what `hallu_core.jobs` runs in a background process.

Each takes (store, args, progress) and returns a small summary dict.
"""
from __future__ import annotations

from pathlib import Path

from .store import Store


def import_job(store: Store, args: dict, progress) -> dict:
    from .io import import_file

    progress(0, 1, f"importing {Path(args['path']).name}")
    summary = import_file(store, args["path"], dataset=args.get("dataset"))
    progress(1, 1, "imported")
    return summary
