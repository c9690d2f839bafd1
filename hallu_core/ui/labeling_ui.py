"""Widgets of the Label page: annotator, scope, the queue snapshot and the actions.

Every action runs in a button callback that calls `hallu_core.labeling.queue` (saved at once)
and leaves a message for the next run. Untrusted text (outputs, names, notes) never
goes into markdown or widget labels: it is shown through `render` (escaped) or as
plain option text.

The URL names the item on screen (`?generation=`, with `?order=` when it came from the queue), so a
reload opens the same item; a link with `?generation=` alone opens that item first, recorded as
chosen by "link".
"""
from __future__ import annotations

import streamlit as st

from hallu_core.labeling import queue as labeling, suggestions
from hallu_core.labeling.spans import LabelError, MAX_ANNOTATOR_LEN, clean_annotator
from hallu_core.ui.data import clear, q, store
from hallu_core.ui.widgets import show_html
from hallu_core.views import render

ANNOTATOR, QUEUE, MESSAGE, USED_SELECTION = "label_annotator", "label_queue", "label_message", "label_used_sel"
NAME = "label_annotator_name"  # the name as last entered: not a widget's key, so it outlives the Label page
ORDER = "label_order"


def annotator_input() -> str | None:
    """The annotator's name, remembered for the browser session (and as ?annotator=...).

    Kept under a key of its own: Streamlit drops a widget's state on a page that does not draw it, so a
    labeler who looked at Inspect came back to an empty name (and could type another spelling)."""
    if NAME not in st.session_state:
        st.session_state[NAME] = st.query_params.get("annotator", "")
    st.session_state[ANNOTATOR] = st.session_state[NAME]
    st.text_input("Your name (annotator)", key=ANNOTATOR, max_chars=MAX_ANNOTATOR_LEN, on_change=_keep_name)
    try:
        name = clean_annotator(st.session_state[ANNOTATOR])
    except LabelError:
        return None
    if st.query_params.get("annotator") != name:
        st.query_params["annotator"] = name
    return name


def _keep_name() -> None:
    st.session_state[NAME] = st.session_state[ANNOTATOR]


def label_link(generation_id: str, container=st) -> None:
    """A link that opens this output on the Label page (as the annotator this session uses, if any)."""
    params = {"generation": generation_id}
    if st.session_state.get(NAME):
        params["annotator"] = st.session_state[NAME]
    container.page_link("pages/label.py", label="Label this output", icon=":material/edit:", query_params=params)


def kept_selectbox(container, label: str, options: list, key: str, **kwargs):
    """A selectbox whose choice outlives a visit to another page: Streamlit drops the state of a widget a page
    does not draw, so a labeler back from Overview found the default queue order (whose labels count only for
    themselves in the rates) and every run; the choice is copied under a key of its own and put back."""
    kept = f"{key}_kept"
    # the first option is the default anyway (and a None put back would show as no choice at all)
    if key not in st.session_state and st.session_state.get(kept, options[0]) in options[1:]:
        st.session_state[key] = st.session_state[kept]
    st.session_state[kept] = choice = container.selectbox(label, options, key=key, **kwargs)
    return choice


def scope_picker() -> dict:
    """Run and checkpoint to label (both optional)."""
    runs = {r["run_id"]: r for r in q("runs")}
    ckpts = q("checkpoints")
    c1, c2 = st.columns(2)
    run_id = kept_selectbox(c1, "Run", [None, *runs], key="label_run",
                            format_func=lambda r: "all runs" if r is None else str(runs[r].get("name", r)))
    options = [c["checkpoint_id"] for c in ckpts if run_id is None or c["run_id"] == run_id]
    names = {c["checkpoint_id"]: f"{c['label']} (step {c['step']})" for c in ckpts}
    checkpoint_id = kept_selectbox(c2, "Checkpoint", [None, *options], key="label_checkpoint",
                                   format_func=lambda c: "all checkpoints" if c is None else names.get(c, c))
    return {"run_id": run_id, "checkpoint_id": checkpoint_id}


