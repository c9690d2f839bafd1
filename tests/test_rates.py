"""Hallucination rates as estimates: the estimator's coverage, width, selection correction, and its
agreement with the reference PPI implementation (ppi-python)."""
from __future__ import annotations

import numpy as np
import pytest

from hallu_core.rates.estimator import (CENSUS, DETECTOR_ONLY, LABELS_AND_DETECTOR, LABELS_ONLY, NONE,
                                        estimate_rate, paired_difference)


def population(rng, size: int, rate: float, skill: float):
    """Outcomes and detector scores: a score is the truth blurred by noise (skill 0: pure noise)."""
    y = rng.random(size) < rate
    f = np.clip(skill * y + (1 - skill) * rng.random(size) + rng.normal(0, 0.1, size), 0, 1)
    return y, f


def estimate_random(y, f, n: int, rng, **kwargs):
    idx = rng.choice(len(y), n, replace=False)
    return estimate_rate(len(y), list(y[idx]), [], list(f[idx]), float(f.mean()), **kwargs)


def test_interval_covers_the_true_rate_and_a_skilled_detector_narrows_it():
    rng = np.random.default_rng(0)
    covered, widths, labels_only = 0, [], []
    trials = 300
    for _ in range(trials):
        y, f = population(rng, 420, rng.uniform(0.15, 0.65), skill=0.6)
        e = estimate_random(y, f, 60, rng)
        assert e.method == LABELS_AND_DETECTOR
        covered += e.ci_low <= y.mean() <= e.ci_high
        widths.append(e.ci_high - e.ci_low)
        idx = rng.choice(len(y), 60, replace=False)
        plain = estimate_rate(len(y), list(y[idx]), [])
        labels_only.append(plain.ci_high - plain.ci_low)
    assert covered / trials >= 0.92  # nominal 0.95
    assert np.mean(widths) < 0.8 * np.mean(labels_only)


def test_a_detector_without_skill_costs_little_and_stays_honest():
    rng = np.random.default_rng(1)
    covered, trials = 0, 300
    for _ in range(trials):
        y, f = population(rng, 400, 0.25, skill=0.0)
        e = estimate_random(y, f, 60, rng)
        covered += e.ci_low <= y.mean() <= e.ci_high
    assert covered / trials >= 0.91


def test_labels_chosen_by_score_form_a_census_and_do_not_bias_the_rest():
    rng = np.random.default_rng(2)
    errors, naive_errors = [], []
    for _ in range(200):
        y, f = population(rng, 500, 0.2, skill=0.5)
        top = np.argsort(-f)[:40]  # the score-ordered queue's first 40 items
        others = np.setdiff1d(np.arange(500), top)
        drawn = rng.choice(others, 40, replace=False)
        e = estimate_rate(500, list(y[drawn]), list(y[top]), list(f[drawn]), float(f[others].mean()))
        errors.append(e.estimate - y.mean())
        naive_errors.append(np.mean(np.r_[y[top], y[drawn]]) - y.mean())
    assert abs(np.mean(errors)) < 0.01
    assert np.mean(naive_errors) > 0.15  # pooling every label as if random: badly biased


def ppi_mean_ci(y, f, f_unlabeled, lam, z=1.959963984540054):
    """PPI++'s interval for a mean with a fixed lambda (Angelopoulos et al. 2023, eq. 2 and its CLT), as
    ppi-python's `ppi_mean_ci(Y, Yhat, Yhat_unlabeled, lam=...)` computes it."""
    estimate = lam * f_unlabeled.mean() + (y - lam * f).mean()
    se = np.sqrt((lam * f_unlabeled).var() / len(f_unlabeled) + (y - lam * f).var() / len(y))
    return estimate, estimate - z * se, estimate + z * se


def check_against_ppi(estimate_ppi):
    rng = np.random.default_rng(3)
    y_all, f_all = population(rng, 1_000_000, 0.3, skill=0.5)
    y, f = y_all[:200].astype(float), f_all[:200]
    e = estimate_rate(len(y_all), list(y), [], list(f), float(f_all.mean()))
    slope = np.cov(f, y, bias=True)[0, 1] / np.var(f)  # the regression estimator's lambda
    point, low, high = estimate_ppi(y, f, f_all[200:], slope)
    assert e.estimate == pytest.approx(point, abs=1e-3)
    assert e.ci_low == pytest.approx(low, abs=2e-3)
    assert e.ci_high == pytest.approx(high, abs=2e-3)


