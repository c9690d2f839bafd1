#!/usr/bin/env bash
# Rebuilds sample_data/workspace, the prebuilt default workspace a new user opens:
# the demo (fact world, base model, four runs and their checkpoints, generations, the
# detectors `hallu demo` runs, oracle labels) plus the RAGTruth dev slice with its gold
# labels and detections. The slower consistency and semantic detectors are left for users
# to run (a job on the Runs page): on 5,760 demo outputs they added 7 MB to the database.
# Optimizer states are dropped (the run is finished; they would triple the size).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
build=$(mktemp -d)/workspace
.venv/bin/hallu demo -w "$build"
.venv/bin/hallu import sample_data/ragtruth_dev.jsonl -w "$build"
run_id=$(.venv/bin/python -c "from hallu_core.store.types import content_hash; print(content_hash('import', 'ragtruth_dev'))")
.venv/bin/hallu detect -w "$build" --run "$run_id" --detector lexical --detector default
.venv/bin/hallu info -w "$build"
find "$build/artifacts" \( -name 'optimizer.pt' -o -name 'scheduler.pt' -o -name 'rng_state*.pth' \) -delete
scripts/ship_workspace.sh "$build"
