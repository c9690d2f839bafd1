"""The embedded demo (`hallu demo`): a synthetic fact world, a base model that knows its people,
four runs from it, generations, detections and oracle labels, and the report of what they show.

`world` builds fictional people, a pretraining corpus, a fine-tuning set and an evaluation set from a
seed (pure standard library); `oracle` derives gold hallucination spans from an entity's fact card;
`pipeline` runs the whole story. `hallu demo --model`: the same question on a real pretrained chat model,
with real facts (`facts`, `fact_sources`, `fact_stoplist`: a table and an answer oracle), `real_model` (probe,
split, two LoRA runs, generation, oracle labels) and `real_report` (accuracy with intervals). May import `store`, `data`, `modeling`, `detection`, `views`.
"""
