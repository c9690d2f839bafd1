"""The pages' hallucination rates: `rates.rate_table` estimates shaped as the pages and findings read them.

A judge (a detector, or an annotator's labels) picks the estimate's inputs: a detector judge is its scores
on every output narrowed by people's labels; an annotator judge is their labels narrowed by `default`'s
scores where it ran. Compare's difference of two sides is paired on their prompts.
"""
from __future__ import annotations

import numpy as np

from hallu_core.data import prompts
from hallu_core.rates.estimator import paired_difference
from hallu_core.rates.table import done_labels, fields, one_way_drawn, rate_table
from hallu_core.store.database import Store
from hallu_core.store.side_vectors import RECORD_WIDTH
from hallu_core.store.types import RANDOM_SELECTIONS
from hallu_core.views import queries
from hallu_core.views.compare import read_side
from hallu_core.views.judges import DEFAULT_DETECTOR, judged_counts


def inputs(judge: tuple[str, str]) -> tuple[str, str | None]:
    """(detector, annotator) of a judge's estimate."""
    kind, name = judge
    return (name, None) if kind == "detector" else (DEFAULT_DETECTOR, name)


def judge_rates(store: Store, judge: tuple[str, str], run_id: str | None = None, by_decoding: bool = True,
                by_knowledge: bool = False, checkpoint_ids=None, confidence: float = 0.95) -> list[dict]:
    """The pages' rates: one row per checkpoint (x decoding, x knowledge) as the judge sees it.

    A detector judge: its scores on every output, narrowed by people's labels where there are some.
    An annotator judge: their labels, narrowed by `default`'s scores where it ran. `rate` is the estimate;
    rows with nothing to estimate are left out. Keys as `queries.hallucination_rates` (run, checkpoint,
    step, decoding, prompt_template, knowledge, source) plus n, labeled, estimate, ci_low, ci_high, method.
    """
    detector, annotator = inputs(judge)
    by = ["checkpoint"] + ["decoding_name"] * by_decoding + ["knowledge"] * by_knowledge
    rows = rate_table(store, detector, annotator, by, run_id=run_id, checkpoint_ids=checkpoint_ids,
                      confidence=confidence)
    names = {c["checkpoint_id"]: c for c in queries.checkpoints(store)}
    out = []
    for r in rows:
        if r["estimate"] is None or (judge[0] == "labels" and not r["labeled"]):
            continue  # an annotator judges only where they labeled: elsewhere it would be the detector's rate
        group = r.pop("group")
        ckpt = names.get(group["checkpoint"], {})
        row = {"checkpoint_id": group["checkpoint"], "source": queries.source_name(judge), "source_kind": judge[0],
               "run": ckpt.get("run"), "run_id": ckpt.get("run_id"), "checkpoint": ckpt.get("checkpoint"),
               "step": ckpt.get("step"), **r, "rate": r["estimate"],
               "positive": r["estimate"] * r["n"]}  # estimated hallucinated outputs: pools as counts do
        if by_decoding:
            row["decoding"] = group["decoding_name"]
            row["prompt_template"] = prompts.split(group["decoding_name"])[1]
        if by_knowledge:
            row["knowledge"] = group["knowledge"] or "unrecorded"
        out.append(row)
    out.sort(key=lambda r: (str(r["run"]), r["step"] or 0, r.get("decoding") or "", r.get("knowledge") or ""))
    return out


def paired_rates(store: Store, judge: tuple[str, str], side_a: tuple[str, str], side_b: tuple[str, str],
                 confidence: float = 0.95) -> dict | None:
    """Rate of B minus rate of A on the prompts both answered (sample 0), with a paired interval.

    Same inputs as `judge_rates`; returns n (shared prompts), labeled_a/b, the difference (estimate,
    ci_low, ci_high, method) and each side's own estimate on those prompts ("a", "b"); None when there
    is nothing to estimate."""
    detector, annotator = inputs(judge)
    scored = [read_side(store, ("detector", detector), side) for side in (side_a, side_b)]
    drawn = one_way_drawn(store, annotator) if annotator else None
    labels = [_side_labels(store, annotator, side, drawn) for side in (side_a, side_b)]
    answered = [_answered(store, side, judged) for side, judged in zip((side_a, side_b), scored)]
    numbers = sorted(answered[0] & answered[1])
    if not numbers:
        return None
    position = {no: i for i, no in enumerate(numbers)}
    scores, sampled, census = [], [], []
    shared = np.asarray(numbers)
    for side, lab in zip(scored, labels):
        f = np.full(len(numbers), np.nan)
        at = np.minimum(np.searchsorted(shared, side.numbers), len(shared) - 1)
        on = shared[at] == side.numbers  # the side's scored prompts that both sides answered
        f[at[on]] = side.scores[on]
        scores.append(f)
        sampled.append({position[no]: y for no, (y, drawn) in lab.items() if no in position and drawn})
        census.append({position[no]: y for no, (y, drawn) in lab.items() if no in position and not drawn})
    diff, a, b = paired_difference(scores[0], scores[1], sampled[0], sampled[1], census[0], census[1],
                                   confidence=confidence)
    if diff.estimate is None:
        return None
    return {"n": len(numbers), "labeled_a": len(sampled[0]) + len(census[0]),
            "labeled_b": len(sampled[1]) + len(census[1]), **fields(diff),
            "a": fields(a), "b": fields(b)}


