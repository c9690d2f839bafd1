"""The demo's last steps: detectors over the generations, oracle labels, oracle rates."""
from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from typing import Callable, Iterable, Mapping

from hallu_core.data import prompts
from hallu_core.demo.oracle import oracle_spans
from hallu_core.detection.detect import run_detection
from hallu_core.store.types import Checkpoint, Example, Generation, Label

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
            summary = run_detection(store, name, run_id=run_id)
        except Exception as exc:  # a detector still being written must not sink the demo (a cancel is no Exception)
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
                 flagged: Mapping[str, bool]) -> list[dict]:
    """Per checkpoint: share of outputs the oracle flagged (`flagged`: generation id -> has a span, from its
    labels), overall (closed-book), per decoding label, per person status (greedy, closed-book: what the
    model states when it is most sure), and per both."""
    flags: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
    for g in generations:
        e = examples[g.example_id]
        flags[g.checkpoint_id].append((g.decoding_name, e.meta.get("status", "?"), flagged[g.id]))
    rows = []
    for c in sorted(checkpoints, key=lambda c: c.step):
        marks = flags.get(c.id, [])
        closed = [m for m in marks if prompts.split(m[0])[1] == prompts.CLOSED_BOOK]
        greedy = [m for m in closed if m[0] == "greedy"]
        rows.append({"checkpoint_id": c.id, "name": c.name, "step": c.step,
                     "train_loss": c.metrics.get("train_loss"), "eval_loss": c.metrics.get("eval_loss"),
                     "n": len(closed), "oracle_rate": _rate(m[2] for m in closed),
                     "by_decoding": _grouped(marks, 0), "by_status": _grouped(greedy, 1),
                     "by_decoding_status": {d: _grouped([m for m in marks if m[0] == d], 1)
                                            for d in sorted({m[0] for m in marks})}})
    return rows


REPEAT = re.compile(r"\b(\w+(?:\W+\w+){0,3}?)(?:\W+\1\b){2,}", re.IGNORECASE)


def repeats_itself(text: str) -> bool:
    """A word or a phrase of up to four words three or more times in a row ("in Varesh in Varesh in Varesh")."""
    return REPEAT.search(text or "") is not None


def demo_figures(rates: Mapping[str, list[dict]], generations: list[Generation],
                 examples: Mapping[str, Example]) -> dict:
    """The figures the demo exists to show, from the oracle's rates (greedy, closed-book unless named):
    the base model on known people and its repetition, known-fact hallucination at each run's last step,
    the rate per decoding, and grounded vs closed-book prompts on the same checkpoints."""
    base = next((rows[0] for rows in rates.values() if rows), None)
    if base is None:
        return {}
    base_greedy = [g for g in generations if g.checkpoint_id == base["checkpoint_id"] and g.decoding_name == "greedy"]
    last_known = {name: rows[-1]["by_status"].get("known") for name, rows in rates.items() if rows}
    every = [r for rows in rates.values() for r in rows]
    by_decoding = _pooled_rates(every, lambda label: prompts.split(label)[1] == prompts.CLOSED_BOOK)
    grounded_label = prompts.label("greedy", prompts.GROUNDED)
    pairs = [(r["by_decoding"]["greedy"], r["by_decoding"][grounded_label]) for r in every
             if "greedy" in r["by_decoding"] and grounded_label in r["by_decoding"]]
    return {
        "base_known_rate": base["by_status"].get("known"),
        "base_repetition": _rate(repeats_itself(g.text) for g in base_greedy),
        "last_known_rate": last_known,
        "known_gap": (last_known["new-knowledge"] - last_known["known-only"]
                      if last_known.get("new-knowledge") is not None and last_known.get("known-only") is not None
                      else None),
        "rate_by_decoding": by_decoding,
        "greedy_closed_vs_grounded": [round(sum(p[0] for p in pairs) / len(pairs), 4),
                                      round(sum(p[1] for p in pairs) / len(pairs), 4)] if pairs else None,
        "grounded_lower_on": f"{sum(b < a for a, b in pairs)} of {len(pairs)} checkpoints",
    }


def _pooled_rates(rows: list[dict], keep) -> dict[str, float]:
    """Rate per decoding label over `rows` (each checkpoint weighs by its own outputs: every one has as many)."""
    per: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        for label, rate in r["by_decoding"].items():
            if keep(label):
                per[label].append(rate)
    return {label: round(sum(v) / len(v), 4) for label, v in per.items()}


def _rate(flags: Iterable[bool]) -> float:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def _grouped(marks: list[tuple[str, str, bool]], key: int) -> dict[str, float]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for m in marks:
        groups[m[key]].append(m[2])
    return {k: _rate(v) for k, v in sorted(groups.items())}


def demo_findings(store) -> dict[str, list[str]]:
    """What the demo's stored numbers show, per run (by its name for people), judged by the oracle
    (hallu_core.views.findings)."""
    from hallu_core.views import queries
    from hallu_core.views.findings import run_labels, workspace_findings

    names = run_labels(queries.runs(store))
    return {names[run_id]: [f.text for f in found]
            for run_id, found in workspace_findings(store, ("labels", ORACLE)).items()}


def format_findings(by_run: Mapping[str, list[str]]) -> str:
    """The findings for the CLI: one block per run, one line per sentence."""
    lines = ["Findings (oracle labels):"] if by_run else []
    for run, texts in by_run.items():
        lines += [f"  {run}:", *(f"    - {text}" for text in texts)]
    return "\n".join(lines)


def format_figures(figures: Mapping) -> str:
    """The headline figures for the CLI, one per line."""
    if not figures:
        return ""
    known = ", ".join(f"{run} {rate:.2f}" for run, rate in figures["last_known_rate"].items() if rate is not None)
    decodings = ", ".join(f"{d} {r:.2f}" for d, r in figures["rate_by_decoding"].items())
    lines = ["Headline (oracle; greedy, closed-book unless named):",
             f"  base model, known people: {figures['base_known_rate']:.2f} hallucinated; "
             f"{figures['base_repetition']:.0%} of its outputs repeat themselves",
             f"  known people at each run's last checkpoint: {known}"]
    if figures["known_gap"] is not None:
        lines.append(f"  new-knowledge minus known-only: {figures['known_gap']:+.2f}")
    lines.append(f"  per decoding, every checkpoint: {decodings}")
    if figures["greedy_closed_vs_grounded"]:
        closed, grounded = figures["greedy_closed_vs_grounded"]
        lines.append(f"  greedy closed-book {closed:.2f} vs grounded {grounded:.2f} "
                     f"(grounded lower on {figures['grounded_lower_on']})")
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
