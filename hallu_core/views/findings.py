"""Findings in words: what a run's stored numbers show, one sentence per finding, each with its figure.

`run_findings` and `workspace_findings` read the numbers from a store (this module); the sentences
are pure functions over them (finding_sentences.py).
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

from hallu_core.store.database import Store
from hallu_core.store.run_kinds import teacher_of, training_data
from hallu_core.views import judges, queries
from hallu_core.views.rates import judge_rates
from hallu_core.views.finding_sentences import (
    Finding, best_checkpoint_finding, decoding_finding, knowledge_finding, loss_finding, mitigation_finding,
    template_finding,
)

Source = tuple[str, str]
LOSS_NAMES = ("eval_loss", "val_loss")


# -- reading the numbers ------------------------------------------------------------------
def _losses(store: Store, run_id: str) -> list[tuple[int, float]]:
    metrics = [(step, name, value) for step, name, value in store.run_metrics(run_id) if name in LOSS_NAMES]
    names = {name for _, name, _ in metrics}
    chosen = next((n for n in LOSS_NAMES if n in names), None)
    return [(step, value) for step, name, value in metrics if name == chosen]


def _rates(store: Store, source: Source, run_id: str, **kwargs) -> list[dict]:
    return judge_rates(store, source, run_id=run_id, **kwargs)


def judge_for(store: Store, run_id: str | None = None) -> Source | None:
    """The default judge of a run (or the workspace): people's labels, else the oracle, else `default`."""
    scope = [c.id for c in store.checkpoints(run_id)] if run_id else None
    return judges.default_judge(store, scope)


def _runs(store: Store) -> dict[str, dict]:
    return {r["run_id"]: r for r in queries.runs(store)}


def run_labels(runs: Iterable[dict]) -> dict[str, str]:
    """Run id -> the name people read; a name two runs share gets the run's id beside it, "finetune (run-1a2b)"."""
    runs = list(runs)
    shared = Counter(r["name"] for r in runs)
    return {r["run_id"]: r["name"] if shared[r["name"]] == 1 else f"{r['name']} ({r['run_id']})" for r in runs}


def known_only_partner(runs: dict[str, dict], run: dict) -> dict | None:
    """A run that taught only known facts (meta new_records == 0) from the same base, when `run` taught new ones."""
    if not run["meta"].get("new_records"):
        return None
    return next((r for r in runs.values() if r["run_id"] != run["run_id"] and r["meta"].get("new_records") == 0
                 and r["meta"].get("known_records") and r["base_model"] == run["base_model"]), None)


def same_data(a: dict, b: dict) -> bool:
    """Two runs trained on the same data from the same base: same file or dataset, and the same record counts
    where recorded (the demo passes its records in, so the file alone does not say which mix a run saw)."""
    return (training_data(a["config"]) == training_data(b["config"]) and a["base_model"] == b["base_model"]
            and all(a["meta"].get(k) == b["meta"].get(k) for k in ("train_records", "known_records", "new_records")))


def run_findings(store: Store, run_id: str, source: Source | None = None,
                 runs: dict[str, dict] | None = None, decoding: str | None = None) -> list[Finding]:
    """Every finding about one run under one judge (default: the run's default judge); `runs`: the
    workspace's runs when the caller already read them. `decoding`: the checkpoints' rates are that
    decoding's (as the page's charts), else every decoding pooled; the decoding and template findings
    compare decodings either way."""
    runs = runs if runs is not None else _runs(store)
    run = runs.get(run_id)
    if run is None:
        return []
    names = run_labels(runs.values())
    found: list[Finding | None] = [loss_finding(_losses(store, run_id))]
    source = source or judge_for(store, run_id)
    if source is not None:
        judge = judges.describe(source)
        rates = _rates(store, source, run_id)
        chosen = [r for r in rates if decoding is None or r["decoding"] == decoding]
        scope = f"{decoding} decoding" if decoding else "every decoding pooled"

        def by_knowledge(of_run: str) -> list[dict]:  # sampled outputs differ between runs: compare like with like
            rows = _rates(store, source, of_run, by_decoding=decoding is not None, by_knowledge=True)
            return [r for r in rows if r["knowledge"] != "unrecorded" and r.get("decoding", decoding) == decoding]

        partner = known_only_partner(runs, run)
        found += [best_checkpoint_finding(chosen, judge, steps=run["kind"] != "import", scope=scope),
                  knowledge_finding(by_knowledge(run_id), by_knowledge(partner["run_id"]) if partner else None,
                                    f"'{names[partner['run_id']]}'" if partner else "",
                                    scope=f"{decoding} decoding" if decoding else ""),
                  decoding_finding(rates), template_finding(rates)]
        found += _mitigations(store, source, runs, run, names, decoding)
    return [f for f in found if f is not None]


def _mitigations(store: Store, source: Source, runs: dict[str, dict], run: dict,
                 names: dict[str, str], decoding: str | None = None) -> list[Finding | None]:
    """LoRA or a distilled student vs a full fine-tune on the same data, and student vs teacher (on `decoding`
    only when given)."""
    def rates(run_id: str) -> list[dict]:
        return [r for r in _rates(store, source, run_id, by_knowledge=True) if decoding in (None, r["decoding"])]

    out: list[Finding | None] = []
    if run["run_kind"] not in ("lora", "distill"):
        return out
    mine = rates(run["run_id"])
    if training_data(run["config"]):
        what = "The LoRA run" if run["run_kind"] == "lora" else "The distilled student"
        full = [r for r in runs.values() if r["run_kind"] == "finetune" and same_data(r, run)]
        out += [mitigation_finding(run["run_kind"], mine, f"{what} '{names[run['run_id']]}'", rates(f["run_id"]),
                                   f"the full fine-tune '{names[f['run_id']]}'", "on the same data (last checkpoints)")
                for f in full]
    teacher = teacher_of(run["config"], run["meta"]) if run["run_kind"] == "distill" else None
    if teacher:
        ckpt = store.get_checkpoint(teacher)
        if ckpt is not None:
            rows = [r for r in rates(ckpt.run_id) if r["checkpoint_id"] == ckpt.id]
            name = f"its teacher '{names[ckpt.run_id]}/{ckpt.name}'"
        else:
            rows = rates(teacher) if teacher in runs else []
            name = f"its teacher '{names[teacher]}'" if teacher in runs else ""
        out.append(mitigation_finding("distill", mine, f"The distilled student '{names[run['run_id']]}'", rows, name,
                                      "(the student's last checkpoint)"))
    return out


def workspace_findings(store: Store, source: Source | None = None) -> dict[str, list[Finding]]:
    """Findings per run id (two runs may share a name), every run under one judge (default: each run's own)."""
    runs = _runs(store)
    return {run_id: found for run_id in runs if (found := run_findings(store, run_id, source, runs))}