def test_matches_prediction_powered_inference_when_the_population_is_large():
    # a million outputs: the finite-population correction vanishes and the estimator is PPI++'s
    check_against_ppi(ppi_mean_ci)


def test_matches_ppi_python_where_it_is_installed():
    """ppi-python is not a dependency (docs/dashboard.md says why); where it is installed, agree with it."""
    ppi_py = pytest.importorskip("ppi_py")

    def reference(y, f, f_unlabeled, lam):
        low, high = ppi_py.ppi_mean_ci(y, f, f_unlabeled, alpha=0.05, lam=lam)
        return ppi_py.ppi_mean_pointestimate(y, f, f_unlabeled, lam=lam), float(low[0]), float(high[0])
    check_against_ppi(reference)


def test_methods_as_information_runs_out():
    assert estimate_rate(100, [], [], None, None).method == NONE
    detector_only = estimate_rate(100, [], [], None, 0.3)
    assert (detector_only.method, detector_only.estimate, detector_only.ci_low) == (DETECTOR_ONLY, 0.3, None)
    few = estimate_rate(100, [True, False, False], [], [0.9, 0.1, 0.2], 0.3)
    assert few.method == LABELS_ONLY and few.ci_low < 1 / 3 < few.ci_high
    same = estimate_rate(100, [False] * 30, [], [0.5] * 30, 0.3)  # no variance to regress on
    assert same.method == LABELS_ONLY and same.ci_low == 0.0 and 0 < same.ci_high < 0.1
    everything = estimate_rate(4, [True, False], [True, True])
    assert (everything.method, everything.estimate, everything.ci_low, everything.ci_high) == (CENSUS, 0.75, 0.75, 0.75)
    with pytest.raises(ValueError, match="5 labels for 4 outputs"):
        estimate_rate(4, [True] * 3, [False] * 2)


def test_wilson_uses_the_finite_population():
    # 30 of 40 outputs labeled: the 10 unknown ones bound the rate far tighter than 30 draws from infinity
    e = estimate_rate(40, [True] * 6 + [False] * 24, [])
    assert e.ci_high - e.ci_low < 0.15
    assert e.ci_low <= 6 / 30 <= e.ci_high


def test_paired_difference_covers_the_true_change():
    rng = np.random.default_rng(4)
    covered, widths, trials = {False: 0, True: 0}, {False: [], True: []}, 200
    for _ in range(trials):
        size = 300
        y_a, f_a = population(rng, size, 0.2, skill=0.6)
        worse = rng.random(size) < 0.1  # B hallucinates where A did, and on 10% more prompts
        y_b = y_a | worse
        f_b = np.clip(0.6 * y_b + 0.4 * rng.random(size), 0, 1)
        la = rng.choice(size, 60, replace=False)
        for same_prompts, lb in ((False, rng.choice(size, 60, replace=False)), (True, la)):
            d, _, _ = paired_difference(f_a, f_b, {int(i): bool(y_a[i]) for i in la},
                                        {int(i): bool(y_b[i]) for i in lb}, {}, {})
            covered[same_prompts] += d.ci_low <= y_b.mean() - y_a.mean() <= d.ci_high
            widths[same_prompts].append(d.ci_high - d.ci_low)
    assert min(covered.values()) / trials >= 0.92
    # labeling both answers of the same prompts cancels what they share: narrower than independent draws
    assert np.mean(widths[True]) < np.mean(widths[False])


# -- from the store ------------------------------------------------------------------------------
from click.testing import CliRunner  # noqa: E402

from hallu_core.cli.main import main  # noqa: E402
from hallu_core.rates import rate_table  # noqa: E402
from hallu_core.views.rates import judge_rates  # noqa: E402
from hallu_core.data.workspace import open_workspace  # noqa: E402
from hallu_core.store.types import Checkpoint, Detection, Example, Generation, Label, Run, Span  # noqa: E402


