"""Label page sections: annotators side by side, adjudication, agreement table, export."""
from __future__ import annotations

from itertools import combinations

import streamlit as st

from hallu_core.labeling import agreement
from hallu_core.labeling.queue import ADJUDICATED
from hallu_core.ui.data import store
from hallu_core.ui.labeling_ui import act
from hallu_core.ui.widgets import show_html
from hallu_core.views import render
from hallu_core.views.judges import is_synthetic


def _save_adjudication(gid: str, candidates: list[dict], key: str, reviewer: str) -> None:
    chosen = st.session_state.get(key) or []
    act(agreement.adjudicate, gid, [candidates[i]["span"] for i in chosen], reviewer,
        message=f"Adjudicated set saved ({len(chosen)} span(s)).")


def who(annotator: str) -> str:
    return f"{annotator} (synthetic)" if is_synthetic(annotator) else annotator


def seen(label) -> str:
    return ", saw detector suggestions" if label.assisted else ""


def adjudication_panel(gid: str, text: str, reviewer: str) -> None:
    """Every annotator's spans on this item side by side; the reviewer picks the final set."""
    s = store()
    labels = [lab for lab in s.labels(generation_id=gid) if lab.status == "done"]
    humans = [lab for lab in labels if lab.annotator != ADJUDICATED]
    if len(humans) < 2:
        return
    with st.container(border=True, key="label_adjudication"):
        st.subheader("Annotators on this item")
        pairs = [f"{who(a.annotator)} vs {who(b.annotator)}: character F1 {agreement.char_f1(a.spans, b.spans):.2f}"
                 f" ({'assisted' if a.assisted or b.assisted else 'blind'})" for a, b in combinations(humans, 2)]
        st.text("Agreement — " + "; ".join(pairs))
        shown = humans + [lab for lab in labels if lab.annotator == ADJUDICATED]
        show_html(render.side_by_side([(f"{who(lab.annotator)} ({len(lab.spans)} spans{seen(lab)})",
                                        render.highlight_spans(text, [{**sp.to_dict(), "annotator": lab.annotator}
                                                                      for sp in lab.spans]))
                                       for lab in shown]))
        candidates = agreement.candidate_spans(s, gid)
        final = s.get_label(gid, ADJUDICATED)
        if final is not None:
            keep = {(sp.start, sp.end, sp.type) for sp in final.spans}
            default = [i for i, c in enumerate(candidates) if (c["span"].start, c["span"].end, c["span"].type) in keep]
        else:
            default = [i for i, c in enumerate(candidates) if len(set(c["annotators"])) == len(humans)]
        key = f"adjudicate_{gid}_{final.updated_at if final else 0}"

        def describe(i: int) -> str:
            c = candidates[i]
            quote = text[c["span"].start:c["span"].end]
            quote = quote if len(quote) <= 60 else quote[:57] + "..."
            return f"[{c['span'].start}, {c['span'].end}) {c['span'].type}: “{quote}” — {', '.join(c['annotators'])}"

        st.container(key="adjudicate_pick").multiselect("Final span set", list(range(len(candidates))), default=default, key=key,
                       format_func=describe, placeholder="no hallucination")
        st.button("Save adjudicated set", key="adjudicate_save", icon=":material/gavel:",
                  on_click=_save_adjudication, args=(gid, candidates, key, reviewer))


def agreement_section(scope: dict) -> None:
    st.subheader("Agreement between annotators")
    rows = agreement.agreement_table(store(), **scope)
    if not rows:
        st.info("Agreement appears once two annotators have labeled the same outputs.")
        return
    st.dataframe([{"annotator A": r["a"], "annotator B": r["b"], "shared items": r["items"],
                   "character F1": r["char_f1"], "Cohen's kappa": r["kappa"],
                   "blind items": r["blind"]["items"], "F1 blind": r["blind"]["char_f1"],
                   "kappa blind": r["blind"]["kappa"], "assisted items": r["assisted"]["items"],
                   "F1 assisted": r["assisted"]["char_f1"], "kappa assisted": r["assisted"]["kappa"],
                   "both flagged": r["both_positive"], "only A": r["a_only"], "only B": r["b_only"]}
                  for r in rows], hide_index=True, key="agreement_table",
                 column_config={name: st.column_config.NumberColumn(format="%.3f") for name in (
                     "character F1", "Cohen's kappa", "F1 blind", "kappa blind", "F1 assisted", "kappa assisted")})
    st.caption("Blind: neither annotator had revealed the detector suggestions on the item; assisted: at least "
               "one had (suggestions pull annotators together, so assisted agreement reads higher).")


def export_section() -> None:
    from hallu_core.data import export

    st.subheader("Export labels")
    names = store().annotators()
    if not names:
        st.info("No labels yet.")
        return
    c1, c2 = st.columns([3, 1])
    chosen = c1.multiselect("Annotators", names, default=[ADJUDICATED] if ADJUDICATED in names else names,
                            key=f"label_export_annotators_{ADJUDICATED in names}")
    fmt = c2.selectbox("Format", ["jsonl", "csv", "parquet"], key="label_export_format")
    st.download_button("Download labels", data=lambda: export.export_bytes(store(), fmt, annotators=chosen or None),
                       file_name=f"hallu-labels.{fmt}", key="label_export_download", icon=":material/download:",
                       disabled=not chosen)
    if chosen and (note := export.left_out_note(export.unfinished_labels(store(), chosen))):
        st.caption(note)
