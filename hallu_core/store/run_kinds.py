"""What kind of run a run is, as analysts name it: a LoRA fine-tune is stored as kind `finetune`
with `config.method == "lora"`, so the stored kind alone cannot tell it from a full fine-tune."""
from __future__ import annotations


def run_kind(kind: str, config: dict | None) -> str:
    """finetune | lora | distill | import | ... (the stored kind, LoRA told apart by its config)."""
    if kind == "finetune" and (config or {}).get("method") == "lora":
        return "lora"
    return kind


def training_data(config: dict | None) -> tuple | None:
    """What a run trained on, to tell runs "on the same data" (None when the config does not say)."""
    config = config or {}
    data = config.get("train_file") or config.get("dataset")
    return ("file" if config.get("train_file") else "dataset", data) if data else None


def teacher_of(config: dict | None, meta: dict | None) -> str | None:
    """The teacher a distilled student learnt from: the checkpoint id `hallu distill` resolved (run meta
    `teacher_checkpoint`), else the config's `teacher` reference (a run id, RUN:STEP, HF id or folder)."""
    for key in ("teacher_checkpoint", "teacher"):
        for place in (meta or {}, config or {}):
            if isinstance(place.get(key), str) and place[key]:
                return place[key]
    return None


# a checkpoint's training step in SQL over `checkpoints c JOIN runs r`: NULL for an imported model, whose
# "step" is only its order in the imported file (gpt-4-0613 = 0 would read as a training step)
TRAINING_STEP_SQL = "CASE WHEN r.kind = 'import' THEN NULL ELSE c.step END"
