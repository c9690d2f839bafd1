"""Store access and cached queries for the pages.

The Store is a `st.cache_resource` per workspace path. Query results are
`st.cache_data`, keyed by the workspace path, a cheap data version (the mtimes and
sizes of the database and its WAL, so any write anywhere invalidates them) and the
arguments; cached results are never mutated by pages.
"""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from hallu_core.data.workspace import open_workspace, resolve_workspace
from hallu_core.store.database import DB_NAME, Store
from hallu_core.views import compare, defaults, generation_list, judges, queries, rates


def workspace_path() -> str:
    return str(resolve_workspace())


@st.cache_resource(show_spinner="Opening the workspace…")
def _store(path: str) -> Store:
    return open_workspace(path if os.environ.get("HALLU_WORKSPACE") else None)


def store() -> Store:
    return _store(workspace_path())


def data_version(path: str) -> tuple:
    """Changes with every write. An empty WAL counts as none: SQLite deletes the WAL when the last connection
    closes (each script run has its own thread, so its own connection) and makes it again, empty, on the next
    open; a version that saw it come and go missed every cache on alternate runs of a quiet dashboard."""
    out = []
    for name in (DB_NAME, DB_NAME + "-wal"):
        try:
            stat = (Path(path) / name).stat()
            out.append((stat.st_mtime_ns, stat.st_size) if stat.st_size or name == DB_NAME else None)
        except OSError:
            out.append(None)
    return tuple(out)


@st.cache_data(show_spinner=False, max_entries=512)
def _cached(name: str, path: str, version: tuple, args: tuple, kwargs: tuple):
    fn = next(getattr(m, name) for m in (queries, generation_list, compare, judges, rates, defaults)
              if hasattr(m, name))
    return fn(_store(path), *args, **dict(kwargs))


def q(name: str, *args, **kwargs):
    """`queries.<name>` (or generation_list's, compare's, judges', rates', defaults') (store, *args, **kwargs),
    cached until the workspace changes."""
    path = workspace_path()
    store()  # make sure the workspace exists before its version is read
    return _cached(name, path, data_version(path), args, tuple(sorted(kwargs.items())))


def clear() -> None:
    _cached.clear()
