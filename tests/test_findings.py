"""Findings in words follow the stored numbers: two fabricated histories give two different, correct stories,
and a run with nothing to judge gives no sentence that claims anything."""
from fixtures_dashboard import imported_ws, synthetic_ws  # noqa: F401
from hallu_core.store.types import Checkpoint, Example, Generation, Label, Run, Span
from hallu_core.views import finding_sentences
from hallu_core.views.finding_sentences import (
    Finding, decoding_finding, knowledge_finding, loss_finding, template_finding,
)
from hallu_core.views.findings import run_findings

KNOWLEDGE = ("known", "new")
N = 40  # outputs per (checkpoint, decoding, knowledge) cell: enough not to be called thin


def _examples(store, n=N):
    store.add_examples([Example(f"ex-{k}-{i}", "bios", f"Who is {k} {i}?", meta={"knowledge": k})
                        for k in KNOWLEDGE for i in range(n)])


def _run(store, name, cells, losses=(), config=None, meta=None, kind="finetune", base="base"):
    """A run whose oracle flags `cells[(step, decoding, knowledge)]` of that cell's outputs."""
    run = store.add_run(Run(f"run-{name}", name, base, kind, config or {}, "done", meta or {}))
    for step, value in losses:
        store.log_metrics(run.id, step, {"eval_loss": value})
    for step in sorted({s for s, _, _ in cells}):
        store.add_checkpoint(Checkpoint(f"{name}-{step}", run.id, step, f"step-{step}"))
    gens, labels = [], []
    for (step, decoding, knowledge), (n, flagged) in cells.items():
        for i in range(n):
            gid = f"{name}-{step}-{decoding}-{knowledge}-{i}"
            gens.append(Generation(gid, f"ex-{knowledge}-{i}", f"{name}-{step}", "Some text.", decoding_name=decoding))
            labels.append(Label(gid, "oracle", [Span(0, 4, "baseless")] if i < flagged else []))
    store.add_generations(gens)
    store.add_labels(labels)
    return run


def _cells(rates: dict, n=N):
    """{(step, decoding, knowledge): rate} -> {(...): (n, flagged)}."""
    return {key: (n, round(rate * n)) for key, rate in rates.items()}


def _texts(found: list[Finding]) -> dict[str, str]:
    return {f.topic: f.text for f in found}


def _story_a(store):
    """New facts taught: known-fact rate climbs 10% -> 50% while new facts are learned; val loss turns up at 200;
    sampling hotter hallucinates more; a known-only run stays at 10%."""
    _examples(store)
    cells = {}
    for step, known, new in ((0, 0.1, 0.9), (100, 0.2, 0.5), (200, 0.5, 0.3)):
        for decoding, extra in (("greedy", 0.0), ("sample-t0.7", 0.1), ("sample-t1.3", 0.3)):
            cells[(step, decoding, "known")] = min(1.0, known + extra)
            cells[(step, decoding, "new")] = min(1.0, new + extra)
    _run(store, "known-only", _cells({(s, "greedy", k): 0.1 for s in (0, 200) for k in KNOWLEDGE}),
         meta={"known_records": 50, "new_records": 0})
    return _run(store, "new-mix", _cells(cells), losses=[(0, 2.0), (100, 1.2), (200, 1.5)],
                meta={"known_records": 25, "new_records": 25})


def _story_b(store):
    """The other way round: hallucination falls with training and with temperature; loss keeps falling."""
    _examples(store)
    cells = {}
    for step, rate in ((0, 0.6), (100, 0.4), (200, 0.3)):
        for decoding, extra in (("greedy", 0.2), ("sample-t1.3", 0.0)):
            for k in KNOWLEDGE:
                cells[(step, decoding, k)] = rate + extra
    return _run(store, "steady", _cells(cells), losses=[(0, 2.0), (100, 1.5), (200, 1.1)])


