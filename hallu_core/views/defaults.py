"""What the forms default to, read from what the workspace holds: a training set for training (never an
evaluation set), and the decoding a checkpoint's earlier outputs were generated with."""
from __future__ import annotations

import json

from hallu_core.store.database import Store
from hallu_core.store.run_kinds import training_data
from hallu_core.views.queries import datasets

TRAINING, UNUSED, EVALUATION = "training", "unused", "evaluation"


def dataset_roles(store: Store) -> dict[str, str]:
    """Each dataset's role, training sets first, then those nothing used yet, then evaluation sets:
    `training` (a run trained on it), `evaluation` (outputs were generated from its prompts), else `unused`."""
    trained = {data[1] for (config,) in store.query("SELECT config FROM runs")
               if (data := training_data(json.loads(config or "{}"))) and data[0] == "dataset"}
    roles = {}
    for name in datasets(store):
        generated = store.query("SELECT 1 FROM examples e JOIN generations g ON g.example_id = e.id "
                                "WHERE e.dataset = ? LIMIT 1", (name,))
        roles[name] = TRAINING if name in trained else EVALUATION if generated else UNUSED
    order = (TRAINING, UNUSED, EVALUATION)
    return dict(sorted(roles.items(), key=lambda kv: order.index(kv[1])))


def earlier_decoding(store: Store, checkpoint_id: str | None, decoding_name: str | None = None) -> dict | None:
    """The decoding config (DecodingConfig's fields), label ("name") and prompts' "dataset" of earlier outputs:
    the checkpoint's under `decoding_name`, else its newest, else the workspace's newest; None when Hallu
    generated nothing yet (imported outputs carry no config)."""
    tries = [("g.checkpoint_id = ? AND g.decoding_name = ?", (checkpoint_id, decoding_name)),
             ("g.checkpoint_id = ?", (checkpoint_id,)), ("1", ())]
    for where, params in tries:
        if None in params:
            continue
        row = store.query(f"SELECT g.decoding, g.decoding_name, e.dataset FROM generations g JOIN examples e "
                          f"ON e.id = g.example_id WHERE {where} AND g.decoding != '{{}}' ORDER BY g.rowid DESC "
                          "LIMIT 1", params)
        if row:
            return {**json.loads(row[0][0]), "name": row[0][1], "dataset": row[0][2]}
    return None
