"""render.py: spans highlighted by type, overlaps, evidence, heatmaps, and everything escaped."""
import html
import re
from html.parser import HTMLParser

import pytest

from hypothesis import given, settings, strategies as st

from hallu_core.store.types import Span, Token
from hallu_core.views import render

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> "q" \'s\' &amp; javascript:x'


def visible_text(markup: str) -> str:
    """What a browser shows as text: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def no_live_markup(markup: str) -> bool:
    lowered = markup.lower()
    return "<script" not in lowered and "<img" not in lowered and "onerror=" not in lowered.replace('onerror=&quot;', '')


TAGS = {"div", "mark", "span", "ul", "li"}  # what render.py emits, and nothing else
ATTRIBUTES = {"class", "style", "title", "data-type", "data-n"}


class _Parsed(HTMLParser):
    """What a browser builds from the markup: elements with their attributes, and the text."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.elements, self.text = [], []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.elements.append(("<!--", {}))

    def handle_decl(self, decl):
        self.elements.append(("<!", {}))

    def unknown_decl(self, data):
        self.elements.append(("<![", {}))


def only_our_markup(markup: str) -> _Parsed:
    parsed = _Parsed(markup)
    for tag, attrs in parsed.elements:
        assert tag in TAGS, (tag, markup)
        assert set(attrs) <= ATTRIBUTES, (tag, attrs)
    return parsed


def test_spans_are_marked_with_type_and_tooltip():
    text = "Born in Oslo in 1901."
    out = render.highlight_spans(text, [{"start": 8, "end": 12, "type": "conflict", "score": 0.87,
                                         "detector": "lexical", "evidence": {"text": "Lima"}}])
    assert out.count("<mark") == 1
    assert 'data-type="conflict"' in out
    assert "lexical · conflict · score 0.87 · evidence: Lima" in html.unescape(out)
    assert visible_text(out) == text


def test_overlapping_spans_are_split_into_segments_listing_both():
    text = "abcdefghij"
    spans = [Span(2, 6, "baseless", 0.5, detector="a"), Span(4, 8, "conflict", 0.9, detector="b")]
    out = render.highlight_spans(text, spans)
    marks = re.findall(r'<mark[^>]*data-type="(\w+)" data-n="(\d)"[^>]*>([^<]*)</mark>', out)
    assert marks == [("baseless", "1", "cd"), ("conflict", "2", "ef"), ("conflict", "1", "gh")]
    both = re.search(r'data-n="2" title="([^"]*)"', out).group(1)
    assert "a · baseless" in html.unescape(both) and "b · conflict" in html.unescape(both)
    assert visible_text(out) == text


def test_bad_offsets_are_clamped_or_skipped():
    text = "short"
    out = render.highlight_spans(text, [{"start": -5, "end": 2}, {"start": 3, "end": 99}, {"start": 4, "end": 4},
                                        {"start": "x", "end": 3}])
    assert out.count("<mark") == 2
    assert visible_text(out) == text


def test_empty_output_says_so():
    assert "(empty output)" in render.highlight_spans("", [])


def test_hostile_text_tooltip_and_evidence_are_escaped():
    text = f"Output {HOSTILE} end"
    span = {"start": 7, "end": 40, "type": '"><script>x</script>', "detector": HOSTILE, "note": HOSTILE,
            "evidence": {"text": HOSTILE, "start": 0, "end": 10, "field": "source"}}
    for out in (render.highlight_spans(text, [span]), render.highlight_evidence(HOSTILE, [span]),
                render.span_list([span], text), render.side_by_side([(HOSTILE, render.plain_text(HOSTILE))]),
                render.token_heatmap(text, [Token(0, 10, -1.0, 0.5)]), render.legend([HOSTILE])):
        assert no_live_markup(out), out
    assert visible_text(render.highlight_spans(text, [span])) == text


def test_evidence_is_highlighted_in_the_source_only_for_its_field():
    source = "Birth city: Lima. Year: 1901."
    spans = [{"start": 0, "end": 3, "type": "conflict", "detector": "lexical",
              "evidence": {"text": "Lima", "start": 12, "end": 16, "field": "source"}},
             {"start": 0, "end": 3, "evidence": {"start": 0, "end": 5, "field": "reference"}}]
    out = render.highlight_evidence(source, spans)
    assert re.findall(r'<mark class="hl-evidence"[^>]*>([^<]*)</mark>', out) == ["Lima"]
    ref = render.highlight_evidence("Lima is a city", spans, field="reference")
    assert re.findall(r'<mark class="hl-evidence"[^>]*>([^<]*)</mark>', ref) == ["Lima "]


