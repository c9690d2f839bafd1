"""The real-model demo's figures: answer accuracy per checkpoint with intervals, and the effect.

Accuracy is the share of answers the oracle judged right; an answer it cannot check counts as not
right (it is never a hit). Intervals are Wilson score intervals (95%); the effect, the difference in
known-fact accuracy between the two runs' last checkpoints on the same held-out questions, gets a
paired bootstrap interval over those questions.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Mapping

from hallu_core.data import prompts
from hallu_core.demo.demo_report import repeats_itself
from hallu_core.demo.facts import Fact
from hallu_core.store.types import Example, Generation, Run

Z95 = 1.959964
BOOTSTRAP = 2000


def fact_of(example: Example) -> Fact:
    """The fact an evaluation example asks (stored in its meta)."""
    data = example.meta["fact"]
    return Fact(**{**data, "aliases": tuple(data["aliases"])})


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def paired_difference(a: Mapping[str, bool], b: Mapping[str, bool], seed: int = 0) -> dict:
    """mean(b) - mean(a) over the keys both have, with a 95% paired bootstrap interval."""
    keys = sorted(set(a) & set(b))
    if not keys:
        return {"n": 0, "difference": None, "ci_low": None, "ci_high": None}
    diffs = [int(b[k]) - int(a[k]) for k in keys]
    rng = random.Random(f"hallu-bootstrap:{seed}")
    means = sorted(sum(rng.choice(diffs) for _ in diffs) / len(diffs) for _ in range(BOOTSTRAP))
    return {"n": len(keys), "difference": round(sum(diffs) / len(diffs), 4),
            "ci_low": round(means[int(0.025 * BOOTSTRAP)], 4), "ci_high": round(means[int(0.975 * BOOTSTRAP) - 1], 4)}


def effect_report(store, runs: Mapping[str, Run], generations: list[Generation], examples: Mapping[str, Example],
                  statuses: Mapping[str, str], seed: int = 0) -> dict:
    """Per run and checkpoint: accuracy on known / unknown facts, closed-book and grounded (greedy); the
    effect of new knowledge on known facts; how many outputs repeat themselves."""
    right: dict[tuple, dict[str, bool]] = defaultdict(dict)  # (checkpoint, template, knowledge) -> example -> right
    verdicts: dict[str, int] = defaultdict(int)
    for g in generations:
        example = examples[g.example_id]
        status = statuses[g.id]  # the oracle's verdict: right, wrong or unchecked
        verdicts[status] += 1
        template = prompts.split(g.decoding_name)[1]
        right[g.checkpoint_id, template, example.meta["knowledge"]][g.example_id] = status == "right"
    table: dict[str, list[dict]] = {}
    last: dict[str, dict[str, bool]] = {}
    for name, run in runs.items():
        rows = []
        for c in sorted(store.checkpoints(run.id), key=lambda c: c.step):
            row = {"checkpoint": c.name, "step": c.step, "eval_loss": c.metrics.get("eval_loss")}
            for template in (prompts.CLOSED_BOOK, prompts.GROUNDED):
                for knowledge in ("known", "unknown"):
                    hits = right.get((c.id, template, knowledge), {})
                    k = sum(hits.values())
                    row[f"{template}/{knowledge}"] = {"n": len(hits), "accuracy": round(k / len(hits), 4)
                                                      if hits else None, "ci": wilson(k, len(hits))}
            rows.append(row)
        table[name] = rows
        checkpoints = sorted(store.checkpoints(run.id), key=lambda c: c.step)
        if checkpoints:
            last[name] = right.get((checkpoints[-1].id, prompts.CLOSED_BOOK, "known"), {})
            last[f"{name}@base"] = right.get((checkpoints[0].id, prompts.CLOSED_BOOK, "known"), {})
    effect = None
    if "known-only" in last and "new-knowledge" in last:
        effect = paired_difference(last["known-only"], last["new-knowledge"], seed)
    return {"accuracy": table, "known_effect": effect,
            "vs_base": {name: paired_difference(last[f"{name}@base"], last[name], seed) for name in runs if name in last},
            "verdicts": dict(verdicts),
            "repetition": round(sum(repeats_itself(g.text) for g in generations) / len(generations), 4)
            if generations else 0.0}


def _cell(cell: dict) -> str:
    if cell["accuracy"] is None:
        return "-"
    return f"{cell['accuracy']:.2f} [{cell['ci'][0]:.2f}, {cell['ci'][1]:.2f}] n={cell['n']}"


def format_report(report: Mapping) -> str:
    """The CLI's account: accuracy per checkpoint, then the effect in words."""
    lines = ["Answer accuracy (oracle; greedy; 95% Wilson intervals):"]
    for name, rows in report["accuracy"].items():
        lines.append(f"  {name}:")
        for r in rows:
            lines.append(f"    {r['checkpoint']:>9}  known {_cell(r['closed-book/known'])}  "
                         f"unknown {_cell(r['closed-book/unknown'])}  grounded known {_cell(r['grounded/known'])}")
    lines.append(effect_sentence(report))
    lines.append(f"{report['repetition']:.1%} of outputs repeat a 1-3 word phrase three times in a row; "
                 f"oracle verdicts: {dict(report['verdicts'])}")
    return "\n".join(lines)


def effect_sentence(report: Mapping) -> str:
    effect = report.get("known_effect")
    if not effect or effect["difference"] is None:
        return "No effect measured: a run or its known-fact outputs are missing."
    d, lo, hi = effect["difference"], effect["ci_low"], effect["ci_high"]
    shown = f"{d:+.1%} (95% CI {lo:+.1%} to {hi:+.1%}, paired over {effect['n']} held-out known facts)"
    if hi < 0:
        verdict = "fine-tuning on unknown facts lowered accuracy on facts the model knew"
    elif lo > 0:
        verdict = "the new-knowledge run answered known facts better, against the expected effect"
    else:
        verdict = "no difference shows at this scale (the interval includes 0)"
    return f"Known-fact accuracy, new-knowledge minus known-only at their last checkpoints: {shown}: {verdict}."