def _answered(store: Store, side: tuple[str, str], judged) -> set[int]:
    """Every prompt the side answered (sample 0), judged or not: the population. Where a detector judged
    every one of them (a count on an index), they are the numbers of its packed vector: the judge's, read
    already, or another detector's (milliseconds, where the join below took 0.2 s a side at 100,000)."""
    count = store.query("SELECT COUNT(*) FROM generations WHERE checkpoint_id = ? AND decoding_name = ? "
                        "AND sample_index = 0", side)[0][0]
    if count == len(judged.numbers):
        return set(judged.numbers.tolist())
    judged_by = store.query(f"SELECT source, SUM(LENGTH(data)) / {RECORD_WIDTH} FROM side_vectors WHERE source_kind "
                            "= 'detector' AND checkpoint_id = ? AND decoding_name = ? GROUP BY source", side)
    for detector, n in judged_by:  # counted in SQL; only a detector that judged them all is read
        if n == count:
            return set(read_side(store, ("detector", detector), side).numbers.tolist())
    return {no for (no,) in store.query(
        "SELECT n.no FROM generations g JOIN example_numbers n ON n.example_id = g.example_id "
        "WHERE g.checkpoint_id = ? AND g.decoding_name = ? AND g.sample_index = 0", side)}


def _side_labels(store: Store, annotator: str | None, side: tuple[str, str],
                 drawn: bool | None) -> dict[int, tuple[bool, bool]]:
    """prompt number -> (hallucinated, drawn at random) of one side's labeled outputs (sample 0; one label an
    output, table.done_labels).

    One annotator whose done labels were all chosen one way (`drawn`: table.one_way_drawn) reads the side's
    packed label vector (side_vectors.py) in milliseconds; the join below took 0.5 s a side at 100,000
    outputs, on Compare's first view after every write."""
    if annotator and drawn is not None:
        packed = read_side(store, ("labels", annotator), side)
        return {no: (n > 0, drawn) for no, n in zip(packed.numbers.tolist(), packed.spans.tolist())}
    done, params = done_labels(annotator, ("SELECT id FROM generations WHERE checkpoint_id = ? AND decoding_name = ? "
                                           "AND sample_index = 0", list(side)))
    rows = store.query(f"SELECT n.no, l.n_spans > 0, l.drawn FROM ({done}) l JOIN generations g ON g.id = "
                       "l.generation_id JOIN example_numbers n ON n.example_id = g.example_id", params)
    return {no: (bool(y), bool(drawn)) for no, y, drawn in rows}


def run_rates(store: Store, run_id: str, by_decoding: bool = True, by_knowledge: bool = False) -> list[dict]:
    """`judge_rates` of every judge (detector or annotator) that judged some of the run's outputs."""
    checkpoint_ids = [r[0] for r in store.query("SELECT id FROM checkpoints WHERE run_id = ?", [run_id])]
    return [row for judge in sorted(judged_counts(store, checkpoint_ids))
            for row in judge_rates(store, judge, run_id=run_id, by_decoding=by_decoding, by_knowledge=by_knowledge)]


LABELS_FOR_TEN_POINTS = 97  # random labels that give a ±10-point 95% interval at the worst rate (50%), alone


def unskilled(store: Store, detector: str, tasks: tuple[str, ...] | None = None) -> list[dict]:
    """Tasks in scope (default: the workspace's) where `detector`'s scores rank outputs no better than chance
    (or were never measured): [{"task", "reason", "labels_needed"}] — its flags and its rate alone say little
    there; `labels_needed` is how many more random labels give a ±10-point interval without it."""
    from hallu_core.detection.workspace_calibration import detector_skill

    tasks = queries.tasks(store) if tasks is None else tasks
    skills = {task: detector_skill(store, detector, task) for task in tasks}
    weak = [task for task in tasks if not skills[task]["skill"]]
    if not weak:
        return []
    done, params = done_labels(None)  # people's labels: the rate shown beside the note counts only theirs
    drawn = dict(store.query(f"SELECT e.task, SUM(l.drawn) FROM ({done}) l JOIN generations g ON g.id = "
                             "l.generation_id JOIN examples e ON e.id = g.example_id GROUP BY e.task", params))
    return [{"task": task or "(no task)", "reason": skills[task]["reason"],
             "labels_needed": max(0, LABELS_FOR_TEN_POINTS - (drawn.get(task) or 0))} for task in weak]
