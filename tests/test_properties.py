"""Property-based tests (hypothesis) of import, span arithmetic and HTML rendering.

What a user relies on: a file, however broken, is either imported whole with every span
inside its text, or refused with an ImportValidationError and nothing stored; span
maths never leaves the text; rendered HTML shows user text as text, never as markup.
"""
from __future__ import annotations

import functools
import io
import json
import os
import shutil
import tempfile
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hallu_core.data.io import import_file
from hallu_core.data.records import ImportValidationError
from hallu_core.store.database import Store

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])
HOSTILE = ["<script>window.__pwned=1</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
           "![x](javascript:alert(1))", "<iframe src=//evil>", "\u202e\u200f", "&lt;b&gt;", "\x00\x07\r",
           "</div></mark>", "'\"`", "{{7*7}}", "%3Cscript%3E"]
# text without lone surrogates (no UTF-8 file can hold them), mixed with hostile snippets
chars = st.characters(blacklist_categories=("Cs",))
texts = st.lists(st.one_of(st.text(chars, max_size=12), st.sampled_from(HOSTILE)), max_size=5).map("".join)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts,
                         st.sampled_from([10 ** 400, -(2 ** 63), 1e308]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(texts, inner, max_size=3)),
                           max_leaves=6)
# a fresh workspace per example: on tmpfs when there is one (no fsync), else the temp folder
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
LABEL_TYPES = ["Evident Conflict", "Subtle Conflict", "Evident Baseless Info", "Subtle Baseless Info"]


@st.composite
def ragtruth_rows(draw, index: int = 0):
    """A valid RAGTruth-schema record: spans cut from the response itself."""
    response = draw(texts.filter(bool))
    labels = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, len(response)))
        end = draw(st.integers(start, len(response)))
        labels.append({"start": start, "end": end, "text": response[start:end],
                       "label_type": draw(st.sampled_from(LABEL_TYPES))})
    return {"id": f"r{index}-{draw(st.integers(0, 3))}", "task_type": draw(st.sampled_from(["QA", "Summary"])),
            "model": draw(st.sampled_from(["m1", "m2", "<b>m3</b>"])), "source": draw(texts),
            "source_id": f"s{index}", "response": response, "labels": labels}


@st.composite
def mutated_row(draw, index: int):
    row = draw(ragtruth_rows(index))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["drop", "retype", "label-drop", "label-retype", "shift", "retext", "extra"]))
        if kind == "drop":
            row.pop(draw(st.sampled_from(sorted(row))), None)
        elif kind == "retype":
            row[draw(st.sampled_from(sorted(row)))] = draw(json_values)
        elif kind == "extra":
            row[draw(texts)] = draw(json_values)
        elif isinstance(row.get("labels"), list) and row["labels"] and isinstance(row["labels"][0], dict):
            label = row["labels"][draw(st.integers(0, len(row["labels"]) - 1))]
            if not isinstance(label, dict):
                continue
            key = draw(st.sampled_from(["start", "end", "text", "label_type", "type", "score"]))
            if kind == "label-drop":
                label.pop(key, None)
            elif kind == "label-retype":
                label[key] = draw(json_values)
            elif kind == "shift":
                label[draw(st.sampled_from(["start", "end"]))] = draw(st.integers(-3, 10 ** 6))
            else:
                label["text"] = draw(texts)
    return row


@st.composite
def jsonl_files(draw) -> bytes:
    rows = [draw(mutated_row(i)) for i in range(draw(st.integers(1, 4)))]
    lines = [json.dumps(r, ensure_ascii=draw(st.booleans())) for r in rows]
    data = "\n".join(lines).encode("utf-8")
    return draw(st.one_of(st.just(data), byte_mutations(data)))


def byte_mutations(data: bytes):
    """Truncate, cut out, overwrite or insert bytes somewhere in the file."""
    @st.composite
    def mutate(draw):
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(out)))
            kind = draw(st.sampled_from(["truncate", "cut", "overwrite", "insert"]))
            if kind == "truncate":
                del out[at:]
            elif kind == "cut":
                del out[at:at + draw(st.integers(1, 8))]
            elif kind == "overwrite":
                chunk = draw(st.binary(min_size=1, max_size=4))
                out[at:at + len(chunk)] = chunk
            else:
                out[at:at] = draw(st.sampled_from([b"\n", b"\xff", b'"', b"{", b"}", b",", b"\\u", b"\x00", b"9" * 30,
                                                      b"\\ud800", b"[[[["]))
        return bytes(out)
    return mutate()


