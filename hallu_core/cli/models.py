"""`hallu` commands that run models: demo, finetune, distill, generate, detect, detect-file, evaluate."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from hallu_core.cli.main import main, progress_bar, with_store


def _run_with_bar(description: str, work):
    bar = progress_bar(description)
    try:
        return work(bar)
    finally:
        bar.close()


@main.command("demo")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the fact world and training.")
@click.option("--new-knowledge", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="Share of the new-knowledge fine-tune's people that the base model never saw.")
@click.option("--report", type=click.Path(dir_okay=False, writable=True),
              help="Also write the whole summary (rates, headline figures, findings, timings) as JSON here.")
@with_store
def demo_command(store, seed, new_knowledge, report):
    """World -> base model -> four runs -> generate per checkpoint -> detect; prints oracle rates and findings."""
    from hallu_core.demo.pipeline import DemoSizes, run_demo

    from hallu_core.demo.demo_report import format_figures, format_findings, format_rates

    sizes = dataclasses.replace(DemoSizes(), new_knowledge=new_knowledge)
    summary = _run_with_bar("demo", lambda bar: run_demo(store, seed=seed, sizes=sizes, progress=bar))
    for name, rows in summary["rates"].items():
        click.echo(f"{name}:\n{format_rates(rows)}")
    click.echo(format_figures(summary["figures"]))
    click.echo(format_findings(summary["findings"]))
    if report:
        Path(report).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(f"{summary['generations']} generations in {summary['seconds']['total']:.0f} s; workspace {store.root}")


@main.command("finetune")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--run-id", help="Resume or name this run (default: derived from the config).")
@with_store
def finetune_command(store, config, run_id):
    """Fine-tune a causal LM from a TrainConfig JSON file; resumes an interrupted run."""
    from hallu_core.modeling.config import TrainConfig
    from hallu_core.modeling.train import finetune

    _echo_run(store, _run_with_bar("finetune", lambda bar: finetune(store, TrainConfig.from_file(config),
                                                                    run_id=run_id, progress=bar)))


@main.command("distill")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--run-id", help="Resume or name this run (default: derived from the config).")
@with_store
def distill_command(store, config, run_id):
    """Distil a teacher into a student from a DistillConfig JSON file; resumes an interrupted run."""
    from hallu_core.modeling.config import DistillConfig
    from hallu_core.modeling.distill import distill

    _echo_run(store, _run_with_bar("distill", lambda bar: distill(store, DistillConfig.from_file(config),
                                                                  run_id=run_id, progress=bar)))


def _echo_run(store, run) -> None:
    """The finished (or resumed-and-finished) run as one JSON line: scripts read it."""
    click.echo(json.dumps({"run_id": run.id, "status": run.status,
                           "checkpoints": [c.name for c in store.checkpoints(run.id)]}))


@main.command("generate")
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--run", "run_id", help="Every checkpoint of this run.")
@click.option("--checkpoint", "checkpoint_ids", multiple=True, help="A checkpoint id (repeatable).")
@click.option("--dataset", help="Only this dataset's examples (default: all).")
@click.option("--strategy", type=click.Choice(["greedy", "beam", "sample"]), default="greedy", show_default=True)
@click.option("--temperature", default=1.0, show_default=True, type=float)
@click.option("--top-p", default=1.0, show_default=True, type=float)
@click.option("--top-k", default=0, show_default=True, type=int)
@click.option("--num-beams", default=1, show_default=True, type=int)
@click.option("--num-samples", default=1, show_default=True, type=int)
@click.option("--max-new-tokens", default=64, show_default=True, type=int)
@click.option("--batch-size", default=16, show_default=True, type=int)
@click.option("--prompt-template", default=None, metavar="NAME|TEXT",
              help="closed-book (the default: prompts as is), grounded (the example's source before the prompt), "
                   "or a template text with {prompt} and {source}. Overrides a CONFIG file's.")
@with_store
def generate_command(store, config, run_id, checkpoint_ids, dataset, strategy, temperature, top_p, top_k,
                     num_beams, num_samples, max_new_tokens, batch_size, prompt_template):
    """Generate from checkpoints (a GenerateConfig JSON file, or the options). Skips what exists."""
    from hallu_core.modeling.config import DecodingConfig, GenerateConfig
    from hallu_core.modeling.generate import generate_from_config

    if config:
        cfg = GenerateConfig.from_file(config)
    else:
        refs = list(checkpoint_ids) + ([run_id] if run_id else [])
        if not refs:
            raise click.UsageError("name checkpoints with --run or --checkpoint, or give a CONFIG file")
        decoding = DecodingConfig(strategy, num_beams, temperature, top_p, top_k, num_samples, max_new_tokens)
        cfg = GenerateConfig(tuple(refs), dataset, (decoding,), batch_size)
    if prompt_template is not None:
        cfg = dataclasses.replace(cfg, prompt_template=prompt_template)  # validated again by __post_init__
    summary = _run_with_bar("generate", lambda bar: generate_from_config(store, cfg, progress=bar))
    click.echo(json.dumps(summary))


def _known_detector(ctx, param, names):
    """Refuse a detector name before any work starts (a usage error that lists the names)."""
    from hallu_core.detection.detectors.registry import available_detectors

    known = available_detectors()
    for name in [names] if isinstance(names, str) else names:
        if name not in known:
            raise click.BadParameter(f"unknown detector {name!r}; choose from {', '.join(known)}")
    return names


@main.command("detect")
@click.option("--detector", "detectors", multiple=True, default=["default"], show_default=True,
              callback=_known_detector, help="Detector name (repeatable); `hallu detectors` lists them.")
@click.option("--run", "run_id", help="Only this run's generations.")
@click.option("--checkpoint", "checkpoint_ids", multiple=True, help="Only these checkpoints (repeatable).")
@click.option("--model", help="For plug-in detectors: an HF model id or local folder.")
@with_store
def detect_command(store, detectors, run_id, checkpoint_ids, model):
    """Run detectors over the workspace's generations and store their spans."""
    from hallu_core.detection.detect import run_detection

    config = {"model": model} if model else None
    for name in detectors:
        summary = _run_with_bar(name, lambda bar: run_detection(
            store, name, run_id=run_id, checkpoint_ids=list(checkpoint_ids) or None, config=config, progress=bar))
        click.echo(json.dumps(summary))


