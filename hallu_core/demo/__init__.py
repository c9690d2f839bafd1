"""The synthetic fact world behind `hallu demo`.

`world` builds fictional people, a pretraining corpus, a fine-tuning set and an
evaluation set from a seed; `oracle` derives gold hallucination spans for any text
from an entity's fact card. Pure standard library: importable without torch.
"""
