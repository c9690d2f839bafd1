"""Findings as sentences: pure functions from a run's numbers (validation loss points, and
`rates.judge_rates` rows: n outputs, rate estimated, its interval) to one sentence each, with its figure.

Nothing here is a constant about the demo: change the numbers and the sentences change. Where the data
is thin a sentence says so ("only N outputs"); where it has nothing to say there is no sentence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from hallu_core.data import prompts
from hallu_core.views import judges

THIN = 30  # fewer judged outputs than this behind a rate: the sentence says how few


@dataclass(frozen=True)
class Finding:
    topic: str  # loss | best_checkpoint | knowledge | decoding | template | lora | distill
    text: str


def _pct(rate: dict) -> str:
    """A rate row: its estimate and, where it has one (not exact: every output labeled), its 95% interval."""
    if rate.get("ci_low") is None or rate["ci_low"] == rate["ci_high"]:
        return f"{rate['rate']:.0%}"
    return f"{rate['rate']:.0%} (95% CI {rate['ci_low']:.0%}-{rate['ci_high']:.0%})"


def _points(delta: float) -> str:
    return f"{delta * 100:+.0f} points"


def _thin(n: int, what: str = "outputs") -> str:
    return f" (only {n} {what})" if n < THIN else ""


def _ckpt(row: dict) -> str:
    """A checkpoint as a sentence names it: its step too unless the name already says it."""
    name, step = row["checkpoint"], row["step"]
    return name if step is None or re.search(rf"(?<!\d){step}(?!\d)", str(name)) else f"{name} (step {step})"


def _pooled(rows: list[dict], keys: tuple[str, ...]) -> list[dict]:
    return [r for r in judges.pool(rows, keys) if r["n"]]


# -- pure sentence builders ---------------------------------------------------------------
def loss_finding(losses: list[tuple[int, float]]) -> Finding | None:
    """Where validation loss bottoms out and whether it turns up after (overfitting)."""
    points = sorted(losses)
    if not points:
        return None
    if len(points) < 3:
        return Finding("loss", f"Only {len(points)} validation-loss point(s) were logged "
                               f"(last {points[-1][1]:.3f} at step {points[-1][0]}): too few to see a minimum.")
    best_step, best = min(points, key=lambda p: (p[1], p[0]))
    last_step, last = points[-1]
    text = f"Validation loss bottoms out at {best:.3f} at step {best_step}"
    if last_step == best_step:
        return Finding("loss", text + ", the last step logged: no sign of overfitting yet.")
    rise = last - best
    if rise > 0.01 * abs(best):  # a rise within 1% of the minimum is noise, not a turn
        return Finding("loss", text + f", then turns up to {last:.3f} by step {last_step} "
                                      f"({rise / abs(best):+.0%}): overfitting.")
    return Finding("loss", text + f" and stays there to step {last_step} ({last:.3f}): no overfitting.")


def best_checkpoint_finding(rates: list[dict], judge: str, steps: bool = True,
                            scope: str = "every decoding pooled") -> Finding | None:
    """The checkpoint that hallucinates least (over `scope`: one decoding, or every one pooled) under one judge.
    `steps` False: the checkpoints are imported models, whose step is only their order in the file."""
    rows = _pooled(rates, ("checkpoint", "step"))
    if not steps:
        rows = [{**r, "step": None} for r in rows]
    if not rows:
        return None
    if len(rows) == 1:
        r = rows[0]
        return Finding("best_checkpoint", f"Judged by {judge}: only one checkpoint ({_ckpt(r)}) has judged "
                                          f"outputs: {_pct(r)} hallucinate{_thin(r['n'])}.")
    best = min(rows, key=lambda r: (r["rate"], r["step"] or 0))
    worst = max(rows, key=lambda r: (r["rate"], -(r["step"] or 0)))
    if best["rate"] == worst["rate"]:
        fewest = min(r["n"] for r in rows)
        return Finding("best_checkpoint", f"Judged by {judge}: all {len(rows)} checkpoints hallucinate equally, "
                                          f"{_pct(best)}{_thin(fewest, 'outputs at one of them')}.")
    return Finding("best_checkpoint", f"Judged by {judge}: {_ckpt(best)} hallucinates least, "
                                      f"{_pct(best)} of {'only ' * (best['n'] < THIN)}{best['n']} outputs "
                                      f"({scope}); the most is {_ckpt(worst)} at {_pct(worst)}.")


def _first_last(rows: list[dict], knowledge: str) -> tuple[dict, dict] | None:
    mine = sorted((r for r in rows if r["knowledge"] == knowledge), key=lambda r: r["step"] or 0)
    return (mine[0], mine[-1]) if len(mine) >= 2 else None


def knowledge_finding(rates: list[dict], known_only: list[dict] | None = None,
                      known_only_name: str = "", scope: str = "") -> Finding | None:
    """How known-fact hallucination moved while new facts were learned: first vs last checkpoint, and vs a
    known-only run's last checkpoint. `rates` are rows with `knowledge` (one decoding's or every decoding
    pooled: `scope` names which)."""
    rows = _pooled(rates, ("checkpoint", "step", "knowledge"))
    known = _first_last(rows, "known")
    if known is None:
        return None
    first, last = known
    fewest = min(first["n"], last["n"])
    thin = f"; only {fewest} known-fact outputs at one of them" if fewest < THIN else ""
    text = (f"Known-fact hallucination{f' ({scope})' if scope else ''} went from {_pct(first)} at {_ckpt(first)} to "
            f"{_pct(last)} at {_ckpt(last)} ({_points(last['rate'] - first['rate'])}{thin})")
    new = _first_last(rows, "new")
    if new:
        learned = " as the new facts were learned" if new[1]["rate"] < new[0]["rate"] else ""
        text += f"; new-fact hallucination went from {_pct(new[0])} to {_pct(new[1])}{learned}"
    unseen = _first_last(rows, "unseen")
    if unseen:  # people in neither training set: what the model makes up when it cannot know
        text += f"; unseen-fact hallucination from {_pct(unseen[0])} to {_pct(unseen[1])}"
    text += "."
    other = _pooled(known_only or [], ("checkpoint", "step", "knowledge"))
    other_known = sorted((r for r in other if r["knowledge"] == "known"), key=lambda r: r["step"] or 0)
    if other_known:
        theirs = other_known[-1]
        text += (f" The known-only run {known_only_name} ends at {_pct(theirs)} on known facts"
                 f"{_thin(theirs['n'], 'known-fact outputs there')}: this run's last checkpoint is "
                 f"{_points(last['rate'] - theirs['rate'])} against it.")
    return Finding("knowledge", text)


TEMPERATURE = re.compile(r"(?:^|-)t(\d+(?:\.\d+)?)")


def temperature_of(decoding: str) -> float | None:
    """Greedy and beam search are temperature 0; `sample-t0.7...` is 0.7; anything else: unknown."""
    decoding = prompts.split(decoding)[0]  # "sample-t0.7 · grounded" is sampled at 0.7 too
    if decoding.partition("-")[0] == "greedy" or decoding.startswith("beam"):  # "greedy-64tok" too
        return 0.0
    match = TEMPERATURE.search(decoding)
    return float(match.group(1)) if match else None


def decoding_finding(rates: list[dict]) -> Finding | None:
    """The rate per decoding (every checkpoint pooled) and whether it rises with temperature.

    On closed-book prompts where there are any: a grounded prompt is another cause, told by `template_finding`."""
    closed = [r for r in rates if r.get("prompt_template", prompts.CLOSED_BOOK) == prompts.CLOSED_BOOK]
    rows = _pooled(closed or rates, ("decoding",))
    scope = ", closed-book prompts" if closed and len(closed) < len(rates) else ""
    if not rows or {r["decoding"] for r in rows} == {"imported"}:  # an imported file's decoding is unknown
        return None
    rows.sort(key=lambda r: (temperature_of(r["decoding"]) is None, temperature_of(r["decoding"]) or 0,
                             r["decoding"]))
    parts = ", ".join(f"{r['decoding']} {_pct(r)}{_thin(r['n'])}" for r in rows)
    if len(rows) == 1:
        return Finding("decoding", f"Only one decoding was judged{scope}: {parts}.")
    by_temp: dict[float, list[dict]] = {}
    for r in rows:
        if (t := temperature_of(r["decoding"])) is not None:
            by_temp.setdefault(t, []).append(r)
    temps = sorted(by_temp)
    trend = ""
    if len(temps) >= 2:
        curve = [sum(r["positive"] for r in by_temp[t]) / sum(r["n"] for r in by_temp[t]) for t in temps]
        steps = list(zip(curve, curve[1:]))
        spread = f" ({_points(curve[-1] - curve[0])} from temperature {temps[0]:g} to {temps[-1]:g})"
        if all(b == a for a, b in steps):
            trend = ": the same at every temperature"
        elif all(b > a for a, b in steps):
            trend = ": the rate rises with temperature" + spread
        elif all(b < a for a, b in steps):
            trend = ": the rate falls as temperature rises" + spread
        else:
            trend = ": the rate does not move steadily with temperature"
    return Finding("decoding", f"Rate per decoding, every checkpoint pooled{scope}: {parts}{trend}.")


def template_finding(rates: list[dict]) -> Finding | None:
    """Grounded vs closed-book prompts, when rate rows carry a `prompt_template`; nothing otherwise.

    Only (checkpoint, decoding) cells generated with two or more templates count, so each template is
    compared on the same checkpoints and decodings (not a grounded greedy vs a hot closed-book sample)."""
    carried = [r for r in rates if r.get("prompt_template")]
    cells: dict[tuple, set] = {}
    for r in carried:
        cells.setdefault(_cell(r), set()).add(r["prompt_template"])
    rows = _pooled([r for r in carried if len(cells[_cell(r)]) > 1], ("prompt_template",))
    if len(rows) < 2:
        return None
    rows.sort(key=lambda r: r["rate"])
    parts = ", ".join(f"{r['prompt_template']} {_pct(r)}{_thin(r['n'])}" for r in rows)
    return Finding("template", f"Rate per prompt template: {parts}; {rows[0]['prompt_template']} is lowest "
                               f"({_points(rows[0]['rate'] - rows[-1]['rate'])} vs {rows[-1]['prompt_template']}).")


def _cell(row: dict) -> tuple:
    return row.get("checkpoint_id", row.get("checkpoint")), prompts.split(row.get("decoding") or "")[0]


def _last_rate(rates: list[dict]) -> dict | None:
    rows = _pooled(rates, ("checkpoint", "step"))
    return max(rows, key=lambda r: r["step"] or 0) if rows else None


def mitigation_finding(topic: str, treated: list[dict], treated_name: str, baseline: list[dict],
                       baseline_name: str, how: str) -> Finding | None:
    """A mitigation run's last checkpoint vs its baseline's (LoRA vs full fine-tune, student vs teacher), on the
    decodings both were judged with (a hotter decoding on one side only would skew the comparison). Rows that
    carry `knowledge` also give the known-fact rates: what a mitigation of new-knowledge fine-tuning protects."""
    shared = {r.get("decoding") for r in treated} & {r.get("decoding") for r in baseline}
    treated = [r for r in treated if r.get("decoding") in shared]
    baseline = [r for r in baseline if r.get("decoding") in shared]
    mine, theirs = _last_rate(treated), _last_rate(baseline)
    if mine is None or theirs is None:
        return None
    delta = mine["rate"] - theirs["rate"]
    verdict = "lower" if delta < 0 else "higher" if delta > 0 else "the same"
    thin = _thin(min(mine["n"], theirs["n"]), "outputs on one side")
    text = (f"{treated_name} ends at {_pct(mine)} vs {_pct(theirs)} for {baseline_name} "
            f"{how}: {verdict} ({_points(delta)}){thin}")
    known = [_last_rate([r for r in rows if r.get("knowledge") == "known"]) for rows in (treated, baseline)]
    if None not in known and known[0]["step"] == mine["step"] and known[1]["step"] == theirs["step"]:
        text += (f"; on known facts {_pct(known[0])} vs {_pct(known[1])} "
                 f"({_points(known[0]['rate'] - known[1]['rate'])})")
    return Finding(topic, text + ".")
