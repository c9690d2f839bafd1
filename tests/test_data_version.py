"""The pages' cache key (`ui.data.data_version`): every write changes it, nothing else does.

Streamlit runs each script run in a new thread with its own SQLite connection; when the last one
closes, SQLite deletes the WAL, and the next run's connection makes it again, empty. A key that
saw the WAL come and go emptied every page cache on alternate runs of a dashboard nobody wrote to
(Detectors at 500,000 outputs then recomputed for tens of seconds).
"""
from __future__ import annotations

import threading

from hallu_core.store.database import Store
from hallu_core.store.types import Example
from hallu_core.ui.data import data_version


def in_a_thread(fn):
    """Run `fn` in a new thread, as Streamlit runs a script, and let the thread (and its connection) go."""
    out = []
    worker = threading.Thread(target=lambda: out.append(fn()))
    worker.start()
    worker.join()
    return out[0]


def test_reads_from_new_threads_keep_the_version_and_writes_change_it(tmp_path):
    root = tmp_path / "ws"
    store = Store(root)
    store.add_examples([Example("e1", "d", "Where?")])
    store.close()
    quiet = data_version(str(root))
    for _ in range(3):  # each read opens a connection in its thread; the WAL appears and goes with it
        assert in_a_thread(lambda: Store(root).counts()["examples"]) == 1
        assert data_version(str(root)) == quiet
    reader = Store(root)
    reader.counts()  # a connection left open: its WAL stays, empty
    assert data_version(str(root)) == quiet
    reader.add_examples([Example("e2", "d", "Why?")])
    written = data_version(str(root))
    assert written != quiet
    reader.close()
    assert data_version(str(root)) != quiet  # the checkpoint on close moved the write into the database file
