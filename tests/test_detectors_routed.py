"""`default`'s routes: a response rule decided apart from the span source, and the routes file."""
import json
import re

import pytest

from hallu_core.detection.detectors.base import DetectItem, DetectResult
from hallu_core.detection.detectors.routed import PerTaskDefault, load_routes
from hallu_core.store.types import Span


class Fixed:
    """A member that reports the same spans for every item."""

    def __init__(self, spans, score=None):
        self.spans = [Span(*s) for s in spans]
        self.score = score if score is not None else max((s.score for s in self.spans), default=0.0)

    def detect(self, items, progress=None):
        return [DetectResult(list(self.spans), self.score) for _ in items]


def run(routes, members, task="Data2txt", output="x" * 100):
    det = PerTaskDefault(routes={"": ["lexical"], task: routes})
    det.member = lambda name: members[name]
    return det.detect([DetectItem("a", output, task=task)])[0]


def test_score_rule_decides_the_response_while_spans_come_from_the_span_source():
    members = {"record": Fixed([(10, 20, "conflict", 0.9)]), "lexical": Fixed([(50, 60, "baseless", 0.4)])}
    route = {"spans": ["record"], "response": {"rule": "score", "detector": "lexical", "min": 0.5}}
    clean = run(route, members)
    assert clean.spans == [] and clean.response_score == 0.9  # rule says clean: record's span is not shown
    route["response"]["min"] = 0.3
    shown = run(route, members)
    assert [(s.start, s.end) for s in shown.spans] == [(10, 20)]  # flagged: record's span, not lexical's


def test_coverage_rule_drops_spans_covering_too_little_of_the_output():
    members = {"lexical": Fixed([(0, 20, "baseless", 0.6)])}
    assert run({"spans": ["lexical"], "response": {"rule": "coverage", "min": 0.3}}, members).spans == []
    assert len(run({"spans": ["lexical"], "response": {"rule": "coverage", "min": 0.2}}, members).spans) == 1


def test_a_flagged_response_without_spans_shows_the_fallback_or_none_and_keeps_its_score():
    members = {"record": Fixed([], score=0.7), "lexical": Fixed([(5, 9, "baseless", 0.3)])}
    flagged_no_fallback = run({"spans": ["record"], "response": {"rule": "all"}}, members)
    assert flagged_no_fallback.spans == [] and flagged_no_fallback.response_score == 0.7  # never an invented span
    with_fallback = run({"spans": ["record"], "fallback": ["lexical"], "response": {"rule": "all"}}, members)
    assert [(s.start, s.end) for s in with_fallback.spans] == [(5, 9)]
    members["record"] = Fixed([(30, 40, "conflict", 0.8)])
    primary = run({"spans": ["record"], "fallback": ["lexical"], "response": {"rule": "all"}}, members)
    assert [(s.start, s.end) for s in primary.spans] == [(30, 40)]  # the fallback only where the source found nothing


def test_a_routes_score_names_where_the_response_score_comes_from():
    members = {"record": Fixed([(10, 30, "conflict", 0.9)]), "lexical": Fixed([(50, 60, "baseless", 0.4)], score=0.2)}
    assert run({"spans": ["record"]}, members).response_score == 0.9  # by default the strongest member's
    assert run({"spans": ["record"], "score": "lexical"}, members).response_score == 0.2
    covered = run({"spans": ["record"], "score": "coverage"}, members)
    assert covered.response_score == 0.2 and len(covered.spans) == 1  # 20 of 100 characters


class ScoreInText:
    """A member whose response score is the number an output starts with; it records what it was asked."""

    def __init__(self):
        self.seen = []

    def detect(self, items, progress=None):
        self.seen += [it.output for it in items]
        return [DetectResult([Span(0, 4, "baseless", 0.5)], float(it.output.split()[0])) for it in items]