def test_token_heatmap_shades_low_probability_tokens_more():
    text = "sure maybe"
    out = render.token_heatmap(text, [Token(0, 4, -0.01, 0.1), [5, 10, -3.0, 2.5]])
    alphas = [float(a) for a in re.findall(r"rgba\(224, 49, 49, ([0-9.]+)\)", out)]
    assert alphas[0] < 0.05 < 0.5 < alphas[1]
    assert "p 0.050 (logprob -3.00, entropy 2.50)" in out
    assert visible_text(out) == text
    assert "no token confidences" in render.token_heatmap(text, [])


# any text, with markup's characters and words common in it
MARKUP_PIECES = st.sampled_from(["<", ">", "&", '"', "'", "=", "/", "!--", "b", "script", "img src=x onerror=",
                                 "&amp;"])


@settings(max_examples=150, deadline=None)
@given(st.lists(MARKUP_PIECES | st.text(max_size=4), max_size=15).map("".join),
       st.lists(st.tuples(st.integers(-5, 70), st.integers(-5, 70),
                          st.sampled_from(["conflict", "baseless", "unknown", "<b>"])), max_size=6))
def test_any_text_and_spans_render_the_text_exactly_and_escaped(text, raw):
    spans = [{"start": a, "end": b, "type": t, "detector": text[:5]} for a, b, t in raw]
    out = render.highlight_spans(text, spans)
    parsed = only_our_markup(out)  # whatever the text holds, it adds no element or attribute
    if text:
        assert "".join(parsed.text) == text
    for tag, attrs in parsed.elements:  # tooltips hold no markup-like brackets (sanitisers drop those)
        assert "<" not in attrs.get("title", "") and ">" not in attrs.get("title", "")


def test_tooltips_never_look_like_markup():
    """DOMPurify (st.html) drops a title that looks like markup: brackets become ‹ › in tooltips only."""
    text = "x <b>y</b>"
    out = render.highlight_spans(text, [{"start": 0, "end": 10, "detector": "<i>det</i>",
                                         "evidence": {"text": "</title><script>"}}])
    title = html.unescape(re.search(r'title="([^"]*)"', out).group(1))
    assert "<" not in title and ">" not in title and "‹i›det‹/i›" in title
    assert visible_text(out) == text


# (hostile value, its escaped form in text, its escaped form in a tooltip)
ESCAPES = [
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;", "‹script›alert(1)‹/script›"),
    ('"><img src=x onerror=alert(1)>', "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;",
     "&quot;›‹img src=x onerror=alert(1)›"),
    ("' onmouseover='alert(1)", "&#x27; onmouseover=&#x27;alert(1)", "&#x27; onmouseover=&#x27;alert(1)"),
    ("&amp; &lt;b&gt;", "&amp;amp; &amp;lt;b&amp;gt;", "&amp;amp; &amp;lt;b&amp;gt;"),
    ("</div></mark><div>", "&lt;/div&gt;&lt;/mark&gt;&lt;div&gt;", "‹/div›‹/mark›‹div›"),
    ("<!-- x --><![CDATA[y]]>", "&lt;!-- x --&gt;&lt;![CDATA[y]]&gt;", "‹!-- x --›‹![CDATA[y]]›"),
]


@pytest.mark.parametrize("value, in_text, in_tip", ESCAPES, ids=[e[0][:12] for e in ESCAPES])
def test_each_builder_escapes_hostile_values_where_they_land(value, in_text, in_tip):
    text = f"A {value} B"
    span = {"start": 2, "end": 2 + len(value), "type": "conflict", "detector": value, "note": value, "score": 0.5,
            "evidence": {"text": value, "start": 2, "end": 2 + len(value), "field": "source"}}
    marked = render.highlight_spans(text, [span])
    assert f">{in_text}</mark>" in marked  # the output text inside its mark
    assert f'title="{in_tip} · conflict · score 0.50 · evidence: {in_tip} · note: {in_tip}"' in marked
    assert f">{in_text}</mark>" in render.highlight_evidence(text, [span])  # the source's evidence
    listed = render.span_list([span], text)
    assert f"{in_text}</span>" in listed and f"— {in_text} · conflict" in listed
    assert f">{in_text}</div>" in render.plain_text(value)
    assert f">{in_text}</div>" in render.side_by_side([(value, "")])
    assert f">{in_text}</span>" in render.legend([value])
    assert f">A {in_text} B</span>" in render.token_heatmap(text, [Token(0, len(text), -0.1, 0.2)])
    for out in (marked, render.highlight_evidence(text, [span]), listed, render.plain_text(value),
                render.side_by_side([(value, "")]), render.legend([value]),
                render.token_heatmap(text, [Token(0, len(text), -0.1, 0.2)])):
        parsed = only_our_markup(out)
        assert value in "".join(parsed.text)  # shown as the very text it is
