"""`hallu`: the command line. Every command takes --workspace DIR (or HALLU_WORKSPACE).

The group lives here; its commands live one module per kind of work (workspace, models, detectors).
"""
from __future__ import annotations

import logging

import click

from hallu_core import set_process_defaults
from hallu_core.cli import detectors, models, workspace


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.version_option(package_name="hallu")
def main(verbose: int) -> None:
    """Hallu: see where fine-tuned language models hallucinate."""
    set_process_defaults()  # before a command first imports torch; `hallu serve` passes it to the dashboard
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for _module in (workspace, models, detectors):
    for _command in _module.COMMANDS:
        main.add_command(_command)

if __name__ == "__main__":
    main()
