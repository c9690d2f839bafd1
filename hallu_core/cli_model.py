"""`hallu` commands that run models: demo, finetune, generate, detect, detect-file, evaluate."""
from __future__ import annotations

from .cli import main  # noqa: F401
