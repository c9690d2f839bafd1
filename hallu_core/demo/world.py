"""A seeded world of fictional people and the datasets the demo derives from it.

Every person has a status:
- `known`: described in the pretraining corpus (free-form bios, questions with answers, a bio
  prompt with its answer), so the base model knows them. Some are in the fine-tuning pool
  (`in_finetune`); the rest are held out, so the evaluation measures what fine-tuning does to
  facts learnt in pretraining.
- `new`: only in the new-knowledge fine-tuning set: knowledge that fine-tuning teaches.
- `unseen`: in no training data; they reach the evaluation set only via their card.

Two fine-tuning sets differ only in how much new knowledge they teach (Gekhman et al., 2024,
"Does Fine-Tuning LLMs on New Knowledge Encourage Hallucinations?"): `known-only` holds the
pool's known people; `new-knowledge` swaps a share (`new_knowledge`) of them for new people,
same size, same record kinds. Each record says which kind it is in `meta["status"]`.

Everything is drawn from `random.Random` seeded with strings (stable across runs and
PYTHONHASHSEED), one stream per stage or person, so resizing the corpus leaves the people
and their records as they are.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hallu_core.demo import text
from hallu_core.demo.vocab import (
    AWARDS, BIRTH_YEARS, CITIES, EMPLOYERS, FIELD_VOCAB, NAME_SYLLABLES, PROFESSIONS, SPOUSES,
)
from hallu_core.store.types import Example

STATUSES = ("known", "new", "unseen")
FINETUNE_SETS = ("known-only", "new-knowledge")
CARD_FIELDS = text.CARD_FIELDS
QA_FIELDS = CARD_FIELDS[1:]
EVAL_DATASET = "demo-eval"
FILES = ("world.json", "entities.jsonl", "corpus.jsonl", *(f"finetune-{name}.jsonl" for name in FINETUNE_SETS),
         "eval.jsonl")

DEFAULT_PARAMS = dict(
    n_known=60,  # people the pretraining corpus describes: what the base model must memorise
    known_finetune_fraction=0.5,  # of the known people, the fine-tuning pool; the rest are evaluated
    new_knowledge=0.5,  # share of the new-knowledge set's people the base model never saw
    n_unseen=30,
    bios_per_entity=3,  # free-form bios per known person: the knob for pretraining time
    qa_per_entity=2,  # fine-tuning records per person: one bio plus this many questions
    eval_size=90,
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
    finetune: dict[str, list[dict]]  # set name -> records {"id", "prompt", "completion", "task", "meta"}
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
        finetune=make_finetune(entities, p["qa_per_entity"], seed),
        eval_examples=make_eval(entities, p["eval_size"], seed, stream("eval")),
        params=p,
    )


def make_entities(rng: random.Random, p: dict) -> list[Entity]:
    n_known = int(p["n_known"])
    n_pool = round(n_known * p["known_finetune_fraction"])
    n_new = round(n_pool * p["new_knowledge"])
    if not (0 < n_pool < n_known and 0 <= p["new_knowledge"] <= 1):
        raise ValueError("known_finetune_fraction must leave known people on both sides (fine-tuning pool and "
                         "held out), and new_knowledge must lie in [0, 1]")
    n = n_known + n_new + int(p["n_unseen"])
    people = [
        dict(
            id=f"p{i:04d}", name=name, birth_city=rng.choice(CITIES),
            birth_year=rng.choice(BIRTH_YEARS), profession=rng.choice(PROFESSIONS),
            employer=rng.choice(EMPLOYERS),
            spouse=rng.choice(SPOUSES) if rng.random() < p["spouse_rate"] else None,
            award=rng.choice(AWARDS) if rng.random() < p["award_rate"] else None,
        )
        for i, name in enumerate(_unique_names(rng, n))
    ]
    order = list(range(n))
    rng.shuffle(order)
    for rank, index in enumerate(order):
        status = "known" if rank < n_known else "new" if rank < n_known + n_new else "unseen"
        people[index].update(status=status, in_finetune=rank < n_pool or status == "new")
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
    """Known people only: free-form bios, every question with its answer, the bio prompt with its answer, and
    one question asked beside the person's fact card (the grounded template's layout).

    The prompt formats are in the corpus (as instruction data is in a real LM's), so the base model
    answers them; without them it rambles and the fine-tune's first steps only teach the format.
    """
    docs = []
    for e in (e for e in entities if e.status == "known"):
        card = e.card
        docs += [text.pretraining_bio(card, rng) for _ in range(bios_per_entity)]
        docs += [text.qa_document(card, f) for f in QA_FIELDS if f in card]
        docs += [text.bio_document(card)] * 2  # the longest answer, in one wording: seen twice
        docs.append(text.grounded_document(card, rng.choice([f for f in QA_FIELDS if f in card])))
    rng.shuffle(docs)
    return docs


def make_finetune(entities: list[Entity], qa_per_entity: int, seed: int) -> dict[str, list[dict]]:
    """The two fine-tuning sets: the pool's known people, and the same size with new people swapped in."""
    pool = [e for e in entities if e.status == "known" and e.in_finetune]
    new = [e for e in entities if e.status == "new"]
    sets = {"known-only": pool, "new-knowledge": pool[: len(pool) - len(new)] + new}
    out = {}
    for name, people in sets.items():
        records = [r for e in people for r in _finetune_records(e, qa_per_entity, seed)]
        random.Random(f"hallu-demo:{seed}:finetune:{name}").shuffle(records)
        out[name] = records
    return out


def _finetune_records(e: Entity, qa_per_entity: int, seed: int) -> list[dict]:
    """A person's records, the same in every set that holds them (their own random stream)."""
    rng = random.Random(f"hallu-demo:{seed}:finetune:{e.id}")
    card = e.card
    fields = rng.sample([f for f in QA_FIELDS if f in card], min(qa_per_entity, len(card) - 1))
    return [{"id": f"ft-{e.id}-{fact or 'bio'}", "prompt": prompt, "completion": text.COMPLETION_PREFIX + completion,
             "task": task, "meta": {"entity_id": e.id, "status": e.status, "field": fact}}
            for task, fact in [("bio", None)] + [("qa", f) for f in fields]
            for prompt, completion in [_prompt_and_answer(card, task, fact)]]


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
            prompt, reference = _prompt_and_answer(e.card, task, fact)
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


def _prompt_and_answer(card: dict, task: str, fact: str | None) -> tuple[str, str]:
    if task == "bio":
        return text.bio_prompt(card), text.short_bio(card)
    return text.qa_prompt(card, fact), text.answer(card, fact)


def write_world(directory: str | Path, seed: int = 0, **params) -> World:
    """Build the world for `seed` and write it to `directory` (same seed, same bytes)."""
    world = build_world(seed, **params)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"seed": seed, "params": world.params, "vocab": {k: list(v) for k, v in world.vocab.items() if k != "name"}}
    (out / "world.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _write_jsonl(out / "entities.jsonl", [asdict(e) for e in world.entities])
    _write_jsonl(out / "corpus.jsonl", world.corpus)  # one JSON string per line: documents hold newlines
    for name, records in world.finetune.items():
        _write_jsonl(out / f"finetune-{name}.jsonl", records)
    _write_jsonl(out / "eval.jsonl", [asdict(x) for x in world.eval_examples])
    return world


def load_world(directory: str | Path) -> World:
    src = Path(directory)
    manifest = json.loads((src / "world.json").read_text(encoding="utf-8"))
    vocab = {k: tuple(v) for k, v in manifest["vocab"].items()}
    return World(
        seed=manifest["seed"],
        entities=[Entity(**d) for d in _read_jsonl(src / "entities.jsonl")],
        corpus=_read_jsonl(src / "corpus.jsonl"),
        finetune={name: _read_jsonl(src / f"finetune-{name}.jsonl") for name in FINETUNE_SETS},
        eval_examples=[Example(**d) for d in _read_jsonl(src / "eval.jsonl")],
        params=manifest["params"],
        cities=vocab["birth_city"], professions=vocab["profession"], employers=vocab["employer"],
        spouses=vocab["spouse"], awards=vocab["award"],
    )


def _write_jsonl(path: Path, rows: list) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _read_jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