def order_picker() -> tuple[str, str | None]:
    if ORDER not in st.session_state and st.query_params.get("order") in labeling.QUEUE_ORDERS:
        st.session_state[ORDER] = st.query_params["order"]  # a reload keeps the queue's order
    c1, c2 = st.columns(2)
    order = kept_selectbox(c1, "Queue order", list(labeling.QUEUE_ORDERS), key=ORDER,
                           format_func=labeling.QUEUE_ORDERS.get,
                           help="Each label records the order its item came from. Labels taken in random order "
                                "are a sample: with a detector's scores they give every rate its interval. "
                                "Items taken in any other order count only for themselves.")
    detector = None
    if order == "score":
        dets = q("detectors")
        detector = kept_selectbox(c2, "Detector score", [None, *dets], key="label_detector",
                                  format_func=lambda d: "any detector" if d is None else d)
    return order, detector


def queue_snapshot(annotator: str, order: str, detector: str | None, scope: dict) -> dict:
    """The queue as it was when this order and scope were chosen (stepping does not reshuffle it), each row
    saying how its item was chosen; at the item the URL names, and the URL then naming the item shown."""
    sig = (annotator, order, detector, scope["run_id"], scope["checkpoint_id"])
    old = st.session_state.get(QUEUE)
    snap = old
    if not old or old["sig"] != sig:
        rows = labeling.queue(store(), annotator, order, detector=detector, **scope)
        # "shown": the item the URL names already; a new order or scope starts at its first item
        snap = {"sig": sig, "rows": [{**r, "selection": order} for r in rows], "pos": 0,
                "shown": old.get("shown") if old else None}
        st.session_state[QUEUE] = snap
        if old is None:
            _resume(snap, order)
    wanted = st.query_params.get("generation")
    if wanted and wanted != snap["shown"]:
        _open_link(snap, wanted, annotator)
    _sync_url(snap, order)
    return snap


def _resume(snap: dict, order: str) -> None:
    """A reload (or a refreshed queue): back at the queue item the URL names, if this queue holds it."""
    wanted = st.query_params.get("generation")
    ids = [r["generation_id"] for r in snap["rows"]]
    if wanted in ids and st.query_params.get("order") == order:
        snap["pos"], snap["shown"] = ids.index(wanted), wanted


def _open_link(snap: dict, gid: str, annotator: str) -> None:
    """A link to one output: shown first, before the rest of the queue, as chosen by "link"."""
    snap["shown"] = gid
    if store().get_generation(gid) is None:
        st.warning(render.md_escape(f"No generation {gid!r} in this workspace (the link's ?generation=); "
                                    "showing the queue instead."))
        return
    finished = gid in labeling.finished_by(store(), annotator, [gid])
    rest = [r for r in snap["rows"] if r["generation_id"] != gid]
    snap["rows"] = [{"generation_id": gid, "labeled": finished, "key": None, "selection": "link"}, *rest]
    snap["pos"] = 0


def _sync_url(snap: dict, order: str) -> None:
    rows, pos = snap["rows"], snap["pos"]
    current = rows[pos] if pos < len(rows) else None
    wanted = {"generation": current and current["generation_id"],
              "order": order if current and current["selection"] != "link" else None}
    for name, value in wanted.items():
        if value is None:
            if name in st.query_params:
                del st.query_params[name]
        elif st.query_params.get(name) != value:
            st.query_params[name] = value
    snap["shown"] = wanted["generation"]


def selection(snap: dict) -> str | None:
    """How the item on screen was chosen (recorded with the label an action creates)."""
    rows, pos = snap["rows"], snap["pos"]
    return rows[pos]["selection"] if pos < len(rows) else None


def own_spans(spans) -> list[dict]:
    """The annotator's spans as shown: whose each is ("accepted from default" names the detector that
    suggested it), without a score (a person's span has none)."""
    return [{**{k: v for k, v in s.to_dict().items() if k not in ("score", "detector")},
             "annotator": f"accepted from {s.detector}" if s.detector else "yours"} for s in spans]


def offered_span(offer: dict) -> dict:
    """A detector suggestion as shown: its span, named after every detector that made it."""
    return {**offer["span"].to_dict(), "detector": ", ".join(offer["detectors"])}


