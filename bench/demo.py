"""`hallu demo` end to end, as a user runs it: wall time (median of --repeats fresh runs) and its figures.

Each repeat runs the CLI in a fresh workspace (world, base model trained from scratch, four runs,
generation, detectors, oracle), so nothing is reused between repeats. The figures of the last run
are the ones issue 12 asks for: the base model's known-fact rate and repetition, known-fact rates at
each run's last checkpoint, the rate per decoding, grounded vs closed-book. The last stdout line is
one JSON object.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/demo.py [--repeats 3] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def one_run(seed: int) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        started = time.perf_counter()
        subprocess.run([str(REPO / ".venv/bin/hallu"), "demo", "-w", str(Path(tmp) / "ws"), "--seed", str(seed),
                        "--report", str(report)], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
        wall = time.perf_counter() - started
        return wall, json.loads(report.read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    walls, summary = [], {}
    for k in range(args.repeats):
        wall, summary = one_run(args.seed)
        walls.append(wall)
        print(f"run {k + 1}: {wall:.1f} s (stages {summary['seconds']}); load {os.getloadavg()[0]:.1f}",
              file=sys.stderr, flush=True)
    print(json.dumps({"seconds_median": round(statistics.median(walls), 1), "seconds": [round(w, 1) for w in walls],
                      "stages_last_run": summary["seconds"], "generations": summary["generations"],
                      "figures": summary["figures"]}))


if __name__ == "__main__":
    main()
