"""A seeded world of fictional people and the datasets the demo derives from it.

Every person has a status:
- `known`: described in the pretraining corpus, so the base model may know them.
  Some also appear in the fine-tuning set (`in_finetune`); the rest are held out,
  so the evaluation measures what fine-tuning does to facts learnt in pretraining.
- `new`: only in the fine-tuning set: knowledge that fine-tuning teaches. Fine-tuning
  on new facts is known to raise hallucination on facts the model knew (Gekhman et
  al., 2024); each fine-tuning record says which kind it is in `meta["status"]`.
- `unseen`: in no training data; they reach the evaluation set only via their card.

Everything is drawn from `random.Random` seeded with strings (stable across runs and
PYTHONHASHSEED), one stream per stage, so resizing the corpus leaves the people as
they are.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hallu_core.types import Example
from hallu_core.demo import text
from hallu_core.demo.vocab import (
    AWARDS, BIRTH_YEARS, CITIES, EMPLOYERS, FIELD_VOCAB, NAME_SYLLABLES, PROFESSIONS, SPOUSES,
)

STATUSES = ("known", "new", "unseen")
CARD_FIELDS = ("name", "birth_city", "birth_year", "profession", "employer", "spouse", "award")
QA_FIELDS = CARD_FIELDS[1:]
EVAL_DATASET = "demo-eval"
FILES = ("world.json", "entities.jsonl", "corpus.txt", "finetune.jsonl", "eval.jsonl")

DEFAULT_PARAMS = dict(
    n_entities=300,
    bios_per_entity=8,  # corpus lines = known people x this: the knob for pretraining time
    qa_per_entity=2,  # fine-tuning records per person: one bio plus this many questions
    eval_size=120,
    new_fraction=0.25,
    unseen_fraction=0.25,
    known_finetune_fraction=0.5,
    spouse_rate=0.4,
    award_rate=0.3,
)


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    birth_city: str
    birth_year: int
    profession: str
    employer: str
    spouse: str | None = None
    award: str | None = None
    status: str = "known"
    in_finetune: bool = False

    @property
    def card(self) -> dict:
        """The facts, without the attributes this person lacks."""
        return {f: getattr(self, f) for f in CARD_FIELDS if getattr(self, f) is not None}


@dataclass
class World:
    seed: int
    entities: list[Entity]
    corpus: list[str]
    finetune: list[dict]  # {"id", "prompt", "completion", "task", "meta"}
    eval_examples: list[Example]
    params: dict = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    cities: tuple[str, ...] = CITIES
    professions: tuple[str, ...] = PROFESSIONS
    employers: tuple[str, ...] = EMPLOYERS
    spouses: tuple[str, ...] = SPOUSES
    awards: tuple[str, ...] = AWARDS

    @property
    def vocab(self) -> dict[str, tuple[str, ...]]:
        """Card field -> possible values, entity names included: what the oracle matches."""
        return {
            "name": tuple(e.name for e in self.entities),
            "birth_city": self.cities, "profession": self.professions,
            "employer": self.employers, "spouse": self.spouses, "award": self.awards,
        }

    def entity(self, entity_id: str) -> Entity:
        return next(e for e in self.entities if e.id == entity_id)


def build_world(seed: int = 0, **params) -> World:
    unknown = set(params) - set(DEFAULT_PARAMS)
    if unknown:
        raise TypeError(f"unknown world parameters: {', '.join(sorted(unknown))}")
    p = {**DEFAULT_PARAMS, **params}

    def stream(stage: str) -> random.Random:
        return random.Random(f"hallu-demo:{seed}:{stage}")

    entities = make_entities(stream("entities"), p)
    return World(
        seed=seed,
        entities=entities,
        corpus=make_corpus(entities, p["bios_per_entity"], stream("corpus")),
        finetune=make_finetune(entities, p["qa_per_entity"], stream("finetune")),
        eval_examples=make_eval(entities, p["eval_size"], seed, stream("eval")),
        params=p,
    )


def make_entities(rng: random.Random, p: dict) -> list[Entity]:
    people = [
        dict(
            id=f"p{i:04d}", name=name, birth_city=rng.choice(CITIES),
            birth_year=rng.choice(BIRTH_YEARS), profession=rng.choice(PROFESSIONS),
            employer=rng.choice(EMPLOYERS),
            spouse=rng.choice(SPOUSES) if rng.random() < p["spouse_rate"] else None,
            award=rng.choice(AWARDS) if rng.random() < p["award_rate"] else None,
        )
        for i, name in enumerate(_unique_names(rng, p["n_entities"]))
    ]
    n = len(people)
    n_new, n_unseen = round(n * p["new_fraction"]), round(n * p["unseen_fraction"])
    n_known = n - n_new - n_unseen
    if n_known < 0:
        raise ValueError("new_fraction + unseen_fraction must not exceed 1")
    n_known_ft = round(n_known * p["known_finetune_fraction"])
    order = list(range(n))
    rng.shuffle(order)
    for rank, index in enumerate(order):
        status = "known" if rank < n_known else "new" if rank < n_known + n_new else "unseen"
        people[index].update(status=status, in_finetune=rank < n_known_ft or status == "new")
    return [Entity(**person) for person in people]


def _unique_names(rng: random.Random, n: int) -> list[str]:
    # No name part may be a word of a vocabulary value, or the oracle would misread it.
    reserved = {w.casefold() for values in FIELD_VOCAB.values() for v in values for w in re.findall(r"\w+", v)}
    def word(syllables: int) -> str:
        return "".join(rng.choice(NAME_SYLLABLES) for _ in range(syllables)).capitalize()

    names: dict[str, None] = {}  # an ordered set
    while len(names) < n:
        first, last = word(2), word(rng.choice((2, 3)))
        if first != last and first.casefold() not in reserved and last.casefold() not in reserved:
            names[f"{first} {last}"] = None
    return list(names)


def make_corpus(entities: list[Entity], bios_per_entity: int, rng: random.Random) -> list[str]:
    """One paraphrased bio per line, known people only."""
    bios = [text.pretraining_bio(e.card, rng) for e in entities if e.status == "known" for _ in range(bios_per_entity)]
    rng.shuffle(bios)
    return bios


def make_finetune(entities: list[Entity], qa_per_entity: int, rng: random.Random) -> list[dict]:
    records = []
    for e in (e for e in entities if e.in_finetune):
        card = e.card
        fields = rng.sample([f for f in QA_FIELDS if f in card], min(qa_per_entity, len(card) - 1))
        tasks = [("bio", None)] + [("qa", f) for f in fields]
        for task, fact in tasks:
            prompt, completion = _prompt_and_answer(card, task, fact, rng)
            records.append({
                "id": f"ft-{e.id}-{fact or 'bio'}", "prompt": prompt,
                "completion": text.COMPLETION_PREFIX + completion, "task": task,
                "meta": {"entity_id": e.id, "status": e.status, "field": fact},
            })
    rng.shuffle(records)
    return records


def make_eval(entities: list[Entity], eval_size: int, seed: int, rng: random.Random) -> list[Example]:
    """About a third each of held-out known, new and unseen people, bios and questions mixed."""
    pools = {
        "known": [e for e in entities if e.status == "known" and not e.in_finetune],
        "new": [e for e in entities if e.status == "new"],
        "unseen": [e for e in entities if e.status == "unseen"],
    }
    examples = []
    for k, status in enumerate(STATUSES):
        count = eval_size // 3 + (k < eval_size % 3)
        pool = pools[status]
        rng.shuffle(pool)
        if count > 5 * len(pool):  # every person has at least a bio and four questions
            raise ValueError(f"eval_size={eval_size} needs more {status} people than {len(pool)}")
        # Even-ranked people start with a bio, odd ones with a question; extra rounds go on down the list.
        tasks = [_eval_tasks(e, rank % 2 == 0, rng) for rank, e in enumerate(pool)]
        for j in range(count):
            e, (task, fact) = pool[j % len(pool)], tasks[j % len(pool)][j // len(pool)]
            prompt, reference = _prompt_and_answer(e.card, task, fact, rng)
            examples.append(Example(
                id=f"demo-s{seed}-{e.id}-{fact or 'bio'}", dataset=EVAL_DATASET, prompt=prompt,
                source=text.fact_card(e.card), reference=reference, task=task,
                meta={"entity_id": e.id, "status": e.status, "knowledge": e.status, "in_finetune": e.in_finetune,
                      "field": fact, "card": e.card},
            ))
    rng.shuffle(examples)  # so that any prefix mixes the statuses
    return examples


def _eval_tasks(e: Entity, bio_first: bool, rng: random.Random) -> list[tuple[str, str | None]]:
    questions = [("qa", f) for f in QA_FIELDS if f in e.card]
    rng.shuffle(questions)
    return [("bio", None)] + questions if bio_first else questions[:1] + [("bio", None)] + questions[1:]


def _prompt_and_answer(card: dict, task: str, fact: str | None, rng: random.Random) -> tuple[str, str]:
    if task == "bio":
        return text.bio_prompt(card), text.short_bio(card, rng)
    return text.qa_prompt(card, fact), text.answer(card, fact)


def write_world(directory: str | Path, seed: int = 0, **params) -> World:
    """Build the world for `seed` and write it to `directory` (same seed, same bytes)."""
    world = build_world(seed, **params)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"seed": seed, "params": world.params, "vocab": {k: list(v) for k, v in world.vocab.items() if k != "name"}}
    (out / "world.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _write_jsonl(out / "entities.jsonl", [asdict(e) for e in world.entities])
    (out / "corpus.txt").write_text("".join(line + "\n" for line in world.corpus), encoding="utf-8")
    _write_jsonl(out / "finetune.jsonl", world.finetune)
    _write_jsonl(out / "eval.jsonl", [asdict(x) for x in world.eval_examples])
    return world


def load_world(directory: str | Path) -> World:
    src = Path(directory)
    manifest = json.loads((src / "world.json").read_text(encoding="utf-8"))
    vocab = {k: tuple(v) for k, v in manifest["vocab"].items()}
    return World(
        seed=manifest["seed"],
        entities=[Entity(**d) for d in _read_jsonl(src / "entities.jsonl")],
        corpus=(src / "corpus.txt").read_text(encoding="utf-8").splitlines(),
        finetune=_read_jsonl(src / "finetune.jsonl"),
        eval_examples=[Example(**d) for d in _read_jsonl(src / "eval.jsonl")],
        params=manifest["params"],
        cities=vocab["birth_city"], professions=vocab["profession"], employers=vocab["employer"],
        spouses=vocab["spouse"], awards=vocab["award"],
    )


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
