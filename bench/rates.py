"""How well `hallu rates` estimates a hallucination rate from a few labels plus `default`'s scores.

The analyst of issue 21: RAGTruth rows imported into a workspace, `--labeled` random rows per task keep
their gold `labels` (annotator gold, selection "import"), the rest none; `hallu detect --detector default`;
`hallu rates --annotator gold --by task --json`. Per (task, seed): does the 95% interval cover the true
rate (the share of the task's rows with a gold span), how wide is it, how far is the estimate; and the same
labels alone (`--detector none`), for the width the detector's scores must beat.

Seed 0 runs the commands as a user would (import, detect, rates); the other seeds reuse its detections on a
copy of the workspace with another random draw of labels (detection does not depend on the labels).
The interval's coverage holds for any fixed detector; its width depends on how well the scores rank the
rows, and `default` was tuned on part of these rows (the dev slice's tuning part; QA routes also on the QA
train file), so widths here are if anything optimistic; coverage is the honest part.

    HF_HUB_OFFLINE=1 python bench/rates.py [--data FILE ...] [--labeled 20] [--seeds 10]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEV = REPO.parent / "shared" / "data" / "ragtruth_dev.jsonl"


def hallu(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "hallu_core.cli.main", *args], capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=REPO)
    if out.returncode:
        raise SystemExit(f"hallu {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return out.stdout


def draw(rows: list[dict], labeled: int, seed: int) -> set[str]:
    """`labeled` random row ids per task."""
    rng, chosen = random.Random(seed), set()
    for task in sorted({r["task_type"] for r in rows}):
        ids = sorted(r["id"] for r in rows if r["task_type"] == task)
        chosen |= set(rng.sample(ids, min(labeled, len(ids))))
    return chosen


def estimates(workspace: Path, detector: str) -> dict[str, dict]:
    out = hallu("rates", "-w", str(workspace), "--annotator", "gold", "--by", "task", "--json", "--detector", detector)
    return {row["group"]: row for row in map(json.loads, out.splitlines())}


def relabel(workspace: Path, rows: list[dict], chosen: set[str]) -> None:
    """Gold labels on exactly the chosen rows, as `hallu import` stores them."""
    from hallu_core.data.workspace import open_workspace
    from hallu_core.store.types import Label, Span

    store = open_workspace(workspace)
    with store.transaction() as conn:
        conn.execute("DELETE FROM labels")
    store.add_labels(Label(r["id"], "gold", [Span(s["start"], s["end"], "conflict") for s in r["labels"]],
                           selection="import") for r in rows if r["id"] in chosen)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", default=[str(DEV)])
    parser.add_argument("--labeled", type=int, default=20, help="random rows per task that keep their labels")
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    rows = [json.loads(line) for path in args.data for line in Path(path).read_text().splitlines() if line.strip()]
    truth = {t: sum(bool(r["labels"]) for r in rows if r["task_type"] == t) / sum(r["task_type"] == t for r in rows)
             for t in sorted({r["task_type"] for r in rows})}
    root = Path(tempfile.mkdtemp(prefix="hallu-rates-"))
    base = root / "seed0"
    chosen = draw(rows, args.labeled, 0)
    data = root / "rows.jsonl"
    data.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "labels" or r["id"] in chosen}) + "\n"
                            for r in rows))
    started = time.perf_counter()
    hallu("import", str(data), "-w", str(base))
    hallu("detect", "--detector", "default", "-w", str(base))
    detect_s = time.perf_counter() - started
    cases = []
    for seed in range(args.seeds):
        workspace = base
        if seed:
            workspace = root / f"seed{seed}"
            shutil.copytree(base, workspace)
            chosen = draw(rows, args.labeled, seed)
            relabel(workspace, rows, chosen)
        both, alone = estimates(workspace, "default"), estimates(workspace, "none")
        for task, true in truth.items():
            e, a = both[task], alone[task]
            cases.append({"task": task, "seed": seed, "true": round(true, 4), "n": e["n"], "labeled": e["labeled"],
                          "estimate": round(e["estimate"], 4), "ci": [round(e["ci_low"], 4), round(e["ci_high"], 4)],
                          "method": e["method"], "covered": e["ci_low"] <= true <= e["ci_high"],
                          "width": e["ci_high"] - e["ci_low"], "labels_only_width": a["ci_high"] - a["ci_low"],
                          "error": abs(e["estimate"] - true)})
        if seed:
            shutil.rmtree(workspace)
    shutil.rmtree(root)
    for c in cases:
        print(f"{c['task']:<9} seed {c['seed']:<3} true {c['true']:.3f}  estimate {c['estimate']:.3f}  "
              f"CI {c['ci'][0]:.3f}-{c['ci'][1]:.3f} ({'covers' if c['covered'] else 'MISSES'})  "
              f"width {c['width']:.3f} vs labels alone {c['labels_only_width']:.3f}")
    per_task = {t: {"covered": sum(c["covered"] for c in cases if c["task"] == t),
                    "cases": sum(c["task"] == t for c in cases),
                    "mean_width": round(sum(c["width"] for c in cases if c["task"] == t) /
                                        sum(c["task"] == t for c in cases), 4),
                    "mean_labels_only_width": round(sum(c["labels_only_width"] for c in cases if c["task"] == t) /
                                                    sum(c["task"] == t for c in cases), 4),
                    "mean_error": round(sum(c["error"] for c in cases if c["task"] == t) /
                                        sum(c["task"] == t for c in cases), 4)} for t in truth}
    print(json.dumps({"data": [Path(p).name for p in args.data], "labeled_per_task": args.labeled,
                      "seeds": args.seeds, "true_rates": {t: round(v, 4) for t, v in truth.items()},
                      "covered": sum(c["covered"] for c in cases), "cases": len(cases),
                      "mean_width": round(sum(c["width"] for c in cases) / len(cases), 4),
                      "mean_labels_only_width": round(sum(c["labels_only_width"] for c in cases) / len(cases), 4),
                      "mean_error": round(sum(c["error"] for c in cases) / len(cases), 4),
                      "per_task": per_task, "import_and_detect_s": round(detect_s, 1)}))


if __name__ == "__main__":
    main()
