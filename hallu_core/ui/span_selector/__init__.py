"""The two-way span selector: the output shown with its spans; a mouse selection comes back
as exact character offsets (code points, end exclusive) into the output.

Built on `st.components.v2.component` (html + css + js, no build step). Styles are not
isolated (`isolate_styles=False`) so the text lives in the page's DOM, where
`window.getSelection()` sees it. The JS sets text with `textContent` only; segments and
tooltips are computed here, and the offsets the browser sends are checked against the text.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import streamlit as st

from hallu_core.views import render

_HERE = Path(__file__).parent
_COMPONENT = st.components.v2.component(
    "hallu_span_selector",
    css=(_HERE / "selector.css").read_text(encoding="utf-8"),
    js=(_HERE / "selector.js").read_text(encoding="utf-8"),
    isolate_styles=False,
)


def _get(span, name, default=None):
    return span.get(name, default) if isinstance(span, dict) else getattr(span, name, default)


def segments(text: str, spans: Iterable = (), detector_spans: Iterable = ()) -> list[dict]:
    """Cut the text at every span boundary: [{text, type, title}] (type None = plain text).

    Label spans show in their type's colour; detector spans not yet decided show dashed
    ("detector"); where both cover a segment the label wins.
    """
    marks = [(_get(s, "start"), _get(s, "end"), str(_get(s, "type") or "unknown"), render.span_tooltip(s))
             for s in spans]
    marks += [(_get(s, "start"), _get(s, "end"), "detector", render.span_tooltip(s)) for s in detector_spans]
    marks = [(max(0, int(a)), min(len(text), int(b)), t, tip) for a, b, t, tip in marks
             if isinstance(a, int) and isinstance(b, int) and a < b]
    cuts = sorted({0, len(text), *[a for a, *_ in marks], *[b for _, b, *_ in marks]})
    out = []
    for a, b in zip(cuts, cuts[1:]):
        cover = [m for m in marks if m[0] <= a and b <= m[1]]
        types = [m[2] for m in cover]
        kind = next((t for t in (*render.TYPE_PRIORITY, "detector") if t in types), None)
        out.append({"text": text[a:b], "type": kind, "title": "\n".join(m[3] for m in cover)})
    return [s for s in out if s["text"]]


def checked_selection(raw, text: str) -> dict | None:
    """The browser's selection as {start, end, text, nonce}, or None when it is not valid."""
    if not isinstance(raw, dict):
        return None
    start, end = raw.get("start"), raw.get("end")
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(text):
        return None
    return {"start": start, "end": end, "text": text[start:end], "nonce": raw.get("nonce")}


def span_selector(text: str, spans: Iterable = (), *, key: str, detector_spans: Iterable = ()) -> dict | None:
    """Show `text` with spans; return the current mouse selection (or None)."""
    result = _COMPONENT(key=key, data={"segments": segments(text or "", spans, detector_spans)},
                        on_selection_change=lambda: None)
    raw = result.get("selection") if hasattr(result, "get") else None
    return checked_selection(raw, text or "")
