"""Rows of the workspace database to records (`types`) and back: the JSON columns' encodings."""
from __future__ import annotations

import json

from hallu_core.store.types import (
    Checkpoint, Detection, Example, Generation, Job, Label, Run, Token, canonical_json, spans_from_json,
)


def json_text(value) -> str:
    return canonical_json(value if value is not None else {})


def tokens_json(tokens: list[Token]) -> str:
    # compact rows [start, end, logprob, entropy]: a generation can hold hundreds of tokens
    return json.dumps([[t.start, t.end, round(t.logprob, 5), round(t.entropy, 5)] for t in tokens])


def where(**filters) -> tuple[str, list]:
    used = {k: v for k, v in filters.items() if v is not None}
    if not used:
        return "", []
    return " WHERE " + " AND ".join(f"{k} = ?" for k in used), list(used.values())


def example(r) -> Example:
    return Example(r["id"], r["dataset"], r["prompt"], r["source"], r["reference"], r["task"], json.loads(r["meta"]))


def run(r) -> Run:
    return Run(r["id"], r["name"], r["base_model"], r["kind"], json.loads(r["config"]), r["status"],
               json.loads(r["meta"]), r["created_at"])


def checkpoint(r) -> Checkpoint:
    return Checkpoint(r["id"], r["run_id"], r["step"], r["name"], r["path"], json.loads(r["metrics"]),
                      r["created_at"])


def generation(r) -> Generation:
    tokens = [Token(*t) for t in json.loads(r["tokens"])]
    return Generation(r["id"], r["example_id"], r["checkpoint_id"], r["text"], json.loads(r["decoding"]),
                      r["decoding_name"], r["sample_index"], tokens, json.loads(r["meta"]), r["created_at"])


def detection(r) -> Detection:
    return Detection(r["generation_id"], r["detector"], r["config_hash"], spans_from_json(r["spans"]),
                     r["response_score"], r["created_at"])


def label(r) -> Label:
    return Label(r["generation_id"], r["annotator"], spans_from_json(r["spans"]), r["status"], r["note"],
                 r["created_at"], r["updated_at"], r["selection"], bool(r["assisted"]))


def job(r) -> Job:
    return Job(r["id"], r["kind"], json.loads(r["args"]), r["status"], r["done"], r["total"], r["message"],
               r["log"], r["pid"], r["error"], r["created_at"], r["started_at"], r["finished_at"],
               r["pid_started_at"])
