"""`hallu` commands on the workspace itself: import, export, info, jobs, serve, repair."""
from __future__ import annotations

import json
import os
import sys

import click

from hallu_core.cli.common import clear_errors, run_id_option, with_store, workspace_option
from hallu_core.data.bundle import app_path
from hallu_core.data.workspace import ENV_VAR, open_workspace


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dataset", help="Dataset name for the examples (default: the file name without extension).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]), help="Override the extension.")
@with_store
def import_command(store, file, dataset, fmt):
    """Import FILE (JSONL in RAGTruth schema or example rows, CSV, Parquet). All or nothing."""
    from hallu_core.data.io import import_file

    summary = import_file(store, file, dataset=dataset, fmt=fmt)
    click.echo(json.dumps(summary))


@click.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Output file; the format comes from the extension (.jsonl, .csv, .parquet).")
@click.option("--annotator", "annotators", multiple=True, help="Only these annotators' labels (repeatable).")
@click.option("--run", "run_id", help="Only generations of this run (its id or name).")
@with_store
def export_command(store, out, annotators, run_id):
    """Export generations with their done labels (RAGTruth-schema JSONL, or flat CSV/Parquet); drafts and
    skipped items are left out and counted."""
    from hallu_core.data.export import export_file, left_out_note

    summary = export_file(store, out, annotators=list(annotators) or None, run_id=run_id_option(store, run_id))
    click.echo(json.dumps(summary))
    if note := left_out_note(summary["left_out"]):
        click.echo(note, err=True)


@click.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_store
def info_command(store, as_json):
    """Counts of what the workspace holds."""
    counts = {"workspace": str(store.root), **store.counts(), "annotators": store.annotators()}
    if as_json:
        click.echo(json.dumps(counts))
        return
    for key, value in counts.items():
        click.echo(f"{key:>12}: {', '.join(value) if isinstance(value, list) else value}")


@click.command("jobs")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per job.")
@with_store
def jobs_command(store, as_json):
    """Recent background jobs and their progress."""
    from dataclasses import asdict

    from hallu_core.jobs.runner import refresh_jobs

    for job in refresh_jobs(store):
        if as_json:
            click.echo(json.dumps({k: v for k, v in asdict(job).items() if k != "log"}))
        else:
            click.echo(f"{job.id}  {job.kind:<9} {job.status:<11} {job.done}/{job.total}  {job.message}"
                       + (f"  error: {job.error}" if job.error else ""))


@click.command("serve")
@click.option("--port", default=8501, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; 127.0.0.1 keeps the dashboard local to this machine.")
@workspace_option
def serve_command(port, host, workspace):
    """Start the dashboard on the workspace."""
    with clear_errors():
        app = app_path()
        store = open_workspace(workspace)  # builds the default workspace before the server starts
    env = {**os.environ, ENV_VAR: str(store.root)}
    command = [sys.executable, "-m", "streamlit", "run", str(app),
               "--server.port", str(port), "--server.address", host, "--server.headless", "true",
               "--browser.gatherUsageStats", "false",
               # no file watcher: an edit (or an upgrade) under site-packages must not hot-reload a
               # running dashboard half-way, which breaks Streamlit's pickled caches
               "--server.fileWatcherType", "none"]
    click.echo(f"Hallu dashboard on http://{host}:{port}  (workspace {store.root})")
    sys.stdout.flush()
    os.execve(sys.executable, command, env)  # become the server: a signal to `hallu serve` reaches it


@click.command("repair")
@with_store
def repair_command(store):
    """Rebuild every derived table (summaries, newest detections, Compare's sides) from the base tables in one
    transaction, then check it against a recount; exits 1 if it still disagrees."""
    from hallu_core.store.repair import repair

    before, after = repair(store)
    for table, differing in before.items():
        if differing:
            click.echo(f"{table}: {differing} rows differed from a recount of the base tables; rebuilt")
    if still := {table: differing for table, differing in after.items() if differing}:
        raise click.ClickException("after the rebuild these still differ from a recount of the base tables: "
                                   + ", ".join(f"{table} ({differing} rows)" for table, differing in still.items()))
    click.echo("every derived table agrees with a recount of the base tables"
               + ("" if any(before.values()) else " (nothing needed fixing)"))


COMMANDS = [import_command, export_command, info_command, jobs_command, serve_command, repair_command]
