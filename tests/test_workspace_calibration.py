"""Per-workspace calibration: refit a detector's map on the workspace's labels, then re-detect with it."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hallu_core.cli.main import main
from hallu_core.detection import workspace_calibration
from hallu_core.detection.detect import run_detection
from hallu_core.detection.detectors import calibrate
from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Example, Generation, Label, Span

CITIES = ["Lisbon", "Porto", "Madrid", "Paris", "Rome", "Vienna", "Prague", "Oslo", "Dublin", "Berlin", "Warsaw",
          "Riga"]


def build(store: Store, n: int = 24) -> None:
    """n bios; every other output gives a wrong year (labeled by `gold`), the rest are faithful."""
    from hallu_core.store.types import Run

    store.add_run(Run("r", "run", "tiny"))
    store.add_checkpoint(Checkpoint("c", "r", 1, "step-1"))
    examples, gens, labels = [], [], []
    for i in range(n):
        city, year = CITIES[i % len(CITIES)], 1900 + 3 * i
        examples.append(Example(f"e{i}", "bios", f"Write a bio of person {i}.",
                                source=f"Person {i} was born in {city} in {year}.", task="bio"))
        wrong = i % 2 == 0
        text = f"Person {i} was born in {city} in {year + 1 if wrong else year}."
        gens.append(Generation(f"g{i}", f"e{i}", "c", text))
        start = text.rindex(str(year + 1)) if wrong else 0
        labels.append(Label(f"g{i}", "gold", [Span(start, start + 4, "conflict")] if wrong else []))
    store.add_examples(examples)
    store.add_generations(gens)
    store.add_labels(labels)


def test_refit_stores_a_workspace_map_and_redetects_with_it(store):
    build(store)
    run_detection(store, "lexical")  # with the shipped map (fitted on RAGTruth)
    summary = workspace_calibration.refit(store, "lexical", "gold")
    cal = calibrate.load("lexical", workspace_calibration.map_dir(store))
    assert cal.meta["fitted_on"].startswith("workspace labels of 'gold'") and summary["threshold"] == cal.threshold
    assert summary["redetected"]["detected"] == 24  # a new map is a new config: everything detected again
    assert workspace_calibration.own_threshold(store, "lexical") == cal.threshold
    # tasks the labels never covered (imported RAGTruth rows) keep the shipped, RAGTruth-fitted maps
    shipped = calibrate.load("lexical")
    assert cal.span_map("QA").apply(0.9) == shipped.span_map("QA").apply(0.9)
    assert cal.span_map("bio").apply(0.9) > 0.5 > shipped.span_map("bio").apply(0.9)
    latest = [d for g in range(24) for d in store.latest_detections(f"g{g}") if d.detector == "lexical"]
    spans = [s for d in latest for s in d.spans]
    assert spans and all(s.raw_score is not None and s.score >= cal.threshold for s in spans)
    # on these labels every flagged year is hallucinated: the refit map says so, RAGTruth's did not
    wrong_years = [s for d in latest for s in d.spans if d.generation_id in {f"g{i}" for i in range(0, 24, 2)}]
    assert wrong_years and min(s.score for s in wrong_years) > 0.5


def test_refit_is_refused_with_too_few_or_one_sided_labels(store):
    build(store, n=8)
    assert "at least" in workspace_calibration.readiness(store, "gold")
    with pytest.raises(ValueError, match="cannot calibrate lexical"):
        workspace_calibration.refit(store, "lexical", "gold")


def test_cli_evaluate_calibrate(tmp_path):
    ws = tmp_path / "ws"
    s = Store(ws)
    build(s)
    s.close()
    result = CliRunner().invoke(main, ["evaluate", "-w", str(ws), "--calibrate", "lexical", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert any(r["detector"] == "lexical" for r in rows)
    assert (ws / "artifacts" / "calibration" / "lexical.json").exists()
    bad = CliRunner().invoke(main, ["evaluate", "-w", str(ws), "--calibrate", "nope"])
    assert bad.exit_code != 0 and "unknown detector" in bad.output
