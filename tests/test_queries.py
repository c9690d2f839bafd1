"""queries.py: SQL aggregates, filters, pagination, diffs and rankings against hand-counted cases."""
import pytest

from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Detection, Example, Generation, Label, Run, Span
from hallu_core.views import compare as cmp, generation_list as gl, queries as q


def gen(ex, ck, text, dec="greedy", sample=0):
    return Generation(f"{ex}-{ck}-{dec}-{sample}", ex, ck, text, {"s": dec}, dec, sample)


@pytest.fixture
def tiny(tmp_path):
    """2 examples (known, new) x checkpoints base/step-10 x greedy, + one sample for ex1 at step-10."""
    s = Store(tmp_path / "ws")
    s.add_run(Run("r", "run one", "tiny", created_at=1))
    s.log_metrics("r", 10, {"train_loss": 2.0, "val_loss": 2.5})
    s.add_checkpoint(Checkpoint("c0", "r", 0, "base"))
    s.add_checkpoint(Checkpoint("c1", "r", 10, "step-10"))
    s.add_examples([Example("e1", "d", "Who is Ada?", "Ada was born in Oslo.", "Ada: Oslo", "qa", {"knowledge": "known"}),
                    Example("e2", "d", "Who is Bo?", "Bo was born in Lima.", None, "bio", {"knowledge": "new"})])
    s.add_generations([gen("e1", "c0", "Ada was born in Oslo."), gen("e2", "c0", "Bo was born in Quito."),
                       gen("e1", "c1", "Ada was born in Rome in 1900."), gen("e2", "c1", "Bo was born in Lima."),
                       gen("e1", "c1", "Ada is a cat.", dec="sample")])
    s.add_detections([
        Detection("e1-c0-greedy-0", "lex", "h", [], 0.1),
        Detection("e2-c0-greedy-0", "lex", "h", [Span(15, 20, "conflict", 0.8)], 0.8),
        Detection("e1-c1-greedy-0", "lex", "h", [Span(16, 20, "conflict", 0.9), Span(24, 28, "baseless", 0.6)], 0.9),
        Detection("e2-c1-greedy-0", "lex", "h", [], 0.05),
        Detection("e1-c1-sample-0", "lex", "h", [Span(9, 12, "baseless", 0.7)], 0.7),
        Detection("e1-c1-greedy-0", "conf", "h", [Span(16, 20, "unknown", 0.5)], 0.5),
    ])
    s.add_labels([Label("e1-c1-greedy-0", "oracle", [Span(16, 20, "conflict")]),
                  Label("e2-c1-greedy-0", "oracle", []),
                  Label("e2-c0-greedy-0", "oracle", [Span(15, 20, "conflict")], status="skipped")])
    yield s
    s.close()


def test_overview_counts_and_labeled_share(tiny):
    o = q.overview(tiny)
    assert (o["generations"], o["detections"], o["labels"]) == (5, 6, 3)
    assert o["labeled_generations"] == 2  # the skipped label does not count
    assert o["labeled_share"] == pytest.approx(2 / 5)


def test_distinct_lists(tiny):
    assert q.detectors(tiny) == ["conf", "lex"]
    assert q.annotators(tiny) == ["oracle"]
    assert q.tasks(tiny) == ["bio", "qa"]
    assert q.rate_sources(tiny) == [("detector", "conf"), ("detector", "lex"), ("labels", "oracle")]


def test_rates_per_checkpoint_and_source(tiny):
    rows = {(r["checkpoint"], r["source"]): r for r in q.hallucination_rates(tiny, by_decoding=False)}
    assert (rows["base", "lex"]["n"], rows["base", "lex"]["positive"]) == (2, 1)
    assert (rows["step-10", "lex"]["n"], rows["step-10", "lex"]["positive"]) == (3, 2)
    assert rows["step-10", "conf"]["rate"] == 1.0 and rows["step-10", "conf"]["n"] == 1
    assert (rows["step-10", "labels:oracle"]["n"], rows["step-10", "labels:oracle"]["rate"]) == (2, 0.5)
    assert ("base", "labels:oracle") not in rows  # skipped labels are not judgements
    by_dec = {(r["checkpoint"], r["decoding"], r["source"]): r["rate"] for r in q.hallucination_rates(tiny)}
    assert by_dec["step-10", "greedy", "lex"] == 0.5 and by_dec["step-10", "sample", "lex"] == 1.0