def _import_or_refuse(data: bytes, name: str):
    """Import into a fresh workspace; returns (store, summary or None). Anything else than
    ImportValidationError escapes and fails the test."""
    store = Store(tempfile.mkdtemp(prefix="hallu-prop-", dir=SCRATCH))
    before = store.counts()
    try:
        return store, import_file(store, data=data, name=name)
    except ImportValidationError as exc:
        assert exc.problems, "a refusal names at least one problem"
        for problem in exc.problems:
            assert problem.file == name
        assert store.counts() == before, "a refused import stored something"
        return store, None


def _discard(store: Store) -> None:
    store.close()
    shutil.rmtree(store.root, ignore_errors=True)


def _check_stored_spans(store: Store) -> None:
    for label in store.labels():
        text = store.get_generation(label.generation_id).text
        for span in label.spans:
            assert 0 <= span.start <= span.end <= len(text)
            assert span.problems(text) == []


@FAST
@given(data=jsonl_files())
def test_import_of_mutated_ragtruth_jsonl_never_raises_anything_else(data):
    store, summary = _import_or_refuse(data, "fuzz.jsonl")
    try:
        if summary is None:
            return
        _check_stored_spans(store)
        for line in data.decode("utf-8").split("\n"):
            row = json.loads(line) if line.strip() else None
            if not row or "response" not in row:
                continue
            gen = store.get_generation(str(row["id"]))
            assert gen is not None and gen.text == row["response"]
            stored = {(s.start, s.end) for label in store.labels(gen.id) for s in label.spans}
            for label in row.get("labels") or []:
                if "text" in label:  # accepted spans always hold exactly the text they claim
                    assert row["response"][label["start"]:label["end"]] == label["text"]
                assert (label["start"], label["end"]) in stored
    finally:
        _discard(store)


@FAST
@given(rows=st.lists(ragtruth_rows(), min_size=1, max_size=3), data=st.data())
def test_import_of_mutated_csv_never_raises_anything_else(rows, data):
    from hallu_core.data import tables

    flat = tables.flat_rows([{**r, "annotators": ["gold"] if r["labels"] else [],
                              "labels": [{**lab, "annotator": "gold", "type": "conflict", "created_at": 0,
                                          "updated_at": 0} for lab in r["labels"]]} for r in rows])
    import csv

    buffer = io.StringIO()
    columns = tables.GENERATION_COLUMNS + ["annotator"] + tables.SPAN_COLUMNS
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(flat)
    raw = buffer.getvalue().encode("utf-8")
    raw = data.draw(st.one_of(st.just(raw), byte_mutations(raw)))
    store, summary = _import_or_refuse(raw, "fuzz.csv")
    try:
        if summary is not None:
            _check_stored_spans(store)
    finally:
        _discard(store)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_import_of_damaged_parquet_never_raises_anything_else(data):
    import pandas as pd

    frame = pd.DataFrame({"id": ["r1", "r2"], "response": ["Paris is in Spain.", "ok"], "annotator": ["gold", ""],
                          "start": [12, None], "end": [17, None], "text": ["Spain", None],
                          "type": ["conflict", None]})
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    raw = data.draw(st.one_of(st.just(out.getvalue()), byte_mutations(out.getvalue()),
                              st.binary(max_size=200)))
    store, summary = _import_or_refuse(raw, "fuzz.parquet")
    try:
        if summary is not None:
            _check_stored_spans(store)
    finally:
        _discard(store)


# -- span arithmetic ------------------------------------------------------------------------
@FAST
@given(text=texts, start=st.integers(-5, 80), end=st.integers(-5, 80),
       span_type=st.sampled_from(["conflict", "baseless", "self_contradiction", "unknown", "bogus"]))
def test_span_problems_are_empty_exactly_for_spans_inside_the_text(text, start, end, span_type):
    from hallu_core.store.types import Span

    inside = 0 <= start <= end <= len(text)
    assert (Span(start, end, span_type).problems(text) == []) == (inside and span_type != "bogus")


spans_of = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)).map(sorted).map(tuple), max_size=5)


@FAST
@given(a=spans_of, b=spans_of)
def test_character_overlap_counts_stay_within_both_span_sets(a, b):
    from hallu_core.detection.metrics import span_counts
    from hallu_core.labeling.agreement import char_f1

    overlap, na, nb = span_counts(a, b)
    assert 0 <= overlap <= min(na, nb)
    assert span_counts(b, a) == (overlap, nb, na)
    # each character once, however many spans of a side cover it
    chars = [{c for s, e in side for c in range(s, e)} for side in (a, b)]
    assert (overlap, na, nb) == (len(chars[0] & chars[1]), len(chars[0]), len(chars[1]))
    f1 = char_f1(a, b)
    assert 0.0 <= f1 <= 1.0 and f1 == pytest.approx(char_f1(b, a))
    assert char_f1(a, a) == 1.0


