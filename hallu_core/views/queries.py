"""Read-side SQL for the dashboard: the workspace's lists, counts and hallucination rates.

The generation list (filters, sorting, pages, the detail) is in `generation_list.py`, Compare's
pairs in `compare.py`.

Everything is aggregated in SQLite and returned as small lists of dicts, so a page
never loads a whole table into pandas. A "rate source" says what makes a response
count as hallucinated: `("detector", NAME)` (at least one span in that detector's newest
detection of the output: a re-run with another configuration replaces, never adds) or
`("labels", ANNOTATOR)` (a done label with at least one span, e.g. "oracle", "gold").
"""
from __future__ import annotations

import json
from typing import Iterable

from hallu_core.data import prompts
from hallu_core.store.connection import distinct_indexed
from hallu_core.store.database import Store
from hallu_core.store.run_kinds import run_kind

Source = tuple[str, str]  # ("detector", name) | ("labels", annotator)

# Whether an example's fact was known to the base model or new in fine-tuning is the example
# meta "knowledge" (the demo world records it; imports may too); the summary tables key on it.


def dicts(rows) -> list[dict]:
    """sqlite3 rows as plain dicts (what the pages and their caches take)."""
    return [dict(r) for r in rows]


def like_pattern(text: str) -> str:
    """`text` as a LIKE pattern that matches it anywhere, its own % and _ literal (ESCAPE '\\')."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def detectors(store: Store) -> list[str]:
    return distinct_indexed(store, "detections", "detector")


def annotators(store: Store) -> list[str]:
    return distinct_indexed(store, "labels", "annotator")


def rate_sources(store: Store) -> list[Source]:
    return [("detector", d) for d in detectors(store)] + [("labels", a) for a in annotators(store)]


def source_name(source: Source) -> str:
    kind, name = source
    return name if kind == "detector" else f"labels:{name}"


def tasks(store: Store) -> list[str]:
    return distinct_indexed(store, "examples", "task")


def knowledge_values(store: Store) -> list[str]:
    """The meta knowledge values the workspace's generations record, in the demo's order first."""
    found = {r[0] for r in store.query("SELECT DISTINCT knowledge FROM generation_summary WHERE knowledge != ''")}
    order = ("known", "new", "unseen")
    return [k for k in order if k in found] + sorted(found - set(order))


# -- overview -------------------------------------------------------------------------
def overview(store: Store) -> dict:
    """Workspace counts; generations, detections and labels from the summary tables (constant time)."""
    counts = {t: store.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("examples", "runs", "checkpoints", "jobs")}
    generations, labeled = store.query(
        "SELECT COALESCE(SUM(generations), 0), COALESCE(SUM(labeled), 0) FROM generation_summary")[0]
    stored = dict(store.query("SELECT source_kind, SUM(n_rows) FROM source_summary GROUP BY source_kind"))
    counts.update(generations=generations, detections=stored.get("detector", 0), labels=stored.get("labels", 0))
    counts["labeled_generations"] = labeled
    counts["labeled_share"] = labeled / generations if generations else 0.0
    counts["jobs_running"] = store.query("SELECT COUNT(*) FROM jobs WHERE status IN ('queued','running')")[0][0]
    return counts


def checkpoints(store: Store) -> list[dict]:
    """Every checkpoint with its run, the decodings it was generated with and its generation count."""
    rows = dicts(store.query(
        """SELECT c.id AS checkpoint_id, c.name AS checkpoint, c.step, c.run_id, r.name AS run, r.kind, r.config,
                  c.path, c.metrics
           FROM checkpoints c JOIN runs r ON r.id = c.run_id ORDER BY r.created_at, r.id, c.step"""))
    per: dict[str, list] = {}
    for r in store.query("SELECT checkpoint_id, decoding_name, SUM(generations) FROM generation_summary "
                         "GROUP BY checkpoint_id, decoding_name HAVING SUM(generations) > 0"):
        per.setdefault(r[0], []).append((r[1], r[2]))
    for row in rows:
        row["run_kind"] = run_kind(row.pop("kind"), json.loads(row.pop("config") or "{}"))  # lora apart from finetune
        row["metrics"] = json.loads(row["metrics"] or "{}")
        row["decodings"] = [d for d, _ in per.get(row["checkpoint_id"], [])]
        row["generations"] = sum(n for _, n in per.get(row["checkpoint_id"], []))
        row["label"] = f"{row['run']} / {row['checkpoint']}"
    return rows


def runs(store: Store) -> list[dict]:
    rows = dicts(store.query(
        """SELECT r.id AS run_id, r.name, r.kind, r.base_model, r.status, r.created_at, r.config, r.meta,
                  (SELECT COUNT(*) FROM checkpoints c WHERE c.run_id = r.id) AS checkpoints,
                  (SELECT MAX(step) FROM run_metrics m WHERE m.run_id = r.id) AS last_step
           FROM runs r ORDER BY r.created_at, r.id"""))
    for row in rows:
        row["config"], row["meta"] = json.loads(row["config"] or "{}"), json.loads(row["meta"] or "{}")
        row["run_kind"] = run_kind(row["kind"], row["config"])  # a LoRA fine-tune shows as lora
    return rows


# -- hallucination rates ----------------------------------------------------------------
def hallucination_rates(store: Store, sources: Iterable[Source] | None = None, run_id: str | None = None,
                        by_decoding: bool = True, by_knowledge: bool = False) -> list[dict]:
    """Share of responses with >= 1 span per checkpoint (x decoding, x known/new) per source.

    Read from `source_summary` (hallu_core/store/summary.py): `n` is the generations the source judged,
    `positive` those it flagged. Sources default to every detector and annotator.
    """
    keys = ["s.checkpoint_id"] + ["s.decoding_name"] * by_decoding + ["s.knowledge"] * by_knowledge
    where, params = "", []
    if sources is not None:
        sources = list(sources)
        for kind, _ in sources:
            if kind not in ("detector", "labels"):
                raise ValueError(f"unknown rate source kind {kind!r}")
        if not sources:
            return []
        where = "WHERE (" + " OR ".join("(s.source_kind = ? AND s.source = ?)" for _ in sources) + ")"
        params = [v for source in sources for v in source]
    if run_id is not None:
        where += (" AND " if where else "WHERE ") + "c.run_id = ?"
        params.append(run_id)
    group = ", ".join(["s.source_kind", "s.source"] + keys)
    rows = store.query(
        f"""SELECT {group}, SUM(s.judged) AS n, SUM(s.flagged) AS positive,
                   c.name AS checkpoint, c.step, c.run_id, r.name AS run
            FROM source_summary s LEFT JOIN checkpoints c ON c.id = s.checkpoint_id LEFT JOIN runs r ON r.id = c.run_id
            {where} GROUP BY {group} HAVING SUM(s.judged) > 0""", params)
    out = []
    for r in rows:
        source = (r["source_kind"], r["source"])
        row = {"checkpoint_id": r["checkpoint_id"], "source": source_name(source), "source_kind": source[0],
               "n": r["n"], "positive": r["positive"], "rate": r["positive"] / r["n"],
               "run": r["run"], "run_id": r["run_id"], "checkpoint": r["checkpoint"], "step": r["step"]}
        if by_decoding:  # the label folds the prompt template in ("greedy · grounded"): findings compare them
            row["decoding"] = r["decoding_name"]
            row["prompt_template"] = prompts.split(r["decoding_name"])[1]
        if by_knowledge:
            row["knowledge"] = r["knowledge"] or "unrecorded"
        out.append(row)
    out.sort(key=lambda r: (str(r["run"]), r["step"] or 0, r["source"], r.get("decoding") or "",
                            r.get("knowledge") or ""))
    return out


LEARNING_RATES = ("learning_rate", "lr")  # on a panel of their own: 3e-4 beside grad norms of 1-10 is a flat 0


def metric_points(store: Store, run_id: str) -> list[dict]:
    """A run's logged metrics as long-format points (step, series, value, panel)."""
    return [{"step": step, "series": name, "value": value,
             "panel": "loss" if "loss" in name else "learning rate" if name in LEARNING_RATES else "metric"}
            for step, name, value in store.run_metrics(run_id)]


def rate_points(rates: list[dict], decoding: str | None = None) -> list[dict]:
    """Rows of `hallucination_rates` as curve points; `decoding` None pools rows already pooled."""
    return [{"step": r["step"], "series": r["source"], "value": r["rate"], "panel": "hallucination rate",
             "ci_low": r.get("ci_low"), "ci_high": r.get("ci_high")}
            for r in rates if decoding is None or r.get("decoding") == decoding]


def datasets(store: Store) -> list[str]:
    return distinct_indexed(store, "examples", "dataset")
