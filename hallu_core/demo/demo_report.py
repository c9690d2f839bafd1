"""The demo's last steps: detectors over the generations, oracle labels, oracle rates."""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Callable, Iterable, Mapping

from hallu_core.demo.oracle import oracle_spans
from hallu_core.types import Checkpoint, Example, Generation, Label

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
ORACLE = "oracle"


def run_detectors(store, run_id: str, names: Iterable[str], progress: Progress | None = None) -> dict:
    """Run each named detector over the run's generations; one that fails to load or run is skipped, not fatal."""
    progress = progress or (lambda done, total, message="": None)
    names = list(names)
    report: dict[str, dict] = {}
    for index, name in enumerate(names):
        started = time.monotonic()
        try:
            from hallu_core.detect import run_detection

            summary = run_detection(store, name, run_id=run_id)
        except Exception as exc:  # a detector still being written must not sink the demo
            log.warning("detector %s skipped: %s: %s", name, type(exc).__name__, exc)
            report[name] = {"skipped": f"{type(exc).__name__}: {exc}"}
        else:
            report[name] = {"detected": summary["detected"], "flagged": summary["flagged"],
                            "seconds": round(time.monotonic() - started, 1)}
        progress(index + 1, len(names), name)
    return report


def oracle_labels(generations: list[Generation], examples: Mapping[str, Example], vocab: Mapping) -> list[Label]:
    return [Label(g.id, ORACLE, oracle_spans(g.text, examples[g.example_id].meta["card"], vocab), "done")
            for g in generations]


def oracle_rates(checkpoints: list[Checkpoint], generations: list[Generation], examples: Mapping[str, Example],
                 vocab: Mapping) -> list[dict]:
    """Per checkpoint: share of outputs with >= 1 oracle span, overall, per decoding and per person status."""
    flags: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
    for g in generations:
        e = examples[g.example_id]
        flags[g.checkpoint_id].append((g.decoding_name, e.meta.get("status", "?"),
                                       bool(oracle_spans(g.text, e.meta["card"], vocab))))
    rows = []
    for c in sorted(checkpoints, key=lambda c: c.step):
        marks = flags.get(c.id, [])
        rows.append({"checkpoint_id": c.id, "name": c.name, "step": c.step,
                     "train_loss": c.metrics.get("train_loss"), "eval_loss": c.metrics.get("eval_loss"),
                     "n": len(marks), "oracle_rate": _rate(m[2] for m in marks),
                     "by_decoding": _grouped(marks, 0), "by_status": _grouped(marks, 1)})
    return rows


def _rate(flags: Iterable[bool]) -> float:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def _grouped(marks: list[tuple[str, str, bool]], key: int) -> dict[str, float]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for m in marks:
        groups[m[key]].append(m[2])
    return {k: _rate(v) for k, v in sorted(groups.items())}


def demo_findings(store) -> dict[str, list[str]]:
    """What the demo's stored numbers show, per run, judged by the oracle (hallu_core.findings)."""
    from hallu_core.findings import workspace_findings

    return {run: [f.text for f in found] for run, found in workspace_findings(store, ("labels", ORACLE)).items()}


def format_findings(by_run: Mapping[str, list[str]]) -> str:
    """The findings for the CLI: one block per run, one line per sentence."""
    lines = ["Findings (oracle labels):"] if by_run else []
    for run, texts in by_run.items():
        lines += [f"  {run}:", *(f"    - {text}" for text in texts)]
    return "\n".join(lines)


def format_rates(rows: list[dict]) -> str:
    """A plain table for the CLI: one line per checkpoint."""
    statuses = sorted({s for r in rows for s in r["by_status"]})
    decodings = sorted({d for r in rows for d in r["by_decoding"]})
    head = ["checkpoint", "step", "val_loss", "oracle_rate", *decodings, *statuses]
    lines = ["  ".join(f"{h:>12}" for h in head)]
    for r in rows:
        loss = f"{r['eval_loss']:.3f}" if r["eval_loss"] is not None else "-"
        cells = [r["name"], str(r["step"]), loss, f"{r['oracle_rate']:.3f}",
                 *(f"{r['by_decoding'].get(d, 0):.3f}" for d in decodings),
                 *(f"{r['by_status'].get(s, 0):.3f}" for s in statuses)]
        lines.append("  ".join(f"{c:>12}" for c in cells))
    return "\n".join(lines)
