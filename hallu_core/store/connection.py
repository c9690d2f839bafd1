"""The workspace database's connection: one per thread, all-or-nothing writes, migrations on open.

A workspace is a folder holding `hallu.db` (SQLite in WAL mode) and `artifacts/`.
Every write runs in one `BEGIN IMMEDIATE` transaction, so concurrent writers
(several annotators, a job and the dashboard) queue on the write lock instead
of failing, and a refused write leaves nothing half-stored. The records' reads and
writes are `Store`'s (database.py), built on this class.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from hallu_core.store import shuffle
from hallu_core.store.schema import MIGRATIONS, statements

log = logging.getLogger(__name__)
DB_NAME = "hallu.db"


def marks(values) -> str:
    """One `?` per value, for an `IN (...)` list."""
    return ",".join("?" * len(values))


def distinct_indexed(store, table: str, column: str) -> list[str]:
    """DISTINCT over an indexed leading column by skip-scan: fast on millions of rows."""
    sql = (f"WITH RECURSIVE t(v) AS (SELECT MIN({column}) FROM {table} UNION ALL "
           f"SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > t.v) FROM t WHERE t.v IS NOT NULL) "
           f"SELECT v FROM t WHERE v IS NOT NULL")
    return [r[0] for r in store.query(sql)]


COUNTED_TABLES = ("examples", "runs", "checkpoints", "generations", "detections", "labels", "jobs")


class StoreError(RuntimeError):
    """A workspace that cannot be opened or written, said plainly."""


class Database:
    def __init__(self, workspace: str | Path, *, timeout: float = 60.0):
        self.root = Path(workspace).expanduser().resolve()
        self.artifacts = self.root / "artifacts"
        try:
            self.artifacts.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create workspace {self.root}: {exc.strerror or exc}") from exc
        self.path = self.root / DB_NAME
        self._timeout = timeout
        self._local = threading.local()  # one connection per thread (Streamlit serves from many)
        self._migrate()

    # -- connection and transactions -------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None,
                                       check_same_thread=False)
                conn.row_factory = sqlite3.Row
                conn.create_function(shuffle.SQL_FUNCTION, 1, shuffle.shuffle_key, deterministic=True)
                conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
                # REPLACE then fires the delete triggers that keep the summary tables right
                conn.execute("PRAGMA recursive_triggers = ON")
            except sqlite3.Error as exc:
                hint = "" if os.access(self.root, os.W_OK) else " (the workspace folder is read-only)"
                raise StoreError(f"cannot open workspace database {self.path}: {exc}{hint}") from exc
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing write: commits at the end, rolls back on any exception."""
        conn = self.conn
        if conn.in_transaction:  # nested: the outer transaction decides
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        try:
            yield conn
        except sqlite3.Error as exc:  # read-only folder, full disk, corrupt file: say where
            _rollback(conn)
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        except BaseException:
            _rollback(conn)
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                raise StoreError(f"cannot write to {self.path}: {exc}") from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _migrate(self) -> None:
        while self._schema_version() < len(MIGRATIONS):
            with self.transaction() as conn:
                # read again under the write lock: another process may have migrated meanwhile
                version = self._schema_version()
                if version == len(MIGRATIONS):
                    break
                for statement in statements(MIGRATIONS[version]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            log.info("workspace %s migrated to schema %d", self.root, version + 1)

    def _schema_version(self) -> int:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path} has schema version {version}; this Hallu knows "
                             f"{len(MIGRATIONS)}: upgrade Hallu")
        return version

    # -- paths: stored relative to the workspace so a workspace folder can move ---------
    def relpath(self, path: str | Path) -> str:
        path = Path(path).resolve()
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def abspath(self, stored: str | None) -> Path | None:
        return None if stored is None else (self.root / stored).resolve()

    # -- reads shared by everyone ----------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {t: self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in COUNTED_TABLES}

    def query(self, sql: str, params: Iterable | dict = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params if isinstance(params, dict) else tuple(params)).fetchall()


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:  # SQLite may already have rolled back (e.g. on SQLITE_FULL)
        conn.execute("ROLLBACK")