def workspace(tmp_path, labels: dict[str, str], truth_rate=(0.2, 0.6), size=300, seed=0):
    """`size` outputs per task (QA, Summary) with `default` scores; labels {annotator: selection} on
    random outputs (`score`: the highest-scored ones). Returns the store and the true rate per task."""
    rng = np.random.default_rng(seed)
    store = open_workspace(tmp_path)
    store.add_run(Run("r1", "run", "tiny"))
    store.add_checkpoint(Checkpoint("c1", "r1", 10, "step-10"))
    truth, gens, dets = {}, [], []
    for task, rate in zip(("QA", "Summary"), truth_rate):
        y, f = population(rng, size, rate, skill=0.6)
        truth[task] = float(y.mean())
        store.add_examples([Example(f"{task}-{i}", "d", f"p{i}", task=task) for i in range(size)])
        for i in range(size):
            gid = f"{task}-g{i}"
            gens.append(Generation(gid, f"{task}-{i}", "c1", "some text", decoding_name="greedy"))
            dets.append((gid, float(f[i]), bool(y[i])))
    store.add_generations(gens)
    store.add_detections(Detection(gid, "default", "h", [Span(0, 4, "baseless", s)] if s > 0.5 else [], s)
                         for gid, s, _ in dets)
    for annotator, selection in labels.items():
        for task in ("QA", "Summary"):
            rows = [d for d in dets if d[0].startswith(task + "-")]
            chosen = (sorted(rows, key=lambda d: -d[1])[:40] if selection == "score"
                      else [rows[i] for i in rng.choice(len(rows), 60, replace=False)])
            store.add_labels(Label(gid, annotator, [Span(0, 4, "conflict")] if hallucinated else [],
                                   selection=selection) for gid, _, hallucinated in chosen)
    return store, truth


def test_rate_table_by_task_combines_imported_gold_with_the_detector(tmp_path):
    store, truth = workspace(tmp_path, {"gold": "import"})
    rows = {r["group"]["task"]: r for r in rate_table(store, "default", "gold", by=["task"])}
    for task, r in rows.items():
        assert (r["n"], r["labeled"], r["random_labeled"], r["method"]) == (300, 60, 60, LABELS_AND_DETECTOR)
        assert r["ci_low"] <= truth[task] <= r["ci_high"]
        assert r["ci_high"] - r["ci_low"] < 0.2
    alone = {r["group"]["task"]: r for r in rate_table(store, None, "gold", by=["task"])}
    assert all(alone[t]["method"] == LABELS_ONLY for t in alone)
    assert all(alone[t]["ci_high"] - alone[t]["ci_low"] > rows[t]["ci_high"] - rows[t]["ci_low"] for t in alone)


def test_score_ordered_labels_only_count_for_their_own_outputs(tmp_path):
    store, truth = workspace(tmp_path, {"alice": "score"})
    rows = {r["group"]["task"]: r for r in rate_table(store, "default", "alice", by=["task"])}
    for task, r in rows.items():
        assert r["method"] == DETECTOR_ONLY and r["ci_low"] is None and r["labeled"] == 40
    # the detector part is the mean score of the 260 unlabeled outputs, the 40 labels exact
    det = dict(store.query("SELECT generation_id, response_score FROM detections"))
    lab = {g: n > 0 for g, n in store.query("SELECT generation_id, n_spans FROM labels")}
    qa = [g for g in det if g.startswith("QA-")]
    expected = (sum(lab[g] for g in qa if g in lab) + sum(det[g] for g in qa if g not in lab)) / 300
    assert rows["QA"]["estimate"] == pytest.approx(expected)


def test_synthetic_labels_are_no_person_and_a_judge_picks_its_inputs(tmp_path):
    store, _ = workspace(tmp_path, {"oracle": "random"})
    people = rate_table(store, "default", None, by=["task"])
    assert all(r["labeled"] == 0 and r["method"] == DETECTOR_ONLY for r in people)
    oracle = judge_rates(store, ("labels", "oracle"))
    assert [r["method"] for r in oracle] == [LABELS_AND_DETECTOR]
    assert (oracle[0]["n"], oracle[0]["labeled"], oracle[0]["run"], oracle[0]["step"]) == (600, 120, "run", 10)
    assert oracle[0]["rate"] == oracle[0]["estimate"]