@FAST
@given(preds=st.lists(spans_of, min_size=1, max_size=4), golds=st.lists(spans_of, min_size=1, max_size=4))
def test_span_precision_recall_and_f1_never_exceed_one(preds, golds):
    """Overlapping spans within a response (two detectors' spans pooled, a label marked twice) count once."""
    from hallu_core.detection.metrics import span_prf, span_sweep

    scores = span_prf(preds, golds)
    assert all(0.0 <= scores[k] <= 1.0 for k in ("precision", "recall", "f1"))
    for point in span_sweep(preds, golds, thresholds=[0.0, 1.0]):
        assert all(0.0 <= point["span"][k] <= 1.0 for k in ("precision", "recall", "f1"))


@pytest.fixture(scope="module")
def label_store(tmp_path_factory):
    from hallu_core.store.types import Checkpoint, Example, Generation, Run

    store = Store(tmp_path_factory.mktemp("labels"))
    store.add_examples([Example("e", "d", "p")])
    store.add_run(Run("r", "run", "base"))
    store.add_checkpoint(Checkpoint("c", "r", 0, "base"))
    store.add_generations([Generation("g", "e", "c", "Marie Curie was born in 1867 in Warsaw.")])
    yield store
    store.close()


@FAST
@given(actions=st.lists(st.tuples(st.sampled_from(["add", "edit", "delete"]), st.integers(-5, 50),
                                  st.integers(-5, 50), st.sampled_from(["conflict", "baseless", "unknown", "x"]),
                                  st.integers(-1, 4)), max_size=8))
def test_labeling_actions_keep_every_span_inside_the_output(label_store, actions):
    from hallu_core.labeling import queue as labeling
    from hallu_core.labeling.queue import LabelError

    label_store.delete_label("g", "prop")
    text = label_store.get_generation("g").text
    for action, start, end, span_type, index in actions:
        try:
            if action == "add":
                labeling.add_span(label_store, "g", "prop", start, end, span_type)
            elif action == "edit":
                labeling.edit_span(label_store, "g", "prop", index, start=start, end=end)
            else:
                labeling.delete_span(label_store, "g", "prop", index)
        except LabelError:
            pass  # a refused action is fine; a crash or a span outside the text is not
        label = label_store.get_label("g", "prop")
        for span in label.spans if label else []:
            assert 0 <= span.start < span.end <= len(text)
            assert span.type in labeling.LABEL_SPAN_TYPES


# -- HTML rendering -------------------------------------------------------------------------
SAFE_TAGS = {"div", "mark", "span", "ul", "li"}