def test_two_histories_give_different_correct_findings(tmp_path):
    from hallu_core.store.database import Store

    a, b = Store(tmp_path / "a"), Store(tmp_path / "b")
    story_a = _texts(run_findings(a, _story_a(a).id))
    story_b = _texts(run_findings(b, _story_b(b).id))
    assert story_a["loss"] == ("Validation loss bottoms out at 1.200 at step 100, then turns up to 1.500 by "
                               "step 200 (+25%): overfitting.")
    assert story_b["loss"] == "Validation loss bottoms out at 1.100 at step 200, the last step logged: no sign " \
                              "of overfitting yet."
    assert story_a["best_checkpoint"] == ("Judged by labels: oracle (synthetic): step-100 hallucinates least, 48% "
                                          "of 240 outputs (every decoding pooled); the most is step-0 at 60%.")
    assert story_b["best_checkpoint"] == ("Judged by labels: oracle (synthetic): step-200 hallucinates least, 40% "
                                          "of 160 outputs (every decoding pooled); the most is step-0 at 70%.")
    assert story_a["knowledge"] == (
        "Known-fact hallucination went from 23% at step-0 to 63% at step-200 (+40 points); new-fact hallucination "
        "went from 97% to 43% as the new facts were learned. The known-only run 'known-only' ends at 10% on "
        "known facts: this run's last checkpoint is +53 points against it.")
    assert story_b["knowledge"] == (
        "Known-fact hallucination went from 70% at step-0 to 40% at step-200 (-30 points); new-fact hallucination "
        "went from 70% to 40% as the new facts were learned.")
    assert story_a["decoding"] == ("Rate per decoding, every checkpoint pooled: greedy 42%, sample-t0.7 52%, "
                                   "sample-t1.3 68%: the rate rises with temperature (+27 points from "
                                   "temperature 0 to 1.3).")
    assert story_b["decoding"] == ("Rate per decoding, every checkpoint pooled: greedy 63%, sample-t1.3 43%: "
                                   "the rate falls as temperature rises (-20 points from temperature 0 to 1.3).")


def test_changing_the_stored_labels_changes_the_findings(store):
    run = _story_a(store)
    before = _texts(run_findings(store, run.id))
    # the oracle now finds the last checkpoint clean on every known fact
    store.add_labels([Label(g.id, "oracle", []) for g in store.generations(checkpoint_id="new-mix-200")
                      if "-known-" in g.id])
    after = _texts(run_findings(store, run.id))
    assert before["knowledge"] != after["knowledge"]
    assert after["knowledge"].startswith("Known-fact hallucination went from 23% at step-0 to 0% at step-200 "
                                         "(-23 points)")
    assert after["knowledge"].endswith("this run's last checkpoint is -10 points against it.")


def test_a_run_without_checkpoints_or_labels_says_nothing_misleading(store):
    _examples(store, n=3)
    store.add_run(Run("run-empty", "empty", "base", status="created"))
    assert run_findings(store, "run-empty") == []
    store.add_run(Run("run-unjudged", "unjudged", "base", status="done"))
    store.add_checkpoint(Checkpoint("u-0", "run-unjudged", 0, "base"))
    store.add_generations([Generation("u-g", "ex-known-0", "u-0", "Text.", decoding_name="greedy")])
    assert run_findings(store, "run-unjudged") == []
    assert run_findings(store, "no-such-run") == []


def test_thin_data_is_hedged_with_its_count(store):
    _examples(store, n=5)
    run = _run(store, "tiny", {(0, "greedy", "known"): (5, 1), (50, "greedy", "known"): (5, 4)},
               losses=[(0, 2.0), (50, 1.0)])
    found = _texts(run_findings(store, run.id))
    assert found["loss"] == "Only 2 validation-loss point(s) were logged (last 1.000 at step 50): too few to see " \
                            "a minimum."
    assert "least, 20% of only 5 outputs" in found["best_checkpoint"]
    assert "(+60 points; only 5 known-fact outputs at one of them)" in found["knowledge"]
    assert found["decoding"] == "Only one decoding was judged: greedy 50% (only 10 outputs)."


