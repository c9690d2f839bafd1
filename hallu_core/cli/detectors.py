"""`hallu` commands on detectors: detect, detectors, detect-file, evaluate, train-detector."""
from __future__ import annotations

import json

import click

from hallu_core.cli.common import clear_errors, run_id_option, run_with_bar, with_store, workspace_option


def _known_detector(ctx, param, names):
    """Refuse a detector name before any work starts (a usage error that lists the names)."""
    from hallu_core.detection.detectors.registry import available_detectors

    known = available_detectors()
    for name in [names] if isinstance(names, str) else names:
        if name not in known:
            raise click.BadParameter(f"unknown detector {name!r}; choose from {', '.join(known)}")
    return names


@click.command("detect")
@click.option("--detector", "detectors", multiple=True, default=["default"], show_default=True,
              callback=_known_detector, help="Detector name (repeatable); `hallu detectors` lists them.")
@click.option("--run", "run_id", help="Only this run's generations (its id or name).")
@click.option("--checkpoint", "checkpoint_ids", multiple=True,
              help="Only these checkpoints: a checkpoint id or RUN:STEP (repeatable).")
@click.option("--model", help="For plug-in detectors: an HF model id or local folder.")
@with_store
def detect_command(store, detectors, run_id, checkpoint_ids, model):
    """Run detectors over the workspace's generations and store their spans."""
    from hallu_core.detection.detect import run_detection
    from hallu_core.modeling.model_refs import resolve_checkpoint_ids
    from hallu_core.rates.tracking import log_rates_after_detection

    run_id = run_id_option(store, run_id)
    checkpoint_ids = resolve_checkpoint_ids(store, checkpoint_ids) if checkpoint_ids else ()
    config = {"model": model} if model else None
    for name in detectors:
        summary = run_with_bar(name, lambda bar: run_detection(
            store, name, run_id=run_id, checkpoint_ids=list(checkpoint_ids) or None, config=config, progress=bar))
        click.echo(json.dumps(summary))
        log_rates_after_detection(store, name, run_id, list(checkpoint_ids) or None)


@click.command("detectors")
def detectors_command():
    """List the detectors Hallu knows."""
    from hallu_core.detection.detectors.registry import available_detectors

    click.echo("\n".join(available_detectors()))


@click.command("detect-file")
@click.argument("in_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--detector", default="default", show_default=True, callback=_known_detector)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Predictions JSONL.")
@click.option("--train-on", type=click.Path(exists=True, dir_okay=False),
              help="A labeled RAGTruth-schema file to train the learned parts on first.")
@click.option("--model", help="For plug-in detectors: an HF model id or local folder.")
def detect_file_command(in_file, detector, out, train_on, model):
    """Detect on a RAGTruth-schema file without a workspace: one {"id", "spans"} line per input."""
    from hallu_core.detection.detectors.filemode import detect_file

    with clear_errors():
        count = run_with_bar(detector, lambda bar: detect_file(in_file, detector, out, train_on=train_on,
                                                                 progress=bar, **({"model": model} if model else {})))
    click.echo(json.dumps({"out": out, "responses": count}))


@click.command("evaluate")
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
        summary = run_with_bar(f"calibrate {name}", lambda bar, name=name: refit(store, name, annotator, bar))
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


@click.command("rates")
@click.option("--annotator", help="Whose labels count (default: every annotator's done labels).")
@click.option("--detector", default="default", show_default=True,
              help="Whose response scores narrow the interval; 'none' for labels alone.")
@click.option("--by", type=click.Choice(["task", "checkpoint", "decoding_name", "run", "knowledge"]),
              default="checkpoint", show_default=True,
              help="knowledge: the examples' `knowledge` tag (the demo's known / new / unseen facts)")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per group.")
@with_store
def rates_command(store, annotator, detector, by, confidence, as_json):
    """Hallucination rate per group: an estimate with its interval from labels plus detector scores.

    Labels drawn at random (the Label page's random order, imported gold) are combined with the
    detector's scores on every output; labels chosen otherwise count only for their own outputs.
    Without labels the detector's own estimate has no interval. docs/detectors.md says how.
    """
    from hallu_core.rates import rate_table
    from hallu_core.views import queries

    detector = None if detector == "none" else detector
    rows = rate_table(store, detector, annotator, by=[by], confidence=confidence)
    names = ({r["checkpoint_id"]: r["label"] for r in queries.checkpoints(store)} if by == "checkpoint" else
             {r["run_id"]: r["name"] for r in queries.runs(store)} if by == "run" else {})
    if as_json:
        for r in rows:
            key = r["group"][by]
            click.echo(json.dumps({"group": key or None, **({"name": names[key]} if key in names else {}),
                                   **{k: r[k] for k in ("n", "labeled", "random_labeled", "estimate", "ci_low",
                                                        "ci_high", "method")}}))
        return
    if not rows:
        raise click.ClickException("no generations in this workspace: run `hallu generate` or `hallu import`")
    click.echo(f"{by:<36}{'n':>7}{'labeled':>9}{'rate':>8}{int(confidence * 100):>5}% interval  method")
    for r in rows:
        key = r["group"][by]
        rate = "-" if r["estimate"] is None else f"{100 * r['estimate']:.1f}%"
        interval = "" if r["ci_low"] is None else f"{100 * r['ci_low']:.1f}-{100 * r['ci_high']:.1f}%"
        name = names.get(key, key) or "(not tagged)"
        click.echo(f"{str(name)[:35]:<36}{r['n']:>7}{r['labeled']:>9}{rate:>8}  {interval:<14}"
                   f"{r['method']}")