def test_knowledge_values_are_what_the_examples_record(tiny):
    assert q.knowledge_values(tiny) == ["known", "new"]


def test_known_new_split(tiny):
    rows = {(r["checkpoint"], r["knowledge"]): r["rate"]
            for r in q.hallucination_rates(tiny, sources=[("detector", "lex")], by_decoding=False, by_knowledge=True)}
    assert rows == {("base", "known"): 0.0, ("base", "new"): 1.0, ("step-10", "known"): 1.0, ("step-10", "new"): 0.0}


def test_run_rates_feed_the_curves_beside_the_losses(tiny):
    from hallu_core.views.rates import run_rates

    pts = q.metric_points(tiny, "r") + q.rate_points(run_rates(tiny, "r", by_decoding=False))
    assert {"step": 10, "series": "val_loss", "value": 2.5, "panel": "loss"} in pts
    # no labels on step 0: the detector's own estimate, its mean score, without an interval
    assert {"step": 0, "series": "lex", "value": pytest.approx(0.45), "panel": "hallucination rate",
            "ci_low": None, "ci_high": None} in pts
    greedy = q.rate_points(run_rates(tiny, "r"), "greedy")
    assert {"step": 10, "series": "lex", "value": pytest.approx(0.475), "panel": "hallucination rate",
            "ci_low": None, "ci_high": None} in greedy


@pytest.mark.parametrize("flt, expected", [
    (gl.GenerationFilter(), 5),
    (gl.GenerationFilter(checkpoint_ids=("c1",)), 3),
    (gl.GenerationFilter(decodings=("sample",)), 1),
    (gl.GenerationFilter(tasks=("bio",)), 2),
    (gl.GenerationFilter(knowledge=("known",)), 3),
    (gl.GenerationFilter(knowledge=("new",), checkpoint_ids=("c1",)), 1),
    (gl.GenerationFilter(knowledge=("new",), flagged=True), 1),
    (gl.GenerationFilter(knowledge=("unseen",)), 0),
    (gl.GenerationFilter(detector="conf"), 1),
    (gl.GenerationFilter(span_types=("baseless",)), 2),
    (gl.GenerationFilter(span_types=("baseless",), detector="conf"), 0),
    (gl.GenerationFilter(min_score=0.75), 2),
    (gl.GenerationFilter(detector="lex", max_score=0.2), 2),
    (gl.GenerationFilter(flagged=True), 3),
    (gl.GenerationFilter(flagged=False), 2),
    (gl.GenerationFilter(labeled=True), 2),
    (gl.GenerationFilter(labeled=False), 3),
    (gl.GenerationFilter(search="rome"), 1),
    (gl.GenerationFilter(search="Who is Bo"), 2),
    (gl.GenerationFilter(search="100%_"), 0),
])
def test_filters_count(tiny, flt, expected):
    assert gl.count_generations(tiny, flt) == expected
    assert len(gl.list_generations(tiny, flt, page_size=100)) == expected


def test_sorting_pagination_and_positions(tiny):
    by_score = [r["id"] for r in gl.list_generations(tiny, sort="score (high first)", page_size=10)]
    assert by_score[:2] == ["e1-c1-greedy-0", "e2-c0-greedy-0"]
    pages = [r["id"] for p in range(3) for r in gl.list_generations(tiny, sort="score (high first)", page=p, page_size=2)]
    assert pages == by_score
    assert gl.generation_id_at(tiny, gl.GenerationFilter(), "score (high first)", 1) == by_score[1]
    assert gl.generation_id_at(tiny, gl.GenerationFilter(), "score (high first)", 5) is None
    assert gl.list_generations(tiny, sort="most spans", page_size=1)[0]["n_spans"] == 3
    with pytest.raises(ValueError):
        gl.list_generations(tiny, sort="nonsense")


def test_rows_show_types_labels_and_detector_scores(tiny):
    row = gl.list_generations(tiny, gl.GenerationFilter(search="Rome", detector="conf"))[0]
    assert (row["score"], row["n_spans"], row["span_types"], row["labeled_by"]) == (0.5, 1, "unknown", "oracle")
    row = gl.list_generations(tiny, gl.GenerationFilter(search="Rome"))[0]
    assert (row["score"], row["n_spans"], row["span_types"]) == (0.9, 3, "baseless, conflict, unknown")