def test_lora_and_distilled_runs_are_compared_with_their_baselines(store):
    _examples(store)
    data, mix = {"train_file": "mix.jsonl"}, {"known_records": 25, "new_records": 25}
    # the full run was also sampled hot, the LoRA run not: only the shared greedy decoding is compared
    _run(store, "full", _cells({(0, "greedy", "known"): 0.2, (100, "greedy", "known"): 0.6,
                                (100, "sample-t1.3", "known"): 1.0}), config={**data, "method": "full"}, meta=mix)
    lora = _run(store, "adapter", _cells({(0, "greedy", "known"): 0.2, (100, "greedy", "known"): 0.35}),
                config={**data, "method": "lora"}, meta=mix)
    # a student of the same data that learns fewer new facts (new 90% vs 40%) but keeps the known ones (10%)
    same_data_student = _run(store, "smooth", _cells({(0, "greedy", "known"): 0.2, (100, "greedy", "known"): 0.1,
                                                      (100, "greedy", "new"): 0.9}),
                             config={**data, "teacher": "run-known-mix"}, meta=mix, kind="distill")
    _run(store, "full-mixed", _cells({(100, "greedy", "known"): 0.6, (100, "greedy", "new"): 0.4}),
         config={**data, "method": "full"}, meta=mix, base="other-base")  # another base: not the same data
    _run(store, "known-mix", _cells({(0, "greedy", "known"): 0.1}), config={**data, "method": "full"},
         meta={"known_records": 50, "new_records": 0})  # same file, another mix: not "the same data"
    student = _run(store, "student", _cells({(0, "greedy", "known"): 0.5, (80, "greedy", "known"): 0.45}),
                   config={"teacher": "run-full:100"}, meta={"teacher_checkpoint": "full-100"}, kind="distill")
    _run(store, "other-data", _cells({(0, "greedy", "known"): 0.9}), config={"train_file": "x.jsonl"})
    assert _texts(run_findings(store, lora.id))["lora"] == (
        "The LoRA run 'adapter' ends at 35% vs 60% for the full fine-tune 'full' on the same data (last "
        "checkpoints): lower (-25 points); on known facts 35% vs 60% (-25 points).")
    distill = [f.text for f in run_findings(store, same_data_student.id) if f.topic == "distill"]
    assert distill[0] == (
        "The distilled student 'smooth' ends at 50% vs 60% for the full fine-tune 'full' on the same data (last "
        "checkpoints): lower (-10 points); on known facts 10% vs 60% (-50 points).")
    assert distill[1].startswith("The distilled student 'smooth' ends at 50% vs 10% for its teacher 'known-mix'")
    assert _texts(run_findings(store, student.id))["distill"] == (
        "The distilled student 'student' ends at 45% vs 60% for its teacher 'full/step-100' (the student's last "
        "checkpoint): lower (-15 points); on known facts 45% vs 60% (-15 points).")
    assert [f.topic for f in run_findings(store, lora.id)].count("lora") == 1
    assert "lora" not in _texts(run_findings(store, "run-full"))


def test_pure_builders_follow_their_numbers():
    assert loss_finding([]) is None
    assert loss_finding([(0, 1.0), (10, 0.8), (20, 0.8)]).text.endswith("and stays there to step 20 (0.800): "
                                                                         "no overfitting.")
    assert knowledge_finding([]) is None
    rows = [{"decoding": d, "n": 50, "positive": p} for d, p in (("greedy", 10), ("sample-t0.7", 30),
                                                                 ("sample-t1.3", 20))]
    assert decoding_finding(rows).text.endswith("the rate does not move steadily with temperature.")


def test_templates_are_compared_only_when_rates_carry_them():
    rows = [{"decoding": "greedy", "n": 50, "positive": 25, "checkpoint": "c", "step": 1}]
    assert template_finding(rows) is None
    grounded = [{**rows[0], "prompt_template": "closed-book"},
                {**rows[0], "prompt_template": "grounded", "positive": 5}]
    assert template_finding(grounded).text == ("Rate per prompt template: grounded 10%, closed-book 50%; grounded "
                                               "is lowest (-40 points vs closed-book).")


def test_templates_are_compared_on_the_same_checkpoint_and_decoding_and_kept_out_of_the_decoding_finding():
    def row(ckpt, decoding, template, positive):
        return {"checkpoint_id": ckpt, "checkpoint": ckpt, "step": 1, "decoding": decoding, "n": 50,
                "positive": positive, "prompt_template": template}

    rates = [row("c1", "greedy", "closed-book", 20), row("c1", "greedy · grounded", "grounded", 5),
             row("c1", "sample-t1.3", "closed-book", 40),  # no grounded twin: not part of the template comparison
             row("c2", "sample-t1.3 · grounded", "grounded", 0)]  # no closed-book twin either
    assert template_finding(rates).text == ("Rate per prompt template: grounded 10%, closed-book 40%; grounded "
                                            "is lowest (-30 points vs closed-book).")
    assert decoding_finding(rates).text == (
        "Rate per decoding, every checkpoint pooled, closed-book prompts: greedy 40%, sample-t1.3 80%: "
        "the rate rises with temperature (+40 points from temperature 0 to 1.3).")
    assert template_finding([r for r in rates if r["checkpoint_id"] == "c2"]) is None


