"""The form widgets whose defaults come from the config models and from what the workspace holds: a training
set for training (never an evaluation set), and the settings of the sidebar checkpoint's earlier outputs."""
from __future__ import annotations

import streamlit as st

from hallu_core.ui.data import q
from hallu_core.views import defaults, render


def from_config(model, name: str, earlier: dict | None = None) -> dict:
    """A number widget's default and help, from the config field it fills (its `earlier` value when given)."""
    field = model.model_fields[name]
    value = field.default if name not in (earlier or {}) else type(field.default)(earlier[name])  # 1 vs 1.0
    return {"value": value, "help": f"Allowed: {field.description}."}


ROLE_WORDS = {defaults.TRAINING: "trained on before", defaults.UNUSED: "", defaults.EVALUATION: "evaluation set"}
NO_TRAINING_SET = ("Choose a training dataset: every dataset in this workspace is an evaluation set (outputs were "
                   "generated from each); pick one, or import a training set on the Overview page.")


def training_dataset(label: str, key: str) -> tuple[str | None, bool]:
    """(the dataset picked, whether the workspace has any). It defaults to a training set, never to an
    evaluation set: a model trained on the prompts it is judged on would make its rates meaningless."""
    roles = q("dataset_roles")
    if not roles:
        st.selectbox(label, ["(no datasets)"], key=key)
        return None, False
    names = list(roles)  # training sets first, evaluation sets last
    picked = st.selectbox(label, names, index=None if roles[names[0]] == defaults.EVALUATION else 0, key=key,
                          placeholder="Choose a training dataset", help="Datasets outputs were generated from "
                          "are evaluation sets; training on one would make its hallucination rates meaningless.",
                          format_func=lambda d: f"{d} ({ROLE_WORDS[roles[d]]})" if ROLE_WORDS[roles[d]] else d)
    return picked, True


def earlier_decoding(checkpoint_labels: dict[str, str], usable: list[str]) -> tuple[str | None, dict]:
    """(the sidebar's checkpoint, the settings its earlier outputs under the sidebar's decoding used: {} when
    Hallu generated nothing yet); a caption says where the generate form's defaults come from."""
    from hallu_core.ui.widgets import context

    ctx_checkpoint, ctx_decoding = context()
    earlier = q("earlier_decoding", ctx_checkpoint, ctx_decoding) or {}
    if earlier:
        of = f" of {checkpoint_labels[ctx_checkpoint]}" if ctx_checkpoint in usable else ""
        st.caption(render.md_escape(f"Defaults: the settings of the earlier '{earlier['name']}' outputs{of} (the "
                                    "sidebar's checkpoint and decoding)."))
    return ctx_checkpoint, earlier