def test_detail_and_its_spans(tiny):
    d = gl.generation_detail(tiny, "e1-c1-greedy-0")
    assert d["example"].prompt == "Who is Ada?" and d["run"].name == "run one"
    assert len(gl.detail_spans(d)) == 3
    assert [s["detector"] for s in gl.detail_spans(d, ["conf"])] == ["conf"]
    assert [s["annotator"] for s in gl.detail_spans(d, [], ["oracle"])] == ["labels:oracle"]
    assert gl.generation_detail(tiny, "missing") is None


def test_compare_deltas_and_rankings(tiny):
    a, b = ("c0", "greedy"), ("c1", "greedy")
    agg = cmp.aggregate_deltas(tiny, a, b, ("detector", "lex"))
    assert (agg["n"], agg["a_rate"], agg["b_rate"], agg["regressions"], agg["fixes"]) == (2, 0.5, 0.5, 1, 1)
    reg = cmp.ranked_changes(tiny, a, b, ("detector", "lex"), "regressions")
    assert [(r["example_id"], r["a_spans"], r["b_spans"], r["delta"]) for r in reg] == [("e1", 0, 2, 2)]
    fixes = cmp.ranked_changes(tiny, a, b, ("detector", "lex"), "fixes")
    assert [(r["example_id"], r["delta"]) for r in fixes] == [("e2", -1)]
    # labels: only examples both sides labeled count (none at base here: its label was skipped)
    assert cmp.aggregate_deltas(tiny, a, b, ("labels", "oracle"))["n"] == 0
    assert [r["example_id"] for r in cmp.shared_examples(tiny, [a, b])] == ["e1", "e2"]
    assert [r["example_id"] for r in cmp.shared_examples(tiny, [a, ("c1", "sample")])] == ["e1"]
    assert cmp.side_generation(tiny, "e1", ("c1", "sample")) == "e1-c1-sample-0"


def test_span_diff_matches_by_text():
    diff = cmp.span_diff("born in Oslo in 1900", [{"start": 8, "end": 12, "type": "conflict"}],
                       "born in Rome in 1900.", [{"start": 8, "end": 12, "type": "conflict"},
                                                 {"start": 16, "end": 20, "type": "conflict"}])
    assert [x["text"] for x in diff["introduced"]] == ["Rome", "1900"]
    assert [x["text"] for x in diff["fixed"]] == ["Oslo"]
    same = cmp.span_diff("a Oslo", [{"start": 2, "end": 6}], "the oslo.", [{"start": 4, "end": 9}])
    assert same["kept"] and not same["introduced"] and not same["fixed"]


def test_compare_matches_a_recount_in_python(tmp_path):
    """Deltas and ranked pages over a synthetic eval set equal the same figures computed from the rows."""
    from hallu_core.data import synthetic

    store = synthetic.build(tmp_path / "syn", n_examples=30, steps=(0, 100, 400), decodings=("greedy",), tokens=False)
    a, b, source = ("ckpt-0", "greedy"), ("ckpt-400", "greedy"), ("detector", "lexical")
    verdict = {}
    for side in (a, b):
        for g in store.generations(checkpoint_id=side[0]):
            dets = [d for d in store.detections(g.id) if d.detector == "lexical"]
            verdict[side, g.example_id] = (sum(len(d.spans) for d in dets), max(d.response_score for d in dets))
    pairs = [(ex, verdict[a, ex], verdict[b, ex]) for (side, ex) in verdict if side == a]
    agg = cmp.aggregate_deltas(store, a, b, source)
    assert agg["n"] == 30
    assert agg["b_rate"] == pytest.approx(sum(vb[0] > 0 for _, _, vb in pairs) / 30)
    assert agg["regressions"] == sum(vb[0] > va[0] for _, va, vb in pairs)
    assert agg["fixes"] == sum(vb[0] < va[0] for _, va, vb in pairs)
    want = sorted(((ex, vb[0] - va[0]) for ex, va, vb in pairs if vb[0] > va[0]),
                  key=lambda p: (-p[1], -(verdict[b, p[0]][1] - verdict[a, p[0]][1]), p[0]))
    got = cmp.ranked_changes(store, a, b, source, "regressions", limit=4) + \
        cmp.ranked_changes(store, a, b, source, "regressions", limit=100, offset=4)
    assert [(r["example_id"], r["delta"]) for r in got] == want
    assert all(r["prompt"].startswith("Write a short bio") for r in got)
    both = cmp.changes(store, a, b, source, limit=5)  # the page's one-pass form
    assert (both["aggregate"], both["regressions"]) == (agg, got[:5])
    # a side missing an example leaves it out of the pairs
    with store.transaction() as conn:
        conn.execute("DELETE FROM detections WHERE generation_id = ?", (cmp.side_generation(store, "ex-3", b),))
    assert cmp.aggregate_deltas(store, a, b, source)["n"] == 29
    store.close()


