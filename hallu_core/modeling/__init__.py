"""Language models: configs, loading (and `model_sources`: bundled models and .gguf files, converted once),
chat templates, fine-tuning (full or LoRA) and its data, distillation, generation from every checkpoint with
its backends, and `ask` (one answer from any model reference).

May import: `store`, `data`.
"""