def test_hallu_rates_json_prints_one_object_a_group(tmp_path):
    store, truth = workspace(tmp_path, {"gold": "import"})
    result = CliRunner().invoke(main, ["rates", "-w", str(tmp_path), "--annotator", "gold", "--by", "task", "--json"])
    assert result.exit_code == 0, result.output
    import json
    rows = [json.loads(line) for line in result.output.splitlines()]
    rows_by_task = {r["group"]: r for r in rows}
    assert set(rows_by_task) == {"QA", "Summary"}
    for r in rows:
        assert {"group", "n", "labeled", "estimate", "ci_low", "ci_high", "method"} <= set(r)
        assert r["ci_low"] <= truth[r["group"]] <= r["ci_high"]
    table = CliRunner().invoke(main, ["rates", "-w", str(tmp_path), "--annotator", "gold"])
    assert "run / step-10" in table.output and "labels + detector" in table.output
    with store.transaction() as conn:  # the QA prompts' facts were new to the model, the summaries' known
        conn.execute("UPDATE examples SET meta = json_set(meta, '$.knowledge', "
                     "CASE WHEN task = 'QA' THEN 'new' ELSE 'known' END) WHERE task != 'Summary' OR id != 'Summary-0'")
    by_knowledge = CliRunner().invoke(main, ["rates", "-w", str(tmp_path), "--annotator", "gold", "--by", "knowledge",
                                             "--json"])
    groups = {r["group"]: r for r in map(json.loads, by_knowledge.output.splitlines())}
    assert set(groups) == {"new", "known", None} and (groups["new"]["n"], groups["known"]["n"]) == (300, 299)
    assert groups["new"]["estimate"] == pytest.approx(rows_by_task["QA"]["estimate"])
    assert "(not tagged)" in CliRunner().invoke(main, ["rates", "-w", str(tmp_path), "--by", "knowledge"]).output
    bad = CliRunner().invoke(main, ["rates", "-w", str(tmp_path), "--by", "colour"])
    assert bad.exit_code == 2 and "colour" in bad.output


def test_compare_pairs_the_two_sides_on_their_prompts(tmp_path):
    from hallu_core.views.rates import paired_rates

    rng = np.random.default_rng(5)
    store = open_workspace(tmp_path)
    store.add_run(Run("r1", "run", "tiny"))
    store.add_examples([Example(f"e{i}", "d", f"p{i}", task="QA") for i in range(400)])
    y_a, f_a = population(rng, 400, 0.2, skill=0.6)
    y_b = y_a | (rng.random(400) < 0.15)
    f_b = np.clip(0.6 * y_b + 0.4 * rng.random(400), 0, 1)
    for ck, y, f in (("A", y_a, f_a), ("B", y_b, f_b)):
        store.add_checkpoint(Checkpoint(ck, "r1", 1 if ck == "A" else 2, ck))
        store.add_generations(Generation(f"{ck}{i}", f"e{i}", ck, "text", decoding_name="greedy") for i in range(400))
        store.add_detections(Detection(f"{ck}{i}", "default", "h", [], float(f[i])) for i in range(400))
        store.add_labels(Label(f"{ck}{i}", "gold", [Span(0, 2, "conflict")] if y[i] else [], selection="random")
                         for i in rng.choice(400, 80, replace=False))
    d = paired_rates(store, ("detector", "default"), ("A", "greedy"), ("B", "greedy"))
    assert (d["n"], d["labeled_a"], d["labeled_b"], d["method"]) == (400, 80, 80, LABELS_AND_DETECTOR)
    assert d["ci_low"] <= y_b.mean() - y_a.mean() <= d["ci_high"]
    assert d["ci_low"] > 0  # B is clearly worse


def score_recount(store) -> dict:
    rows = store.query("SELECT d.detector, g.checkpoint_id, g.decoding_name, COALESCE(k.knowledge, ''), d.response_score "
                       "FROM detection_latest d JOIN generations g ON g.id = d.generation_id "
                       "LEFT JOIN example_knowledge k ON k.example_id = g.example_id")
    out: dict = {}
    for *key, score in rows:
        n, total = out.get(tuple(key), (0, 0.0))
        out[tuple(key)] = (n + 1, total + score)
    return out