def test_counts_per_checkpoint_and_decoding(tiny):
    assert gl.count_generations(tiny) == 5
    assert gl.count_generations(tiny, gl.GenerationFilter(checkpoint_ids=("c1",))) == 3
    assert gl.count_generations(tiny, gl.GenerationFilter(checkpoint_ids=("c1",), decodings=("sample",))) == 1
    assert gl.count_generations(tiny, gl.GenerationFilter(checkpoint_ids=("c1",), tasks=("qa",))) == 2
    assert {c["checkpoint_id"]: (c["decodings"], c["generations"]) for c in q.checkpoints(tiny)} == {
        "c0": (["greedy"], 2), "c1": (["greedy", "sample"], 3)}


def test_changes_in_one_pass_equal_the_separate_queries(tiny):
    a, b, source = ("c0", "greedy"), ("c1", "greedy"), ("detector", "lex")
    both = cmp.changes(tiny, a, b, source, limit=10)
    assert both["aggregate"] == cmp.aggregate_deltas(tiny, a, b, source)
    assert both["regressions"] == cmp.ranked_changes(tiny, a, b, source, "regressions", limit=10)
    assert both["fixes"] == cmp.ranked_changes(tiny, a, b, source, "fixes", limit=10)
    assert [r["example_id"] for r in both["regressions"] + both["fixes"]] == ["e1", "e2"]
    empty = cmp.changes(tiny, a, b, ("labels", "oracle"))
    assert (empty["aggregate"]["n"], empty["regressions"], empty["fixes"]) == (0, [], [])


def test_detector_filters_and_score_sorts_match_a_recount_of_the_newest_detections(tmp_path):
    """Inspect's detector filters walk detection_latest by score: same rows, order and count as a recount."""
    from hallu_core.data import synthetic

    store = synthetic.build(tmp_path / "ws", n_examples=30, steps=(0, 100), decodings=("greedy", "sample-t0.8"))
    gens = store.generations()
    rerun = [Detection(g.id, "lexical", "h2", [Span(0, 3, "baseless", 0.95)] if i % 2 else [], 0.95 if i % 2 else 0.0,
                       created_at=10.0) for i, g in enumerate(gens) if i % 3 == 0]  # a newer config on a third
    store.add_detections(rerun)
    newest = {}
    for g in gens:
        dets = [d for d in store.detections(g.id) if d.detector == "lexical"]
        newest[g.id] = max(dets, key=lambda d: d.created_at)
    rowid = {r[0]: r[1] for r in store.query("SELECT id, rowid FROM generations")}

    def recount(ids, min_score=None, span_type=None, flagged=None):
        keep = [i for i in ids if (min_score is None or newest[i].response_score >= min_score)
                and (span_type is None or any(s.type == span_type for s in newest[i].spans))
                and (flagged is None or bool(newest[i].spans) == flagged)]
        return sorted(keep, key=lambda i: (-newest[i].response_score, rowid[i]))

    all_ids = [g.id for g in gens]
    c100 = [g.id for g in gens if g.checkpoint_id == "ckpt-100"]
    cases = [(gl.GenerationFilter(detector="lexical", min_score=0.7), recount(all_ids, 0.7)),
             (gl.GenerationFilter(detector="lexical", span_types=("conflict",), min_score=0.6),
              recount(all_ids, 0.6, "conflict")),
             (gl.GenerationFilter(detector="lexical", flagged=True, checkpoint_ids=("ckpt-100",)),
              recount(c100, flagged=True)),
             (gl.GenerationFilter(detector="lexical", span_types=("baseless",)), recount(all_ids, span_type="baseless"))]
    for flt, want in cases:
        assert want, flt  # every case has rows, so the comparison means something
        assert gl.count_generations(store, flt) == len(want)
        got = [r["id"] for page in range(4) for r in gl.list_generations(store, flt, "score (high first)", page, 10)]
        assert got == want[:40]
        assert gl.generation_id_at(store, flt, "score (high first)", 3) == want[3]
        low = [r["id"] for r in gl.list_generations(store, flt, "score (low first)", 0, 500)]
        assert sorted(low) == sorted(want) and [newest[i].response_score for i in low] == sorted(
            newest[i].response_score for i in want)
    store.close()
