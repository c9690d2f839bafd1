"""Label: a queue of outputs; select spans with the mouse; detector suggestions hidden until revealed."""
from __future__ import annotations

import streamlit as st

from hallu_core.labeling import queue as labeling, suggestions
from hallu_core.ui import adjudication_ui, labeling_ui as ui
from hallu_core.ui.data import store
from hallu_core.ui.detail import grounding
from hallu_core.ui.span_selector import span_selector
from hallu_core.ui.widgets import empty_state, frame, show_html
from hallu_core.views import generation_list, render

frame()
st.title("Label")
ui.show_message()
annotator = ui.annotator_input()
if not annotator:
    st.info("Enter your name to start labeling; it is kept for this browser session.")
    st.stop()
scope = ui.scope_picker()
order, detector = ui.order_picker()
s = store()
snap = ui.queue_snapshot(annotator, order, detector, scope)
counts = labeling.progress_counts(s, annotator, **scope)
done = counts["done"] + counts["skipped"]
drafts = f", {counts['drafts']} started but not marked done" if counts["drafts"] else ""
st.progress(done / counts["total"] if counts["total"] else 0.0,
            text=f"{counts['done']} labeled ({counts['with_spans']} with spans), {counts['skipped']} skipped"
                 f"{drafts}, {counts['remaining']:,} to go of {counts['total']:,}")
adjudicator = st.toggle("Adjudicator view", key="label_adjudicator",
                        help="Labeling is blind: other annotators' spans and the agreement stay hidden until you "
                             "mark an item done. The adjudicator view shows everything.")

tab_label, tab_agree = st.tabs(["Label", "Agreement, adjudication and export"])
with tab_agree:
    if adjudicator:
        adjudication_ui.agreement_section(scope)
    else:
        st.caption("Agreement between annotators is hidden while labeling blind; turn on the adjudicator view.")
    adjudication_ui.export_section()