def test_the_demo_report_states_each_runs_findings(store):
    from hallu_core.demo.demo_report import demo_findings, format_findings

    _story_a(store)
    text = format_findings(demo_findings(store))
    assert text.startswith("Findings (oracle labels):\n  known-only:\n    - Judged by labels: oracle")
    assert "  new-mix:\n    - Validation loss bottoms out at 1.200 at step 100" in text
    assert "the rate rises with temperature" in text
    assert format_findings({}) == ""


def test_two_runs_with_one_name_keep_their_own_findings(store):
    """Runs are keyed by id (the fine-tune form's default name is shared by every run left unnamed): a second
    run no longer overwrites the first, and the words tell the two apart by id."""
    import dataclasses

    from hallu_core.demo.demo_report import demo_findings, format_findings
    from hallu_core.views.findings import workspace_findings

    _story_a(store)
    for run in store.runs():
        store.add_run(dataclasses.replace(run, name="finetune"))
    assert set(workspace_findings(store)) == {"run-known-only", "run-new-mix"}
    text = format_findings(demo_findings(store))
    assert "\n  finetune (run-known-only):\n    - Judged by labels: oracle (synthetic): all 2 checkpoints" in text
    assert "\n  finetune (run-new-mix):\n    - Validation loss bottoms out at 1.200" in text
    assert "The known-only run 'finetune (run-known-only)' ends at 10% on known facts" in text


def test_runs_page_states_the_runs_findings(synthetic_ws, monkeypatch):  # noqa: F811
    from test_pages import all_text, assert_ok, open_page

    from hallu_core.store.database import Store

    at = open_page(synthetic_ws, "runs", monkeypatch)
    assert_ok(at)
    assert any(h.value == "Findings" for h in at.subheader)
    assert at.selectbox(key="runs-decoding").value == "greedy"  # the findings state the decoding the page charts
    expected = run_findings(Store(synthetic_ws), "run-synth", ("labels", "oracle"), decoding="greedy")
    assert {f.topic for f in expected} >= {"loss", "best_checkpoint", "decoding"}
    shown = all_text(at).replace("\\", "")  # the page escapes markdown in the sentences
    for finding in expected:
        assert finding.text in shown


def test_runs_page_on_an_imported_run_claims_nothing_it_lacks(imported_ws, monkeypatch):  # noqa: F811
    from test_pages import all_text, assert_ok, open_page

    at = open_page(imported_ws, "runs", monkeypatch)
    assert_ok(at)
    text = all_text(at)
    assert "Validation loss" not in text and "Known-fact" not in text


def test_imported_models_are_named_without_their_file_order_step():
    rows = [{"checkpoint": "gpt-4", "step": 0, "n": 50, "positive": 4},
            {"checkpoint": "llama-7b", "step": 1, "n": 50, "positive": 20}]
    text = finding_sentences.best_checkpoint_finding(rows, "labels: gold", steps=False).text
    assert text == ("Judged by labels: gold: gpt-4 hallucinates least, 8% of 50 outputs (every decoding pooled); "
                    "the most is llama-7b at 40%.")
    assert finding_sentences.decoding_finding([{"decoding": "imported", "n": 50, "positive": 4}]) is None


def test_unseen_facts_join_the_knowledge_sentence_when_recorded():
    rows = [{"checkpoint": f"step-{s}", "step": s, "knowledge": k, "n": 50, "positive": p}
            for s, k, p in ((0, "known", 5), (10, "known", 10), (0, "unseen", 20), (10, "unseen", 40))]
    assert knowledge_finding(rows).text == ("Known-fact hallucination went from 10% at step-0 to 20% at step-10 "
                                            "(+10 points); unseen-fact hallucination from 40% to 80%.")
    assert knowledge_finding([r for r in rows if r["knowledge"] == "unseen"]) is None  # no known facts: no claim
