"""A synthetic workspace for tests and benches: runs, checkpoints, generations, spans, labels.

No model is involved; texts are templated so that later checkpoints hallucinate more,
which gives the dashboard's curves, diffs and rankings something to show. Seeded.
"""
from __future__ import annotations

import math
import random
from pathlib import Path

from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Detection, Example, Generation, Label, Run, Span, Token, generation_id

CITIES = ["Oslo", "Lima", "Quito", "Hanoi", "Porto", "Accra", "Perth", "Turin", "Leeds", "Cusco"]
JOBS = ["baker", "pilot", "chemist", "painter", "judge", "sailor", "architect", "poet"]
DECODINGS = {"greedy": {"strategy": "greedy"}, "sample-t0.8": {"strategy": "sample", "temperature": 0.8}}


def _tokens(text: str, rng: random.Random, wrong: set[int]) -> list[Token]:
    tokens, pos = [], 0
    for i, word in enumerate(text.split(" ")):
        start, end = pos, pos + len(word)
        lp = -rng.uniform(2.0, 5.0) if start in wrong else -rng.uniform(0.01, 1.0)
        tokens.append(Token(start, end, lp, abs(lp) * 0.8 + rng.uniform(0, 0.5)))
        pos = end + 1
    return tokens


def build(root: str | Path, n_examples: int = 40, steps: tuple[int, ...] = (0, 100, 200, 300, 400),
          decodings: tuple[str, ...] = ("greedy", "sample-t0.8"), tokens: bool = True, labels_every: int = 3,
          seed: int = 0, batch: int = 20000) -> Store:
    """Build (or extend) a workspace at `root`; returns its open Store."""
    rng = random.Random(seed)
    store = Store(root)
    run = store.add_run(Run("run-synth", "synthetic-finetune", "tiny-gpt2", config={"learning_rate": 5e-4},
                            status="done", meta={"synthetic": True}, created_at=1.0))
    for step in range(0, max(steps) + 1, 20):
        train = 3.0 * math.exp(-step / 150) + 0.3
        val = 2.0 * math.exp(-step / 120) + 0.8 + max(0, step - 200) / 400  # overfits after step 200
        store.log_metrics(run.id, step, {"train_loss": train, "val_loss": val} if step else {"val_loss": val})
    ckpts = [store.add_checkpoint(Checkpoint(f"ckpt-{s}", run.id, s, "base" if s == 0 else f"step-{s}",
                                             metrics={}, created_at=1.0 + s)) for s in steps]
    examples = []
    for i in range(n_examples):
        city, job, year = CITIES[i % len(CITIES)], JOBS[i % len(JOBS)], 1900 + i % 97
        source = f"Name: Person {i}. Birth city: {city}. Birth year: {year}. Profession: {job}."
        examples.append(Example(f"ex-{i}", "synthetic", f"Write a short bio of Person {i}.", source,
                                f"Person {i} was born in {city} in {year} and works as a {job}.",
                                task="bio" if i % 2 == 0 else "qa", meta={"knowledge": "known" if i % 3 else "new"}))
    for i in range(0, n_examples, batch):
        store.add_examples(examples[i:i + batch])
    gens, dets, labs = [], [], []

    def flush():
        store.add_generations(gens)
        store.add_detections(dets)
        store.add_labels(labs)
        gens.clear(), dets.clear(), labs.clear()

    for ci, ckpt in enumerate(ckpts):
        for dec in decodings:
            p_wrong = 0.15 + 0.12 * ci + (0.1 if dec != "greedy" else 0.0)
            for ei, ex in enumerate(examples):
                i = int(ex.id.split("-")[1])
                city, job, year = CITIES[i % len(CITIES)], JOBS[i % len(JOBS)], 1900 + i % 97
                wrong_city = rng.random() < p_wrong
                wrong_year = rng.random() < p_wrong / 2
                c = CITIES[(i + 1 + ci) % len(CITIES)] if wrong_city else city
                y = year + 1 + ci if wrong_year else year
                text = f"Person {i} was born in {c} in {y} and works as a {job}."
                spans, wrong_starts = [], set()
                if wrong_city:
                    s = text.index(c)
                    ev = ex.source.index(city)
                    spans.append(Span(s, s + len(c), "conflict", round(rng.uniform(0.6, 0.99), 3),
                                      {"text": city, "start": ev, "end": ev + len(city), "field": "source"}))
                    wrong_starts.add(s)
                if wrong_year:
                    s = text.index(str(y))
                    spans.append(Span(s, s + 4, "conflict", round(rng.uniform(0.5, 0.9), 3)))
                    wrong_starts.add(s)
                if rng.random() < 0.05:
                    s = text.index(job)
                    spans.append(Span(s, len(text) - 1, "baseless", 0.4))
                dec_cfg = DECODINGS.get(dec, {"strategy": dec})
                gid = generation_id(ex.id, ckpt.id, dec_cfg, 0)
                gens.append(Generation(gid, ex.id, ckpt.id, text, dec_cfg, dec, 0,
                                       _tokens(text, rng, wrong_starts) if tokens else [], created_at=2.0))
                dets.append(Detection(gid, "lexical", "h1", spans, max([s.score for s in spans], default=0.05)))
                conf = [sp for sp in spans if sp.type == "conflict"][:1]
                dets.append(Detection(gid, "confidence", "h1", conf, 0.7 if conf else 0.2))
                if labels_every and ei % labels_every == 0:
                    labs.append(Label(gid, "oracle", [Span(s.start, s.end, s.type) for s in spans],
                                          selection="random"))  # every 3rd example: blind to outcomes
                if len(gens) >= batch:
                    flush()
    flush()
    return store
