"""`hallu train-detector`: train the `span` detector on labeled files and/or workspace labels."""
from __future__ import annotations

import json

import click

from hallu_core.cli.main import main, workspace_option


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
        from hallu_core.detection.label_training import training_set
        from hallu_core.data.workspace import open_workspace

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


@main.command("train-detector")
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
    from hallu_core.detection.detectors.span import BUILTIN_SPAN, BUNDLED, read_artifact_config
    from hallu_core.detection.detectors.span_train import TrainConfig, train, write_artifact

    if not data_files and not annotators:
        raise click.UsageError("give labeled data: --data FILE and/or --annotator NAME")
    init_adapter = {"builtin": str(BUILTIN_SPAN), "none": None}.get(init, init)
    try:
        artifact = read_artifact_config(init_adapter) if init_adapter else {}
        if backbone and init_adapter:
            raise click.UsageError("--backbone trains a fresh adapter: add --from none")
        examples = _examples(data_files, annotators, workspace, synthetic, seed)
        if not examples:
            raise click.ClickException("no labeled examples found")
        cfg = TrainConfig(backbone=backbone or artifact.get("backbone", BUNDLED), max_length=max_length,
                          epochs=epochs, lr=lr, batch_size=batch_size, device=device, threads=threads, seed=seed)
        result = train(examples, cfg, init_adapter=init_adapter, show_bar=True)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    thresholds = artifact.get("thresholds", {"": 0.5})
    path = write_artifact(out, result.state, {**result.artifact, "thresholds": thresholds,
                                              "max_windows": artifact.get("max_windows", 3)})
    click.echo(json.dumps({"out": str(path), "examples": len(examples), "epochs": epochs,
                           "final_loss": round(result.losses[-1], 4)}))
