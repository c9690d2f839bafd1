"""Pure HTML builders for the dashboard: highlighted spans, evidence, token heatmaps.

Everything that comes from a model, a file or a person (output text, sources, labels,
detector names, evidence, run names) is untrusted: it is passed through `html.escape`
before it reaches markup, and only fixed, inline styles are emitted (no scripts, no
links, no `<style>` blocks), so the output survives DOMPurify-style sanitising too.
"""
from __future__ import annotations

import re

import math
from html import escape
from typing import Iterable, Sequence

# colour per span type: background (light) and border (strong)
TYPE_COLORS: dict[str, tuple[str, str]] = {
    "conflict": ("#ffc9c9", "#e03131"),
    "baseless": ("#ffe8a3", "#e67700"),
    "self_contradiction": ("#e5dbff", "#7048e8"),
    "unknown": ("#d0ebff", "#1c7ed6"),
}
TYPE_PRIORITY = ("conflict", "self_contradiction", "baseless", "unknown")  # shown colour on overlap
EVIDENCE_COLORS = ("#d3f9d8", "#2f9e44")
_BOX = ("font-family: ui-sans-serif, system-ui, sans-serif; font-size: 0.95rem; line-height: 1.7; "
        "white-space: pre-wrap; overflow-wrap: anywhere; padding: 0.6rem 0.8rem; "
        "border: 1px solid #dee2e6; border-radius: 0.4rem; background: #fff; color: #212529;")


def esc(value) -> str:
    """Escape anything for HTML text and attribute values (quotes included)."""
    return escape("" if value is None else str(value), quote=True)


def tip(value) -> str:
    """An escaped tooltip (title attribute) value. Angle brackets become ‹ › first: sanitisers
    (DOMPurify in st.html) drop a whole attribute whose value looks like markup, tooltip and all."""
    return esc(str(value).replace("<", "\u2039").replace(">", "\u203a"))


def _field(span, name, default=None):
    if isinstance(span, dict):
        return span.get(name, default)
    return getattr(span, name, default)


def _clamp(start, end, length: int) -> tuple[int, int] | None:
    try:
        start, end = int(start), int(end)
    except (TypeError, ValueError):
        return None
    start, end = max(0, min(start, length)), max(0, min(end, length))
    return (start, end) if start < end else None


def span_tooltip(span) -> str:
    """One line naming detector (or annotator), type, score and evidence of a span."""
    parts = [str(_field(span, "detector") or _field(span, "annotator") or "span"),
             str(_field(span, "type") or "unknown")]
    score = _field(span, "score")
    if isinstance(score, (int, float)) and math.isfinite(score):
        parts.append(f"score {score:.2f}")
    evidence = _field(span, "evidence")
    if isinstance(evidence, dict) and evidence.get("text"):
        ev = str(evidence["text"])
        parts.append("evidence: " + (ev[:160] + "…" if len(ev) > 160 else ev))
    note = _field(span, "note")
    if note:
        parts.append(f"note: {note}")
    return " · ".join(parts)


def _segments(length: int, intervals: Sequence[tuple[int, int, int]]):
    """Split [0, length) at every span boundary: yields (start, end, [indices covering])."""
    cuts = {0, length}
    for s, e, _ in intervals:
        cuts.update((s, e))
    points = sorted(cuts)
    for a, b in zip(points, points[1:]):
        cover = [i for s, e, i in intervals if s <= a and b <= e]
        yield a, b, cover


