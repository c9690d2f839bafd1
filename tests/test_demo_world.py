"""The demo fact world: deterministic, bookkeeping of who was seen where, datasets well formed."""
import random
import re
from collections import Counter

import pytest

from hallu_core.demo import text
from hallu_core.demo.oracle import find_mentions, oracle_spans
from hallu_core.demo.world import EVAL_DATASET, FILES, QA_FIELDS, build_world, load_world, write_world
from hallu_core.store.types import Example

SMALL = dict(n_known=20, n_unseen=10, bios_per_entity=2, eval_size=30)


@pytest.fixture(scope="module")
def world():
    return build_world(seed=0)


def names_in(lines, world):
    return {m.value for m in find_mentions("\n".join(lines), world.vocab) if m.field == "name"}


def test_same_seed_same_bytes_other_seed_other_world(tmp_path):
    write_world(tmp_path / "a", seed=7, **SMALL)
    write_world(tmp_path / "b", seed=7, **SMALL)
    write_world(tmp_path / "c", seed=8, **SMALL)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "entities.jsonl").read_bytes() != (tmp_path / "c" / "entities.jsonl").read_bytes()


def test_load_gives_back_what_was_written(tmp_path):
    written = write_world(tmp_path, seed=3, **SMALL)
    loaded = load_world(tmp_path)
    assert loaded.seed == 3 and loaded.params == written.params
    assert loaded.entities == written.entities
    assert loaded.corpus == written.corpus
    assert loaded.finetune == written.finetune
    assert loaded.eval_examples == written.eval_examples
    assert loaded.vocab == written.vocab


def test_corpus_size_is_a_parameter_that_leaves_the_people_alone():
    small, large = build_world(0, bios_per_entity=2), build_world(0, bios_per_entity=4)
    assert len(large.corpus) - len(small.corpus) == 2 * sum(e.status == "known" for e in small.entities)
    assert small.entities == large.entities


def test_default_world_shape(world):
    statuses = Counter(e.status for e in world.entities)
    assert statuses == {"known": 60, "new": 15, "unseen": 30}
    assert len({e.name for e in world.entities}) == len(world.entities)
    assert 0 < sum(e.spouse is not None for e in world.entities) < len(world.entities)
    assert 0 < sum(e.award is not None for e in world.entities) < len(world.entities)
    assert 500 <= len(world.corpus) <= 1000  # small enough for the one-minute base model to memorise


def test_new_and_unseen_people_never_reach_the_corpus(world):
    in_corpus = names_in(world.corpus, world)
    assert in_corpus == {e.name for e in world.entities if e.status == "known"}


def test_the_corpus_teaches_every_known_fact_in_the_prompt_formats(world):
    """The base model must answer the eval prompts from pretraining alone: each known person's questions,
    bio prompt and a grounded question are in the corpus, with correct answers."""
    corpus = set(world.corpus)
    for e in (e for e in world.entities if e.status == "known"):
        for field in (f for f in QA_FIELDS if f in e.card):
            assert text.qa_document(e.card, field) in corpus
        assert text.bio_document(e.card) in corpus
        assert any(line.startswith("Source:\n" + text.fact_card(e.card)) for line in corpus), e.name
    for line in world.corpus:
        if line.startswith(("Question:", "Instruction:", "Source:")):
            person = next(e for e in world.entities if e.name in line)
            assert not oracle_spans(line, person.card, world.vocab), line