@main.command("detectors")
def detectors_command():
    """List the detectors Hallu knows."""
    from hallu_core.detection.detectors.registry import available_detectors

    click.echo("\n".join(available_detectors()))


@main.command("detect-file")
@click.argument("in_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--detector", default="default", show_default=True, callback=_known_detector)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Predictions JSONL.")
@click.option("--train-on", type=click.Path(exists=True, dir_okay=False),
              help="A labeled RAGTruth-schema file to train the learned parts on first.")
@click.option("--model", help="For plug-in detectors: an HF model id or local folder.")
def detect_file_command(in_file, detector, out, train_on, model):
    """Detect on a RAGTruth-schema file without a workspace: one {"id", "spans"} line per input."""
    from hallu_core.detection.detectors.filemode import detect_file
    from hallu_core.errors import ModelLoadError
    from hallu_core.data.records import ImportValidationError

    try:
        count = _run_with_bar(detector, lambda bar: detect_file(in_file, detector, out, train_on=train_on,
                                                                 progress=bar, **({"model": model} if model else {})))
    except (ImportValidationError, ValueError, ModelLoadError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"out": out, "responses": count}))


@main.command("evaluate")
@click.option("--annotator", default="gold", show_default=True, help="Whose labels are the truth.")
@click.option("--by", type=click.Choice(["task", "checkpoint", "decoding_name"]), default="task", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per row.")
@click.option("--calibrate", "calibrate_detectors", multiple=True, callback=_known_detector,
              help="First refit this detector's score calibration on the annotator's labels (kept in the "
                   "workspace) and re-detect with it; repeatable. Summary on stderr.")
@with_store
def evaluate_command(store, annotator, by, as_json, calibrate_detectors):
    """Response- and span-level P/R/F1 of every stored detector against an annotator's labels."""
    from hallu_core.detection.evaluation import evaluate_store
    from hallu_core.detection.workspace_calibration import refit

    for name in calibrate_detectors:
        summary = _run_with_bar(f"calibrate {name}", lambda bar, name=name: refit(store, name, annotator, bar))
        click.echo(json.dumps({k: summary.get(k) for k in ("detector", "annotator", "map", "threshold", "span_raw",
                                                            "span_calibrated_oof", "response_raw",
                                                            "response_calibrated_oof")}), err=True)
    rows = evaluate_store(store, annotator, by)
    if not rows:
        raise click.ClickException(f"no detections on generations labeled by {annotator!r}: run `hallu detect`")
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    click.echo(f"{'detector':<20}{by:<28}{'n':>5}{'resp P':>8}{'resp R':>8}{'resp F1':>8}"
               f"{'span P':>8}{'span R':>8}{'span F1':>8}")
    for r in rows:
        click.echo(f"{r['detector']:<20}{str(r[by])[:27]:<28}{r['n']:>5}" + "".join(
            f"{100 * r[k]:>8.1f}" for k in ("response_p", "response_r", "response_f1", "span_p", "span_r", "span_f1")))
from hallu_core.cli import span as cli_span  # noqa: E402,F401  (registers `hallu train-detector`)