def _examples(data_files, annotators, workspace, synthetic: int, seed: int):
    """Training examples from RAGTruth-schema files and annotators' done labels, plus synthetic
    perturbations of the faithful ones (`synthetic` examples at most)."""
    import random

    from hallu_core.detection.detectors.span_train import examples_from_items, read_labeled_jsonl
    from hallu_core.detection.detectors.synthetic_spans import synthesize

    examples, raw_rows = [], []
    for path in data_files:
        examples += read_labeled_jsonl(path)
        raw_rows += [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    if annotators:
        from hallu_core.data.workspace import open_workspace
        from hallu_core.detection.label_training import training_set

        store = open_workspace(workspace)
        for annotator in annotators:
            items, golds, groups = training_set(store, annotator)
            examples += examples_from_items(items, golds)
            raw_rows += [{"id": it.id, "task_type": it.task, "source": it.source or "", "response": it.output,
                          "question": it.question, "source_id": group, "labels": [s.to_dict() for s in gold]}
                         for it, gold, group in zip(items, golds, groups)]
    if synthetic and raw_rows:
        made = synthesize(raw_rows, seed=seed)
        random.Random(seed).shuffle(made)
        examples += made[:synthetic]
    return examples


@click.command("train-detector")
@click.option("--data", "data_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A labeled RAGTruth-schema JSONL (repeatable).")
@click.option("--annotator", "annotators", multiple=True,
              help="Train on this annotator's done labels in the workspace (repeatable).")
@workspace_option
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the trained adapter.")
@click.option("--from", "init", default="builtin", show_default=True,
              help="Start from: builtin (the shipped adapter), none (a fresh adapter), or an adapter folder.")
@click.option("--backbone", default=None, help="HF encoder id or folder (default: the bundled MiniLM; only with --from none).")
@click.option("--synthetic", default=0, show_default=True, type=int,
              help="Add up to N synthetic hallucinations made from the faithful training rows.")
@click.option("--epochs", default=1, show_default=True, type=int)
@click.option("--lr", default=5e-4, show_default=True, type=float)
@click.option("--batch-size", default=8, show_default=True, type=int)
@click.option("--max-length", default=384, show_default=True, type=int)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None, help="Default: CUDA when available.")
@click.option("--threads", default=None, type=int, help="CPU threads for torch.")
@click.option("--seed", default=0, show_default=True, type=int)
def train_detector_command(data_files, annotators, workspace, out, init, backbone, synthetic, epochs, lr, batch_size,
                           max_length, device, threads, seed):
    """Train the `span` detector (a LoRA adapter + head over an encoder) on labeled files and/or workspace
    annotators. Use the result with `hallu detect-file IN --detector span --model OUT`."""
    from hallu_core.detection.detectors.span_model import BUILTIN_SPAN, BUNDLED, read_artifact_config
    from hallu_core.detection.detectors.span_train import TrainConfig, train, write_artifact

    if not data_files and not annotators:
        raise click.UsageError("give labeled data: --data FILE and/or --annotator NAME")
    init_adapter = {"builtin": str(BUILTIN_SPAN), "none": None}.get(init, init)
    with clear_errors():
        artifact = read_artifact_config(init_adapter) if init_adapter else {}
        if backbone and init_adapter:
            raise click.UsageError("--backbone trains a fresh adapter: add --from none")
        examples = _examples(data_files, annotators, workspace, synthetic, seed)
        if not examples:
            raise click.ClickException("no labeled examples found")
        cfg = TrainConfig(backbone=backbone or artifact.get("backbone", BUNDLED), max_length=max_length,
                          epochs=epochs, lr=lr, batch_size=batch_size, device=device, threads=threads, seed=seed)
        result = train(examples, cfg, init_adapter=init_adapter, show_bar=True)
    thresholds = artifact.get("thresholds", {"": 0.5})
    path = write_artifact(out, result.state, {**result.artifact, "thresholds": thresholds,
                                              "max_windows": artifact.get("max_windows", 3)})
    click.echo(json.dumps({"out": str(path), "examples": len(examples), "epochs": epochs,
                           "final_loss": round(result.losses[-1], 4)}))


COMMANDS = [detect_command, detectors_command, detect_file_command, evaluate_command, rates_command, train_detector_command]