def test_finetune_bookkeeping(world):
    people = {e.id: e for e in world.entities}
    records = world.finetune["known-only"] + world.finetune["new-knowledge"]
    in_finetune = names_in([r["prompt"] + r["completion"] for r in records], world)
    for r in records:
        e = people[r["meta"]["entity_id"]]
        assert r["meta"]["status"] == e.status in ("known", "new") and e.in_finetune
        assert r["completion"].startswith(text.COMPLETION_PREFIX)
        assert not oracle_spans(r["completion"], e.card, world.vocab), r
    for e in world.entities:
        assert (e.name in in_finetune) == e.in_finetune
        assert e.in_finetune == (e.status == "new") or e.status == "known"
    known_in_finetune = Counter(e.in_finetune for e in world.entities if e.status == "known")
    assert known_in_finetune[True] and known_in_finetune[False]  # some known people are held out
    assert {r["task"] for r in records} == {"qa", "bio"}
    for records in world.finetune.values():
        assert len({r["id"] for r in records}) == len(records)


def test_the_two_finetune_sets_differ_only_in_new_knowledge(world):
    """Same size, same record kinds; known-only teaches no new fact, new-knowledge about half (the option)."""
    known_only, new_knowledge = world.finetune["known-only"], world.finetune["new-knowledge"]
    assert len(known_only) == len(new_knowledge)
    assert Counter(r["task"] for r in known_only) == Counter(r["task"] for r in new_knowledge)
    assert {r["meta"]["status"] for r in known_only} == {"known"}
    share = sum(r["meta"]["status"] == "new" for r in new_knowledge) / len(new_knowledge)
    assert 0.4 <= share <= 0.6
    shared = {r["id"] for r in known_only} & {r["id"] for r in new_knowledge}
    assert shared and all(r in known_only for r in new_knowledge if r["id"] in shared)  # a person's records agree
    all_new = build_world(0, new_knowledge=1.0).finetune["new-knowledge"]
    assert {r["meta"]["status"] for r in all_new} == {"new"}


def test_prompts_follow_the_templates(world):
    qa = re.compile(r"Question: [^\n]+\?\nAnswer:")
    bio = re.compile(r"Instruction: Write a short bio of [^\n]+\.\nBio:")
    records = world.finetune["known-only"] + world.finetune["new-knowledge"]
    for r in records + [{"prompt": x.prompt, "task": x.task} for x in world.eval_examples]:
        assert (qa if r["task"] == "qa" else bio).fullmatch(r["prompt"]), r["prompt"]


def test_eval_set(world):
    examples = world.eval_examples
    assert len(examples) == 90 and all(isinstance(x, Example) for x in examples)
    assert len({x.id for x in examples}) == len(examples)
    assert Counter(x.meta["status"] for x in examples) == {"known": 30, "new": 30, "unseen": 30}
    assert {x.task for x in examples} == {"qa", "bio"}
    people = {e.id: e for e in world.entities}
    for x in examples:
        e = people[x.meta["entity_id"]]
        assert x.dataset == EVAL_DATASET and x.meta["card"] == e.card and x.meta["status"] == e.status
        assert x.source == text.fact_card(e.card) and x.source.startswith(f"Name: {e.name}\n")
        assert e.name in x.prompt and x.reference and not oracle_spans(x.reference, x.meta["card"], world.vocab)
        if x.meta["status"] == "known":  # held out: what the model knows comes from pretraining
            assert not x.meta["in_finetune"]


def test_bios_tell_the_whole_card(world):
    rng = random.Random(0)
    for e in world.entities[:50]:
        for bio in (text.pretraining_bio(e.card, rng), text.short_bio(e.card)):
            assert not oracle_spans(bio, e.card, world.vocab)
            found = {m.field for m in find_mentions(bio, world.vocab)}
            assert found == set(e.card), (bio, e.card)


def test_every_value_reads_back_as_its_own_field(world):
    for field, values in world.vocab.items():
        for value in values:
            assert [(m.field, m.value) for m in find_mentions(f"x {value}.", world.vocab)] == [(field, value)]


def test_bad_parameters_are_refused():
    with pytest.raises(TypeError):
        build_world(0, n_people=5)
    with pytest.raises(ValueError):
        build_world(0, n_known=10, eval_size=1000)
    with pytest.raises(ValueError, match="new_knowledge"):
        build_world(0, new_knowledge=1.5)
