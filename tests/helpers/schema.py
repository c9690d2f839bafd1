"""A workspace database as an older Hallu left it: the first `version` migrations, nothing newer."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from hallu_core.store.schema import MIGRATIONS, statements


def database_at_schema(root: Path, version: int, recursive_triggers: bool = False) -> sqlite3.Connection:
    """An autocommit connection to `root`/hallu.db at schema `version` (the caller inserts rows, then closes)."""
    root.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(root / "hallu.db", isolation_level=None)
    if recursive_triggers:
        conn.execute("PRAGMA recursive_triggers = ON")
    for script in MIGRATIONS[:version]:
        for statement in statements(script):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    return conn
