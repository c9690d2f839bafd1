#!/usr/bin/env bash
# Sets up everything Hallu needs in ./.venv: Python packages (torch pinned by
# constraints.txt to the local CPU build) and, for browser tests, Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q -c constraints.txt torch==2.13.0
.venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: Chromium missing (browser tests will be skipped); install it with: sudo apt-get install -y chromium" >&2
  fi
fi