def suggestions_section(gid: str, annotator: str, how: str | None, offered: list[dict] | None, text: str) -> None:
    """The detector suggestions to accept or reject, or (`offered` None: not revealed yet) the reveal button."""
    if offered is None:
        with st.container(border=True, key="label_blind"):
            st.caption("Labeling blind: label first. Detector suggestions stay hidden until you reveal them; "
                       "the reveal is kept with your label, so agreement tells blind labels from assisted ones.")
            st.button("Reveal detector suggestions", key="label_reveal", icon=":material/visibility:",
                      on_click=act, args=(suggestions.reveal, gid, annotator),
                      kwargs={"selection": how, "message": "Detector suggestions revealed."})
        return
    undecided = [o for o in offered if o["decision"] is None]
    st.markdown(f"**Detector spans to review** ({len(undecided)} of {len(offered)})")
    st.caption("You revealed the detector suggestions on this item: your label counts as assisted.")
    for j, offer in enumerate(undecided):
        span = offer["span"]
        with st.container(border=True, key=f"label_offer_{j}"):
            show_html(render.span_list([offered_span(offer)], text))
            c = st.columns([2, 1, 1])
            chosen = None
            if span.type not in labeling.LABEL_SPAN_TYPES:
                chosen = c[0].selectbox("Type", list(labeling.LABEL_SPAN_TYPES), key=f"label_offer_type_{j}")
            c[1].button("Accept", key=f"label_accept_{j}", icon=":material/check:", on_click=act,
                        args=(suggestions.accept_detector_span, gid, annotator, offer["detectors"], span, chosen),
                        kwargs={"selection": how, "message": "Detector span accepted."})
            c[2].button("Reject", key=f"label_reject_{j}", icon=":material/close:", on_click=act,
                        args=(suggestions.reject_detector_span, gid, annotator, offer["detectors"], span),
                        kwargs={"message": "Detector span rejected."})


def refresh_queue() -> None:
    st.session_state.pop(QUEUE, None)


def step(delta: int) -> None:
    message = st.session_state.get(MESSAGE)
    if message and len(message) > 2:  # an error about this item's selection does not follow to the next
        st.session_state.pop(MESSAGE)
    snap = st.session_state.get(QUEUE)
    if snap:
        snap["pos"] = max(0, min(len(snap["rows"]), snap["pos"] + delta))


def act(action, *args, advance: bool = False, message: str = "", **kwargs) -> None:
    """Run a labeling action (a button callback); errors come back as a message, not a crash."""
    try:
        action(store(), *args, **kwargs)
    except (LabelError, ValueError) as exc:
        st.session_state[MESSAGE] = ("error", str(exc))
        return
    clear()
    st.session_state[MESSAGE] = ("success", message or "Saved.")
    if advance:
        step(1)


def show_message(where: str = "page") -> None:
    """The last action's message, where it belongs: an add-span error beside the Add button."""
    message = st.session_state.get(MESSAGE)
    if not message or (message[2] if len(message) > 2 else "page") != where:
        return
    kind, text = st.session_state.pop(MESSAGE)[:2]
    if kind == "error":
        st.error(text, icon=":material/error:")
    elif kind:
        st.toast(text)


def add_selected(gid: str, annotator: str, sel: dict, type_key: str, note_key: str, how: str | None) -> None:
    span_type = st.session_state.get(type_key)
    if not span_type:
        st.session_state[MESSAGE] = ("error", "Choose a type for the selected span first.", "selection")
        return
    act(labeling.add_span, gid, annotator, sel["start"], sel["end"], span_type,
        st.session_state.get(note_key, ""), selection=how,
        message=f"Added a {span_type} span [{sel['start']}, {sel['end']}).")
    if st.session_state.get(MESSAGE, ("",))[0] == "error":
        st.session_state[MESSAGE] = (*st.session_state[MESSAGE][:2], "selection")
        return
    st.session_state[USED_SELECTION] = sel["nonce"]
    st.session_state[note_key] = ""


def fresh_selection(sel: dict | None) -> dict | None:
    """The selection unless it was already turned into a span."""
    return sel if sel and sel.get("nonce") != st.session_state.get(USED_SELECTION) else None


def save_edit(gid: str, annotator: str, index: int, field: str, key: str) -> None:
    value = st.session_state.get(key)
    act(labeling.edit_span, gid, annotator, index, **{field: value}, message="Span updated.")


def move_to_selection(gid: str, annotator: str, index: int, sel: dict) -> None:
    act(labeling.edit_span, gid, annotator, index, start=sel["start"], end=sel["end"],
        message=f"Span moved to [{sel['start']}, {sel['end']}).")
    st.session_state[USED_SELECTION] = sel["nonce"]
