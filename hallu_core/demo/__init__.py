"""The embedded demo (`hallu demo`): a synthetic fact world, a base model that knows its people,
four runs from it, generations, detections and oracle labels, and the report of what they show.

`world` builds fictional people, a pretraining corpus, a fine-tuning set and an evaluation set from a
seed (pure standard library); `oracle` derives gold hallucination spans from an entity's fact card;
`pipeline` runs the whole story. May import `store`, `data`, `modeling`, `detection`, `views`.
"""
