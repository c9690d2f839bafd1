#!/usr/bin/env bash
# Rebuilds sample_data/workspace, the prebuilt default workspace a new user opens:
# the demo (fact world, base model, fine-tune checkpoints, generations, detections,
# oracle labels) plus the RAGTruth dev slice with its gold labels and detections.
# Optimizer states are dropped (the run is finished; they would triple the size).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
build=$(mktemp -d)/workspace
.venv/bin/hallu demo -w "$build"
.venv/bin/hallu import sample_data/ragtruth_dev.jsonl -w "$build"
run_id=$(.venv/bin/python -c "from hallu_core.types import content_hash; print(content_hash('import', 'ragtruth_dev'))")
.venv/bin/hallu detect -w "$build" --run "$run_id" --detector lexical --detector default
.venv/bin/hallu info -w "$build"
find "$build/artifacts" \( -name 'optimizer.pt' -o -name 'scheduler.pt' -o -name 'rng_state*.pth' \) -delete
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