def test_the_score_summary_follows_every_write(tmp_path):
    from hallu_core.data import synthetic

    store = synthetic.build(tmp_path / "ws", n_examples=12, steps=(0, 100), tokens=False)

    def in_sync():
        stored = {tuple(r[:4]): (r[4], r[5]) for r in store.query("SELECT * FROM score_summary")}
        expected = score_recount(store)
        assert stored.keys() == expected.keys()
        for key, (n, total) in expected.items():
            assert stored[key][0] == n and stored[key][1] == pytest.approx(total)
    in_sync()
    gid = store.generations(checkpoint_id="ckpt-100")[0].id
    store.add_detections([Detection(gid, "lexical", "rerun", [], 0.123, created_at=2e10)])  # the newest moves
    in_sync()
    example = store.query("SELECT example_id FROM generations WHERE id = ?", [gid])[0][0]
    with store.transaction() as conn:  # an example re-imported as new knowledge moves its outputs' scores
        conn.execute("UPDATE examples SET meta = json_set(meta, '$.knowledge', 'unseen') WHERE id = ?", [example])
    in_sync()
    with store.transaction() as conn:
        conn.execute("DELETE FROM detections WHERE generation_id = ?", [gid])
        conn.execute("DELETE FROM labels WHERE generation_id = ?", [gid])
        conn.execute("DELETE FROM generations WHERE id = ?", [gid])
    in_sync()


def test_a_detector_without_measured_skill_is_named_with_the_labels_it_would_take(tmp_path):
    from hallu_core.views.rates import LABELS_FOR_TEN_POINTS, unskilled

    store, _ = workspace(tmp_path, {"gold": "import"})  # tasks QA and Summary; 60 random labels each
    store.add_examples([Example("mine-1", "d", "p", task="my-own-task")])
    rows = {r["task"]: r for r in unskilled(store, "lexical")}
    # lexical's shipped map was measured on RAGTruth's tasks, never on a user's own task
    assert rows["my-own-task"]["labels_needed"] == LABELS_FOR_TEN_POINTS
    assert "never measured on task 'my-own-task'" in rows["my-own-task"]["reason"]
    # no skill on summaries (its map says so): 60 random labels already count toward the interval
    assert rows["Summary"]["labels_needed"] == LABELS_FOR_TEN_POINTS - 60


def test_the_summary_shortcut_gives_the_same_rates(tmp_path, monkeypatch):
    """Labels alone, one way of choosing: counted by the summary table, not read; the same figures."""
    from hallu_core.rates import table

    store, _ = workspace(tmp_path, {"gold": "import"})
    fast = rate_table(store, None, "gold", by=["checkpoint", "decoding_name"])
    assert table._labeled_from_summary(store, "gold", ["checkpoint", "decoding_name"], None, None, None)
    monkeypatch.setattr(table, "_labeled_from_summary", lambda *a: None)
    assert rate_table(store, None, "gold", by=["checkpoint", "decoding_name"]) == fast
    assert fast[0]["labeled"] == 120 and fast[0]["method"] == LABELS_ONLY


def test_a_group_labeled_in_full_is_exact_whatever_the_detector():
    e = estimate_rate(40, [True] * 10 + [False] * 30, [], [0.9] * 10 + [0.1] * 30, 0.3)
    assert (e.method, e.estimate, e.ci_low, e.ci_high) == (CENSUS, 0.25, 0.25, 0.25)


def test_a_sides_labels_read_from_the_packed_vector_equal_the_row_by_row_read(tmp_path):
    """Compare's paired rate reads one annotator's labels from the side's packed vector where every label
    was chosen the same way; mixed selections (or people's newest) take the row-by-row read."""
    from hallu_core.rates.table import one_way_drawn
    from hallu_core.views.rates import _side_labels

    store = open_workspace(tmp_path)
    store.add_run(Run("r1", "run", "tiny"))
    store.add_checkpoint(Checkpoint("A", "r1", 1, "A"))
    store.add_examples([Example(f"e{i}", "d", f"p{i}", task="QA") for i in range(90)])
    store.add_generations(Generation(f"A{i}", f"e{i}", "A", "text", decoding_name="greedy") for i in range(90))
    store.add_generations([Generation("A5-s1", "e5", "A", "text", decoding_name="greedy", sample_index=1)])
    store.add_labels(Label(f"A{i}", "gold", [Span(0, 2, "conflict")] if i % 3 else [], selection="random",
                           status="draft" if i == 8 else "done") for i in range(0, 60, 2))
    store.add_labels([Label("A5-s1", "gold", [], selection="random")])  # sample 1: not Compare's
    side = ("A", "greedy")
    packed = _side_labels(store, "gold", side, one_way_drawn(store, "gold"))
    assert packed == _side_labels(store, "gold", side, None)  # chosen several ways: row by row
    assert len(packed) == 29 and {drawn for _, drawn in packed.values()} == {True}
    store.save_label(Label("A1", "gold", [], selection="score"))  # now two ways: row by row
    by_row = _side_labels(store, "gold", side, one_way_drawn(store, "gold"))
    no = store.query("SELECT no FROM example_numbers WHERE example_id = 'e1'")[0][0]
    assert by_row == {**packed, no: (False, False)}


