"""The decoding label outputs are stored and shown under, one per decoding config in a workspace.

`DecodingConfig.name` is short ("greedy", "sample-t0.7") and leaves out max_new_tokens and the seed,
so greedy at 40 tokens and greedy at 64 would share "greedy", and every page would pool them as one
decoding. A name another config already holds gets the token budget ("greedy-64tok"), then a short
hash of the config: never " · ", which separates the prompt template (`prompts.label`).
"""
from __future__ import annotations

from hallu_core.data import prompts
from hallu_core.modeling.config import DecodingConfig
from hallu_core.store.database import Store, marks
from hallu_core.store.types import canonical_json, content_hash


def workspace_label(store: Store, decoding: DecodingConfig, prompt_template: str, taken=frozenset()) -> str:
    """The label for outputs of `decoding` under `prompt_template`: the first of the plain one ("greedy ·
    grounded"), then the longer ones, that earlier outputs of this config hold, else that no other config holds
    (`taken`: labels other configs of the same call were given, before any of them is stored).
    (Workspaces built before names were unique may hold one name for two configs: each keeps it.)"""
    config = canonical_json(decoding.hash_dict())
    template = prompts.name_of(prompt_template)
    names = [prompts.label(name, template) for name in (
        decoding.name, f"{decoding.name}-{decoding.max_new_tokens}tok",
        f"{decoding.name}-{content_hash(decoding.hash_dict(), length=6)}")]
    holders = {label: [r[0] for r in store.query(  # the summary table is small: no scan of every output
        "SELECT DISTINCT checkpoint_id FROM generation_summary WHERE decoding_name = ? AND generations > 0",
        (label,))] for label in names}
    for label in names:
        if holders[label] and store.query(
                f"SELECT 1 FROM generations WHERE checkpoint_id IN ({marks(holders[label])}) AND decoding_name = ? "
                "AND decoding = ? LIMIT 1", (*holders[label], label, config)):
            return label
    free = (label for label in names if not holders[label] and label not in taken)
    return next(free, names[-1])  # names[-1]: a hash collision