rows, pos = snap["rows"], snap["pos"]
with tab_label:
    if not rows:
        empty_state("Nothing to label in this scope.")
        st.stop()
    shown = f"{len(rows):,} item" + ("" if len(rows) == 1 else "s") if len(rows) >= counts["total"] else \
        f"the first {len(rows):,} of {counts['total']:,} items"
    keyed = order in ("unlabeled", "disagreement")  # a detector's score would tell what labeling blind hides
    with st.expander(f"Queue ({shown}, {labeling.QUEUE_ORDERS[order]})"):
        st.dataframe([{"#": i + 1, "generation": r["generation_id"], "labeled by you": r["labeled"],
                       **({"key": r["key"]} if keyed else {})} for i, r in enumerate(rows)],
                     hide_index=True, key="label_queue_table")
    nav = st.columns([1, 1, 1, 3])
    nav[0].button("Previous", on_click=ui.step, args=(-1,), disabled=pos == 0, key="label_prev",
                  icon=":material/arrow_back:")
    nav[1].button("Next", on_click=ui.step, args=(1,), disabled=pos >= len(rows), key="label_next",
                  icon=":material/arrow_forward:")
    nav[2].button("Refresh queue", on_click=ui.refresh_queue, key="label_refresh", icon=":material/refresh:")
    if pos >= len(rows):
        st.success("End of the queue. Refresh it to see what is left.")
        st.stop()

    gid = rows[pos]["generation_id"]
    detail = generation_list.generation_detail(s, gid)
    if detail is None:
        st.warning("This generation is no longer in the workspace; refresh the queue.")
        st.stop()
    gen, ex = detail["generation"], detail["example"]
    how = ui.selection(snap)
    label = labeling.current_label(s, gid, annotator)
    stored = s.get_label(gid, annotator)
    revealed = stored is not None and stored.assisted  # blind until the annotator reveals the suggestions
    listed = "" if len(rows) >= counts["total"] else f" listed ({counts['total']:,} in this scope)"
    linked = " · opened by link" if how == "link" else ""
    st.text(f"Item {pos + 1} of {len(rows):,}{listed} · generation {gid}{linked}")
    status = "not labeled yet" if stored is None else \
        {"draft": "started, not marked done yet"}.get(stored.status, stored.status)
    st.text(f"Your label: {status} · {len(label.spans)} span(s)")

    left, right = st.columns([2, 3])
    with left:
        grounding(ex, generation_list.detail_spans(detail) if revealed else [],
                  what="detector evidence" if revealed else None)

    with right:
        st.markdown("**Output** — select text with the mouse to mark a span")
        offered = suggestions.suggestions(s, gid, annotator) if revealed else []
        undecided = [o for o in offered if o["decision"] is None]
        sel = ui.fresh_selection(span_selector(gen.text, ui.own_spans(label.spans), key=f"label_sel_{gid}",
                                               detector_spans=[ui.offered_span(o) for o in undecided]))
        show_html(render.legend(("conflict", "baseless", "self_contradiction")))
        if sel:
            with st.container(border=True, key="label_selection_box"):
                st.text(f"Selected [{sel['start']}, {sel['end']}): {sel['text'][:300]}")
                st.segmented_control("Type", list(labeling.LABEL_SPAN_TYPES), key=f"label_type_{gid}")
                st.text_input("Note (optional)", key=f"label_note_{gid}")
                st.button("Add span", type="primary", key="label_add", icon=":material/add:",
                          on_click=ui.add_selected, args=(gid, annotator, sel, f"label_type_{gid}",
                                                          f"label_note_{gid}", how))
                ui.show_message(where="selection")  # an add error shows here, beside the button

        st.markdown(f"**Your spans** ({len(label.spans)})")
        for i, span in enumerate(label.spans):
            with st.container(border=True, key=f"label_span_{i}"):
                show_html(render.span_list(ui.own_spans([span]), gen.text))
                c = st.columns([2, 3, 1, 1])
                tkey, nkey = f"label_edit_type_{gid}_{i}_{span.start}_{span.end}", f"label_edit_note_{gid}_{i}"
                c[0].selectbox("Type", list(labeling.LABEL_SPAN_TYPES), key=tkey,
                               index=list(labeling.LABEL_SPAN_TYPES).index(span.type)
                               if span.type in labeling.LABEL_SPAN_TYPES else 0,
                               on_change=ui.save_edit, args=(gid, annotator, i, "span_type", tkey))
                c[1].text_input("Note", value=span.note, key=nkey,
                                on_change=ui.save_edit, args=(gid, annotator, i, "note", nkey))
                c[2].button("Move to selection", key=f"label_move_{i}", disabled=sel is None,
                            on_click=ui.move_to_selection, args=(gid, annotator, i, sel))
                c[3].button("Delete", key=f"label_del_{i}", icon=":material/delete:",
                            on_click=ui.act, args=(labeling.delete_span, gid, annotator, i),
                            kwargs={"message": "Span deleted."})

        ui.suggestions_section(gid, annotator, how, offered if revealed else None, gen.text)

        act = st.columns(3)
        act[0].button("Done, next", type="primary", key="label_done", icon=":material/done_all:",
                      disabled=not label.spans, on_click=ui.act,
                      args=(labeling.mark_done, gid, annotator),
                      kwargs={"selection": how, "advance": True, "message": "Label saved."})
        act[1].button("No hallucination", key="label_none", icon=":material/verified:", on_click=ui.act,
                      args=(labeling.no_hallucination, gid, annotator),
                      kwargs={"selection": how, "advance": True, "message": "Marked: no hallucination."})
        act[2].button("Skip", key="label_skip", icon=":material/skip_next:", on_click=ui.act,
                      args=(labeling.skip, gid, annotator),
                      kwargs={"selection": how, "advance": True, "message": "Skipped."})

    if adjudicator or (stored is not None and stored.status == "done"):
        adjudication_ui.adjudication_panel(gid, gen.text, annotator)
    else:
        st.caption("Other annotators' labels on this item show once you mark it done (blind labeling).")