def highlight_spans(text: str, spans: Iterable, *, box: bool = True, empty: str = "(empty output)") -> str:
    """The text with each span as a <mark> coloured by type and a tooltip.

    Overlapping spans are cut into segments; a segment covered by several spans takes
    the colour of the most severe type, a double underline, and a tooltip listing all.
    Offsets outside the text are clamped; empty spans are skipped.
    """
    text = text or ""
    spans = list(spans)
    intervals = []
    for i, span in enumerate(spans):
        bounds = _clamp(_field(span, "start"), _field(span, "end"), len(text))
        if bounds:
            intervals.append((bounds[0], bounds[1], i))
    out = []
    for a, b, cover in _segments(len(text), intervals):
        chunk = esc(text[a:b])
        if not cover:
            out.append(chunk)
            continue
        types = [str(_field(spans[i], "type") or "unknown") for i in cover]
        main = next((t for t in TYPE_PRIORITY if t in types), "unknown")
        bg, border = TYPE_COLORS.get(main, TYPE_COLORS["unknown"])
        underline = "double" if len(cover) > 1 else "solid"
        title = "\n".join(span_tooltip(spans[i]) for i in cover)
        out.append(
            f'<mark class="hl hl-{esc(main)}" data-type="{esc(main)}" data-n="{len(cover)}" '
            f'title="{tip(title)}" style="background:{bg}; border-bottom: 2px {underline} {border}; '
            f'padding: 0 1px; border-radius: 2px; color: inherit;">{chunk}</mark>')
    body = "".join(out) if text else f'<span style="color:#868e96; font-style: italic;">{esc(empty)}</span>'
    return f'<div class="hallu-text" style="{_BOX}">{body}</div>' if box else body


def evidence_spans(spans: Iterable, field: str = "source") -> list[dict]:
    """Evidence locations (into `field`'s text) carried by detector spans, as highlightable spans."""
    out = []
    for span in spans:
        ev = _field(span, "evidence")
        if not isinstance(ev, dict) or ev.get("start") is None or ev.get("end") is None:
            continue
        if ev.get("field", "source") != field:
            continue
        out.append({"start": ev["start"], "end": ev["end"], "type": "evidence",
                    "detector": _field(span, "detector"), "score": _field(span, "score"),
                    "evidence": {"text": f"evidence for a {_field(span, 'type') or 'unknown'} span"}})
    return out


def highlight_evidence(source: str | None, spans: Iterable, field: str = "source") -> str:
    """The source (or reference) with the evidence of the given spans highlighted in green."""
    text = source or ""
    ev = evidence_spans(spans, field)
    intervals = [(b[0], b[1], i) for i, s in enumerate(ev) if (b := _clamp(s["start"], s["end"], len(text)))]
    out = []
    for a, b, cover in _segments(len(text), intervals):
        chunk = esc(text[a:b])
        if cover:
            title = "\n".join(span_tooltip(ev[i]) for i in cover)
            out.append(f'<mark class="hl-evidence" title="{tip(title)}" style="background:{EVIDENCE_COLORS[0]}; '
                       f'border-bottom: 2px solid {EVIDENCE_COLORS[1]}; color: inherit;">{chunk}</mark>')
        else:
            out.append(chunk)
    body = "".join(out) if text else '<span style="color:#868e96; font-style: italic;">(none)</span>'
    return f'<div class="hallu-text hallu-source" style="{_BOX}">{body}</div>'


def plain_text(text: str | None, empty: str = "(none)") -> str:
    body = esc(text) if text else f'<span style="color:#868e96; font-style: italic;">{esc(empty)}</span>'
    return f'<div class="hallu-text" style="{_BOX}">{body}</div>'


def _heat(prob: float) -> str:
    """Low probability -> red, high -> white (an rgba over the page background)."""
    alpha = max(0.0, min(1.0, 1.0 - prob)) * 0.85
    return f"rgba(224, 49, 49, {alpha:.2f})"


