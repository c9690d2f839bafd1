"""What every `hallu` command shares: the --workspace option, the store it opens, clear errors, a progress bar."""
from __future__ import annotations

import functools
from contextlib import contextmanager

import click

from hallu_core.data.workspace import ENV_VAR, open_workspace
from hallu_core.errors import ModelLoadError
from hallu_core.store.database import StoreError

workspace_option = click.option(
    "--workspace", "-w", type=click.Path(file_okay=False), envvar=ENV_VAR, default=None,
    help=f"Workspace folder (default: ${ENV_VAR}, else the embedded default workspace).")


@contextmanager
def clear_errors():
    """Known failures (a refused file, a bad value, a model or workspace that cannot load) as one clear
    line and a non-zero exit, never a traceback."""
    try:
        yield
    except (StoreError, ValueError, ModelLoadError, OSError) as exc:  # ValueError: a refused import too
        raise click.ClickException(str(exc)) from exc


def with_store(command):
    """Open the workspace for a command, under `clear_errors`."""
    @workspace_option
    @functools.wraps(command)
    def wrapper(workspace, **kwargs):
        with clear_errors():
            return command(open_workspace(workspace), **kwargs)
    return wrapper


def run_id_option(store, ref: str | None) -> str | None:
    """A --run value as its run's id: a run is named by its id or its name (a shared name is refused with the
    ids that have it); one no run has is a usage error, not an empty result."""
    if ref is None:
        return None
    run_id = store.run_id_of(ref)
    if run_id is None:
        raise click.BadParameter(f"no run of {store.root} has the id or name {ref!r}", param_hint="'--run'")
    return run_id


def progress_bar(description: str):
    """A tqdm bar driven by the core's progress(done, total, message) callable."""
    from tqdm import tqdm

    bar = tqdm(desc=description, unit="it", dynamic_ncols=True, disable=None)

    def progress(done: int, total: int, message: str = "") -> None:
        if total and bar.total != total:
            bar.total = total
        bar.n = done
        if message:
            bar.set_postfix_str(message[:60], refresh=False)
        bar.refresh()

    progress.close = bar.close
    return progress


def run_with_bar(description: str, work):
    """`work(progress)` under a progress bar that is closed however the work ends."""
    bar = progress_bar(description)
    try:
        return work(bar)
    finally:
        bar.close()
