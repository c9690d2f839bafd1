"""Language models: configs, loading, fine-tuning (full or LoRA) and its data, distillation, and
generation from every checkpoint with its backends.

May import: `store`, `data`.
"""