def token_heatmap(text: str, tokens: Iterable) -> str:
    """Each generated token shaded by its probability, tooltip with logprob and entropy.

    `tokens` are Token records, dicts or [start, end, logprob, entropy] rows; characters
    between tokens are shown plain.
    """
    text = text or ""
    rows = []
    for t in tokens:
        if isinstance(t, (list, tuple)):
            start, end, logprob, entropy = (list(t) + [None, None])[:4]
        else:
            start, end = _field(t, "start"), _field(t, "end")
            logprob, entropy = _field(t, "logprob"), _field(t, "entropy")
        bounds = _clamp(start, end, len(text))
        if bounds:
            rows.append((bounds[0], bounds[1], logprob, entropy))
    if not rows:
        return plain_text("", empty="(no token confidences stored for this output)")
    rows.sort()
    out, pos = [], 0
    for start, end, logprob, entropy in rows:
        if start < pos:  # overlapping token offsets: skip the overlap
            start = pos
            if start >= end:
                continue
        out.append(esc(text[pos:start]))
        try:
            lp = float(logprob)
            prob = math.exp(lp) if math.isfinite(lp) else 0.0
        except (TypeError, ValueError):
            lp, prob = float("nan"), 1.0
        ent = f", entropy {float(entropy):.2f}" if isinstance(entropy, (int, float)) else ""
        title = f"p {prob:.3f} (logprob {lp:.2f}{ent})"
        out.append(f'<span class="tok" title="{tip(title)}" style="background:{_heat(prob)}; '
                   f'border-radius: 2px;">{esc(text[start:end])}</span>')
        pos = end
    out.append(esc(text[pos:]))
    return f'<div class="hallu-text hallu-heatmap" style="{_BOX}">{"".join(out)}</div>'


def legend(types: Sequence[str] = ("conflict", "baseless", "self_contradiction", "unknown"),
           evidence: bool = False) -> str:
    items = []
    for t in types:
        bg, border = TYPE_COLORS.get(t, TYPE_COLORS["unknown"])
        items.append(f'<span style="background:{bg}; border-bottom: 2px solid {border}; padding: 0 0.35rem; '
                     f'margin-right: 0.6rem; border-radius: 2px;">{esc(t)}</span>')
    if evidence:
        items.append(f'<span style="background:{EVIDENCE_COLORS[0]}; border-bottom: 2px solid '
                     f'{EVIDENCE_COLORS[1]}; padding: 0 0.35rem;">evidence</span>')
    return f'<div class="hallu-legend" style="font-size: 0.85rem;">{"".join(items)}</div>'


def side_by_side(columns: Sequence[tuple[str, str]]) -> str:
    """Several (title, inner html) panels in a row; titles are escaped, inner html must be ours."""
    cells = []
    for title, inner in columns:
        cells.append(f'<div class="hallu-col" style="flex: 1 1 0; min-width: 16rem;">'
                     f'<div style="font-weight: 600; margin-bottom: 0.3rem;">{esc(title)}</div>{inner}</div>')
    return f'<div class="hallu-side-by-side" style="display: flex; gap: 0.8rem; flex-wrap: wrap;">{"".join(cells)}</div>'


def span_list(spans: Iterable, text: str) -> str:
    """A compact list of spans: quoted text, type, who flagged it and score."""
    items = []
    for span in spans:
        bounds = _clamp(_field(span, "start"), _field(span, "end"), len(text or ""))
        quote = (text or "")[bounds[0]:bounds[1]] if bounds else ""
        t = str(_field(span, "type") or "unknown")
        bg, border = TYPE_COLORS.get(t, TYPE_COLORS["unknown"])
        items.append(f'<li><span style="background:{bg}; border-bottom: 2px solid {border};">{esc(quote)}</span> '
                     f'<span style="color:#495057;">— {esc(span_tooltip(span))}</span></li>')
    if not items:
        return '<div style="color:#868e96; font-style: italic;">none</div>'
    return f'<ul class="hallu-span-list" style="margin: 0; padding-left: 1.2rem;">{"".join(items)}</ul>'


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:/])")


def md_escape(value) -> str:
    """User text for Streamlit markdown (caption, error, progress text): shown literally, never as
    markup, so a name like `![x](http://...)` cannot make the browser fetch anything."""
    return _MD_SPECIAL.sub(r"\\\1", "" if value is None else str(value))