class _Walker(HTMLParser):
    """Collects the text of rendered HTML and which characters sit inside <mark>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.marked, self.tags, self._depth = [], [], [], 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        if tag == "mark":
            self._depth += 1

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag):
        if tag == "mark":
            self._depth -= 1

    def handle_data(self, data):
        self.text.append(data)
        self.marked.extend([self._depth > 0] * len(data))

    def handle_comment(self, data):
        self.tags.append(("!--", []))

    def handle_decl(self, decl):
        self.tags.append(("!", []))

    def unknown_decl(self, data):
        self.tags.append(("!", []))

    def handle_pi(self, data):
        self.tags.append(("?", []))


def _walk(html: str) -> _Walker:
    walker = _Walker()
    walker.feed(html)
    walker.close()
    for tag, attrs in walker.tags:
        assert tag in SAFE_TAGS, f"unexpected element <{tag}> in rendered output"
        for name, value in attrs:
            assert name in {"class", "style", "title", "data-type", "data-n"}, f"unexpected attribute {name}"
            assert "javascript:" not in (value or "").lower() or name == "title"
    return walker


span_dicts = st.fixed_dictionaries(
    {"start": st.one_of(st.integers(-5, 60), st.none(), st.text(max_size=2)), "end": st.integers(-5, 60),
     "type": st.one_of(st.sampled_from(["conflict", "baseless", "self_contradiction", "unknown"]), texts)},
    optional={"note": texts, "detector": texts, "score": st.floats(), "evidence": st.fixed_dictionaries(
        {"text": texts, "start": st.integers(-5, 60), "end": st.integers(-5, 60)})})


def _clamped(span, length):
    try:
        s, e = int(span["start"]), int(span["end"])
    except (TypeError, ValueError):
        return None
    s, e = max(0, min(s, length)), max(0, min(e, length))
    return (s, e) if s < e else None


@FAST
@given(text=texts.filter(bool), spans=st.lists(span_dicts, max_size=5))
def test_highlighted_text_is_escaped_and_marks_exactly_the_spans(text, spans):
    from hallu_core.views.render import highlight_spans

    walker = _walk(highlight_spans(text, spans))
    assert "".join(walker.text) == text  # every character shown, none turned into markup
    expected = [False] * len(text)
    for span in spans:
        bounds = _clamped(span, len(text))
        if bounds:
            expected[bounds[0]:bounds[1]] = [True] * (bounds[1] - bounds[0])
    assert walker.marked == expected


@FAST
@given(text=texts, spans=st.lists(span_dicts, max_size=4),
       # token rows as generation stores them: offsets (maybe stale), logprob <= 0 (or -inf/nan), entropy >= 0
       tokens=st.lists(st.tuples(st.integers(-3, 60), st.integers(-3, 60),
                                 st.one_of(st.floats(max_value=0.0), st.just(float("nan"))),
                                 st.floats(min_value=0.0, allow_infinity=False)), max_size=8))
def test_every_renderer_keeps_user_text_as_text(text, spans, tokens):
    from hallu_core.views import render

    assert "".join(_walk(render.token_heatmap(text, tokens)).text) in (text, "(no token confidences stored "
                                                                             "for this output)")
    assert "".join(_walk(render.highlight_evidence(text, spans)).text) in (text, "(none)")
    assert "".join(_walk(render.plain_text(text)).text) in (text, "(none)")
    _walk(render.span_list(spans, text))
    _walk(render.side_by_side([(text, render.plain_text(text))]))
    assert "<script" not in render.highlight_spans(text, spans).lower()


@functools.cache
def demo_world():
    from hallu_core.demo.world import build_world

    return build_world(0)


def _right_texts(card: dict, rng_seed: int) -> list[str]:
    """What a model that knows the card may say: every wording of the world's templates."""
    import random

    from hallu_core.demo import text

    rng = random.Random(rng_seed)
    fields = [f for f in ("birth_city", "birth_year", "profession", "employer", "spouse", "award") if f in card]
    return [text.short_bio(card), text.pretraining_bio(card, rng), text.answer(card, rng.choice(fields)),
            text.grounded_document(card, rng.choice(fields)), text.bio_document(card)]


letters = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=1, max_size=6)
syllables = st.lists(st.sampled_from(("ka", "lo", "mir", "dan", "bre", "el", "is", "ves", "tor", "ow")),
                     min_size=1, max_size=4).map("".join)


@FAST
@given(data=st.data())
def test_the_demo_oracle_flags_every_garbled_value_and_no_right_one(data):
    """A tiny model's bio garbles names and values ("Bredan was born", "is a poe", "Tarrowby"): every
    garbled value is flagged, as a conflict (the right text said the card's value there); a right text never is."""
    from hallu_core.demo.oracle import find_mentions, oracle_spans
    from hallu_core.demo.text import wording

    vocab = demo_world().vocab
    person = data.draw(st.sampled_from(demo_world().entities), label="person")
    right = data.draw(st.sampled_from(_right_texts(person.card, data.draw(st.integers(0, 99)))), label="right")
    assert oracle_spans(right, person.card, vocab) == []

    mention = data.draw(st.sampled_from(find_mentions(right, vocab)), label="garbled mention")
    value = right[mention.start:mention.end]
    known = {v.casefold() for values in vocab.values() for v in values} | wording()
    garbled = data.draw(st.one_of(
        st.builds(lambda cut, tail: value[:cut] + tail, st.integers(0, len(value)), letters),  # cut and spliced
        st.integers(1, len(value) - 1).map(lambda cut: value[:cut]),  # cut short ("poe")
        syllables.map(str.capitalize),  # another made-up name ("Bredan")
        st.integers(0, 99999).map(str)), label="garbled")  # a year gone wrong
    assume(garbled.strip() and garbled.casefold() not in known | {value.casefold()}
           and not {w.casefold() for w in garbled.split()} & {w.casefold() for w in person.name.split()})
    text = right[:mention.start] + garbled + right[mention.end:]
    spans = oracle_spans(text, person.card, vocab)
    hit = [s for s in spans if s.start < mention.start + len(garbled) and mention.start < s.end]
    assert hit and all(s.type in ("conflict", "self_contradiction") for s in hit), (text, spans)
