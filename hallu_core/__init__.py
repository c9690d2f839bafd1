"""Hallu's core: everything the dashboard and the CLI do, grouped in rooms that stand in layers.

    store                                   the workspace database and its records
    data                                    files in and out, prompts, the default workspace
    modeling | detection                    models (train, distill, generate) | detectors, metrics
    labeling                                the queue, agreement, adjudication
    views                                   what pages show: queries, compare, findings, HTML
    demo                                    the embedded demo's story
    jobs                                    background work
    cli | ui                                the command line | Streamlit helpers (pages/ use ui)

A room imports only from rooms above it in this list, and from the two modules beside them:
`errors` (exception types; imports nothing) and `validated` (the base of every config; pydantic).
tests/test_architecture.py fails on an import that points the other way or closes a cycle.
"""
import os
from typing import MutableMapping

__version__ = "0.1.0"

# torch's OpenMP threads busy-wait by default; on a shared 2-core machine that costs
# several times the CPU per training step. Read when torch is first imported.
PROCESS_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}


def set_process_defaults(environ: MutableMapping[str, str] = os.environ) -> None:
    """Apply PROCESS_DEFAULTS (what the user set wins) in a process Hallu starts itself: the CLI, a job,
    the dashboard server. Never on import: that would change the process of whoever imports Hallu."""
    for name, value in PROCESS_DEFAULTS.items():
        environ.setdefault(name, value)
