#!/usr/bin/env bash
# Re-runs every stored detector over sample_data/workspace with the current detectors, their
# calibration maps and default's routes, without rebuilding the demo (whose generations and
# labels stay as they are). Old detections are dropped first so the shipped file does not grow.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
build=$(mktemp -d)/workspace
cp -r sample_data/workspace "$build"
rm -f "$build"/hallu.db-wal "$build"/hallu.db-shm
.venv/bin/python - "$build" <<'PY'
import sys
from hallu_core.store.database import Store
store = Store(sys.argv[1])  # migrates to the current schema
with store.transaction() as conn:
    conn.execute("DELETE FROM detections")  # the summary triggers follow
PY
demo_runs=$(.venv/bin/python -c "
import sys; from hallu_core.store.database import Store
print(' '.join(r.id for r in Store(sys.argv[1]).runs() if r.kind != 'import'))" "$build")
.venv/bin/hallu detect -w "$build" --detector lexical --detector default
for run in $demo_runs; do
  .venv/bin/hallu detect -w "$build" --run "$run" --detector confidence --detector self_contradiction
done
.venv/bin/hallu info -w "$build"
scripts/ship_workspace.sh "$build"