def test_a_score_against_peers_ranks_an_output_by_how_much_more_suspect_it_is_than_its_peers():
    member = ScoreInText()
    det = PerTaskDefault(routes={"": {"spans": ["lexical"], "score": "lexical", "relative_to_peers": True}})
    det.member = lambda name: member
    like_its_peers = DetectItem("a", "0.60 hard passage", task="QA", source="A", samples=["0.60 b", "0.60 c"])
    worse_than_peers = DetectItem("b", "0.40 easy passage", task="QA", source="B", samples=["0.10 y", "0.30 z"])
    alone = DetectItem("c", "0.40 no peers", task="QA", source="C")
    a, b, c = det.detect([like_its_peers, worse_than_peers, alone])
    assert a.response_score == 0.5  # as suspect as its typical peer, though its own score is the higher
    assert b.response_score == 0.6 > a.response_score  # (0.40 - median 0.20 + 1) / 2
    assert c.response_score == 0.7  # nothing to subtract: (0.40 + 1) / 2, on the same scale
    assert [len(r.spans) for r in (a, b, c)] == [1, 1, 1]  # the spans are the span source's, untouched
    assert sorted(member.seen) == sorted(["0.60 hard passage", "0.60 b", "0.60 c", "0.40 easy passage",
                                          "0.10 y", "0.30 z", "0.40 no peers"])  # peers outside the batch too


def test_peers_already_in_the_batch_are_run_once():
    member = ScoreInText()
    det = PerTaskDefault(routes={"": {"spans": ["lexical"], "score": "lexical", "relative_to_peers": True}})
    det.member = lambda name: member
    texts = ["0.90 x", "0.30 y", "0.30 z"]
    items = [DetectItem(str(i), t, task="QA", source="S", samples=[o for o in texts if o != t])
             for i, t in enumerate(texts)]
    assert [r.response_score for r in det.detect(items)] == [0.8, 0.35, 0.35]  # peers' medians 0.30, 0.60, 0.60
    assert sorted(member.seen) == sorted(texts)


def write(tmp_path, payload):
    path = tmp_path / "routes.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def test_routes_file_loads_lists_and_full_routes(tmp_path):
    path = write(tmp_path, {"routes": {"": ["lexical"], "Summary": {"spans": ["lexical"], "response":
                                                                  {"rule": "coverage", "min": 0.5}}}})
    routes = load_routes(path)
    assert routes[""] == {"spans": ["lexical"], "fallback": [], "response": {"rule": "spans"}}
    assert routes["Summary"]["response"] == {"rule": "coverage", "min": 0.5}


@pytest.mark.parametrize("payload, message", [
    ("{not json", "not valid JSON"),
    ({"routes": {"": ["lexical"], "QA": ["gpt"]}}, "unknown default members"),
    ({"routes": {"QA": ["lexical"]}}, '"" route'),
    ({"routes": {"": {"spans": ["lexical"], "response": {"rule": "vibes"}}}}, "response rule"),
    ({"routes": {"": {"spans": ["lexical"], "response": {"rule": "score", "detector": "record", "min": 2}}}}, "min in [0, 1]"),
    ({"routes": {"": {"spans": ["lexical"], "response": {"rule": "score", "min": 0.5}}}}, "takes exactly"),
    ({"routes": {"": {"spans": []}}}, "names no span member"),
    ({"routes": {"": ["lexical"]}, "gates": {"Summary": 0.26}}, "old format"),
    ({"routes": {"": {"spans": ["lexical"], "score": "vibes"}}}, "score must be a member or 'coverage'"),
    ({"routes": {"": {"spans": ["lexical"], "relative_to_peers": "yes"}}}, "relative_to_peers must be true or false"),
])
def test_a_malformed_routes_file_is_refused_with_a_clear_error(tmp_path, payload, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load_routes(write(tmp_path, payload))


def test_shipped_default_flags_each_ragtruth_task_at_an_operating_threshold_from_its_own_map():
    from hallu_core.detection.detectors.registry import get_detector

    routes = load_routes()
    assert "" in routes
    default = get_detector("default")
    cal = default.calibration  # None when the map was fitted on another scorer (then it would not be applied)
    assert cal is not None and cal.meta["fitted_on"].startswith("RAGTruth dev slice, tuning part")
    for task in ("QA", "Summary", "Data2txt"):
        assert 0 < cal.response_threshold(task) < 1 and cal.skill[task]["n"] > 0
    assert cal.response_threshold("bio") == 0.0  # a task without tuning data: every response with a span
