"""Widgets of the Label page: annotator, scope, the queue snapshot and the actions.

Every action runs in a button callback that calls `hallu_core.labeling.queue` (saved at once)
and leaves a message for the next run. Untrusted text (outputs, names, notes) never
goes into markdown or widget labels: it is shown through `render` (escaped) or as
plain option text.
"""
from __future__ import annotations

import streamlit as st

from hallu_core.labeling import queue as labeling
from hallu_core.labeling.spans import LabelError, MAX_ANNOTATOR_LEN, clean_annotator
from hallu_core.ui.data import clear, q, store

ANNOTATOR, QUEUE, MESSAGE, USED_SELECTION = "label_annotator", "label_queue", "label_message", "label_used_sel"


def annotator_input() -> str | None:
    """The annotator's name, remembered for the browser session (and as ?annotator=...)."""
    if ANNOTATOR not in st.session_state:
        st.session_state[ANNOTATOR] = st.query_params.get("annotator", "")
    st.text_input("Your name (annotator)", key=ANNOTATOR, max_chars=MAX_ANNOTATOR_LEN)
    try:
        name = clean_annotator(st.session_state[ANNOTATOR])
    except LabelError:
        return None
    if st.query_params.get("annotator") != name:
        st.query_params["annotator"] = name
    return name


def scope_picker() -> dict:
    """Run and checkpoint to label (both optional)."""
    runs = {r["run_id"]: r for r in q("runs")}
    ckpts = q("checkpoints")
    c1, c2 = st.columns(2)
    run_id = c1.selectbox("Run", [None, *runs], key="label_run",
                          format_func=lambda r: "all runs" if r is None else str(runs[r].get("name", r)))
    options = [c["checkpoint_id"] for c in ckpts if run_id is None or c["run_id"] == run_id]
    names = {c["checkpoint_id"]: f"{c['label']} (step {c['step']})" for c in ckpts}
    checkpoint_id = c2.selectbox("Checkpoint", [None, *options], key="label_checkpoint",
                                 format_func=lambda c: "all checkpoints" if c is None else names.get(c, c))
    return {"run_id": run_id, "checkpoint_id": checkpoint_id}


def order_picker() -> tuple[str, str | None]:
    c1, c2 = st.columns(2)
    order = c1.selectbox("Queue order", list(labeling.QUEUE_ORDERS), key="label_order",
                         format_func=labeling.QUEUE_ORDERS.get)
    detector = None
    if order == "score":
        dets = q("detectors")
        detector = c2.selectbox("Detector score", [None, *dets], key="label_detector",
                                format_func=lambda d: "any detector" if d is None else d)
    return order, detector


def queue_snapshot(annotator: str, order: str, detector: str | None, scope: dict) -> dict:
    """The queue as it was when this order and scope were chosen; stepping does not reshuffle it."""
    sig = (annotator, order, detector, scope["run_id"], scope["checkpoint_id"])
    snap = st.session_state.get(QUEUE)
    if not snap or snap["sig"] != sig:
        rows = labeling.queue(store(), annotator, order, detector=detector, **scope)
        snap = {"sig": sig, "rows": rows, "pos": 0}
        st.session_state[QUEUE] = snap
    return snap


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


def add_selected(gid: str, annotator: str, sel: dict, type_key: str, note_key: str) -> None:
    span_type = st.session_state.get(type_key)
    if not span_type:
        st.session_state[MESSAGE] = ("error", "Choose a type for the selected span first.", "selection")
        return
    act(labeling.add_span, gid, annotator, sel["start"], sel["end"], span_type,
        st.session_state.get(note_key, ""), message=f"Added a {span_type} span [{sel['start']}, {sel['end']}).")
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
