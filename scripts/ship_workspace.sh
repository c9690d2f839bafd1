#!/usr/bin/env bash
# Packs a built workspace folder ($1) and puts it in place as sample_data/workspace: no jobs, the
# WAL folded in and the file vacuumed, no side files. Used by build_ and redetect_sample_workspace.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1
.venv/bin/python - "$build" <<'PY'
import sqlite3, sys
conn = sqlite3.connect(f"{sys.argv[1]}/hallu.db", isolation_level=None)
conn.execute("DELETE FROM jobs")
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("VACUUM")
conn.close()
PY
rm -f "$build"/hallu.db-wal "$build"/hallu.db-shm
rm -rf sample_data/workspace
mv "$build" sample_data/workspace
du -sh sample_data/workspace  # never open it in place: the default workspace is a copy