def test_a_sides_population_is_every_prompt_it_answered_whichever_detector_judged_them(tmp_path):
    from hallu_core.views.compare import read_side
    from hallu_core.views.rates import _answered

    store = open_workspace(tmp_path)
    store.add_run(Run("r1", "run", "tiny"))
    store.add_checkpoint(Checkpoint("A", "r1", 1, "A"))
    store.add_examples([Example(f"e{i}", "d", f"p{i}", task="QA") for i in range(50)])
    store.add_generations(Generation(f"A{i}", f"e{i}", "A", "text", decoding_name="greedy") for i in range(40))
    side = ("A", "greedy")

    def joined() -> set[int]:  # the row-by-row read (a prompt gets its number when first judged)
        return {no for (no,) in store.query("SELECT n.no FROM generations g JOIN example_numbers n "
                                            "ON n.example_id = g.example_id WHERE g.checkpoint_id = 'A'")}

    store.add_detections(Detection(f"A{i}", "part", "h", [], 0.5) for i in range(10))
    part = read_side(store, ("detector", "part"), side)
    assert len(part.numbers) == 10 and _answered(store, side, part) == joined()  # nobody judged all: the join
    store.add_detections(Detection(f"A{i}", "all", "h", [], 0.5) for i in range(40))
    assert _answered(store, side, part) == joined() and len(joined()) == 40  # another detector's vector


def test_labels_a_program_wrote_do_not_count_toward_the_labels_a_task_needs(tmp_path):
    """The demo's oracle labels at random too, but the rate beside the note counts only people's labels."""
    from hallu_core.views.rates import LABELS_FOR_TEN_POINTS, unskilled

    store, _ = workspace(tmp_path, {"gold": "import"})
    store.add_examples([Example("mine-1", "d", "p", task="my-own-task")])
    store.add_run(Run("r-own", "own", "tiny"))
    store.add_checkpoint(Checkpoint("c-own", "r-own", 0, "base"))
    store.add_generations(Generation(f"own{i}", "mine-1", "c-own", "text", sample_index=i) for i in range(30))
    store.add_labels(Label(f"own{i}", "oracle", [], selection="random") for i in range(30))
    store.add_labels(Label(f"own{i}", "pat", [], selection="random") for i in range(5))
    rows = {r["task"]: r for r in unskilled(store, "lexical")}
    assert rows["my-own-task"]["labels_needed"] == LABELS_FOR_TEN_POINTS - 5


def test_pooled_people_an_output_anyone_chose_on_purpose_is_no_random_draw(tmp_path):
    """bob labels the 40 highest-scored outputs of each task first, amy 60 random ones after him: the
    outputs both labeled have amy's newer label, but bob's choice put them in the census stratum; the
    random draws left are a random sample of the outputs nobody chose (the estimator's premise)."""
    from hallu_core.views.rates import _side_labels

    store, truth = workspace(tmp_path, {"bob": "score", "amy": "random"})
    labels = {(lab.generation_id, lab.annotator): lab for lab in store.labels()}
    chosen = {g for g, who in labels if who == "bob"}
    drawn = {g for g, who in labels if who == "amy"}
    assert chosen & drawn  # the case: some of amy's random draws bob had already chosen by score
    rows = {r["group"]["task"]: r for r in rate_table(store, "default", None, by=["task"])}
    for task, r in rows.items():
        mine = {g for g in drawn | chosen if g.startswith(task + "-")}
        assert r["labeled"] == len(mine) and r["random_labeled"] == len(mine & drawn - chosen)
        assert r["ci_low"] <= truth[task] <= r["ci_high"]
    from hallu_core.views.rates import LABELS_FOR_TEN_POINTS, unskilled

    summary = {r["task"]: r for r in unskilled(store, "default")}["Summary"]  # no skill there (its map says)
    assert summary["labels_needed"] == LABELS_FOR_TEN_POINTS - rows["Summary"]["random_labeled"]
    by_prompt = _side_labels(store, None, ("c1", "greedy"), None)  # Compare's side, pooled the same way
    assert sum(random for _, random in by_prompt.values()) == len(drawn - chosen)
    assert len(by_prompt) == len(drawn | chosen)
