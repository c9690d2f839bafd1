"""generate.py / generate_backends.py: batching, decoding strategies, logprobs, offsets, skip on rerun."""
from __future__ import annotations

import math
import os

# spin-waiting OpenMP threads starve each other on a shared 2-core box (2-3x slower)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from hallu_core.modeling.config import ConfigError, DecodingConfig  # noqa: E402
from hallu_core.data import prompts  # noqa: E402
from hallu_core.demo.base_model import make_tiny_model, train_tokenizer, TINY_CORPUS  # noqa: E402
from hallu_core.modeling.generate import generate_for_checkpoints, generate_texts  # noqa: E402
from hallu_core.modeling.generate_backends import HFBackend, token_offsets  # noqa: E402
from hallu_core.store.database import Store  # noqa: E402
from hallu_core.store.types import Checkpoint, Example, Run, generation_id  # noqa: E402

PROMPTS = ["Ada Lindqvist was born in", "Question: In which city was Bo Varesh born?\nAnswer:", "Café", "Bo"]
GREEDY = DecodingConfig(strategy="greedy", max_new_tokens=12)
SAMPLE = DecodingConfig(strategy="sample", temperature=1.0, top_p=0.9, top_k=20, num_samples=3, max_new_tokens=10, seed=3)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("gen") / "model", pretrain_steps=20)


@pytest.fixture(scope="module")
def backend(tiny_dir):
    return HFBackend.load(tiny_dir)


def _check_output(out):
    assert out.tokens or out.text == ""
    if out.tokens:  # token spans tile the text exactly, in order
        assert out.tokens[0].start == 0 and out.tokens[-1].end == len(out.text)
        for a, b in zip(out.tokens, out.tokens[1:]):
            assert a.end == b.start
    assert "".join(out.text[t.start:t.end] for t in out.tokens) == out.text
    for t in out.tokens:
        assert math.isfinite(t.logprob) and t.logprob <= 0
        assert math.isfinite(t.entropy) and t.entropy >= 0


def test_token_offsets_tile_unicode_text_exactly():
    tokenizer = train_tokenizer(TINY_CORPUS * 3, vocab_size=280)
    for text in ["Café in Zürich", "東京 🙂 emoji", "plain ascii text.", ""]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        decoded, offsets = token_offsets(tokenizer, ids)
        assert decoded == text
        assert "".join(decoded[s:e] for s, e in offsets) == text
        assert all(s <= e for s, e in offsets)


def test_greedy_outputs_have_finite_logprobs_aligned_to_characters(backend):
    outputs = backend.generate(PROMPTS, GREEDY)
    assert [len(o) for o in outputs] == [1] * len(PROMPTS)
    for (out,) in outputs:
        _check_output(out)
        assert len(out.tokens) <= GREEDY.max_new_tokens


def test_batched_generation_equals_one_prompt_at_a_time(backend):
    batched = [o[0] for o in backend.generate(PROMPTS, GREEDY)]
    single = [backend.generate([p], GREEDY)[0][0] for p in PROMPTS]
    assert [o.text for o in batched] == [o.text for o in single]  # left padding changes nothing
    for a, b in zip(batched, single):
        assert [t.logprob for t in a.tokens] == pytest.approx([t.logprob for t in b.tokens], abs=1e-4)


def test_logprob_is_the_models_own_next_token_distribution(backend):
    (out,), = backend.generate(PROMPTS[:1], GREEDY)
    tokenizer, model = backend.loaded.tokenizer, backend.loaded.model
    ids = tokenizer(PROMPTS[0], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, -1].float(), -1)
    assert out.tokens[0].logprob == pytest.approx(logp.max().item(), abs=1e-4)  # greedy took the argmax
    assert out.tokens[0].entropy == pytest.approx(-(logp.exp() * logp).sum().item(), abs=1e-4)


def test_sampling_gives_n_samples_reproducibly(backend):
    first = backend.generate(PROMPTS, SAMPLE, seed=7)
    again = backend.generate(PROMPTS, SAMPLE, seed=7)
    assert [len(o) for o in first] == [3] * len(PROMPTS)
    assert [[s.text for s in o] for o in first] == [[s.text for s in o] for o in again]
    for samples in first:
        for out in samples:
            _check_output(out)


def test_beam_search_returns_the_top_beams(backend):
    beam = DecodingConfig(strategy="beam", num_beams=3, num_samples=2, max_new_tokens=8)
    outputs = backend.generate(PROMPTS[:2], beam)
    assert [len(o) for o in outputs] == [2, 2]
    for samples in outputs:
        for out in samples:
            _check_output(out)


def test_generation_stops_at_eos(tiny_dir):
    backend = HFBackend.load(tiny_dir)
    (out,), = backend.generate(PROMPTS[:1], GREEDY)
    first_id = backend.loaded.tokenizer(out.text[out.tokens[0].start:out.tokens[0].end],
                                        add_special_tokens=False)["input_ids"][0]
    backend.loaded.model.generation_config.eos_token_id = first_id  # the token it picks first now ends it
    (stopped,), = backend.generate(PROMPTS[:1], GREEDY)
    assert stopped.text == "" and stopped.tokens == [] and stopped.meta["finished"]


def test_generate_texts_batches_and_reports_progress(backend):
    seen = []
    outputs = generate_texts(backend, PROMPTS, GREEDY, batch_size=3, progress=lambda d, t, m: seen.append((d, t)))
    assert len(outputs) == len(PROMPTS) and seen == [(3, 4), (4, 4)]


def _workspace(tmp_path, tiny_dir):
    store = Store(tmp_path / "ws")
    store.add_examples([Example(f"ex{i}", "eval", p) for i, p in enumerate(PROMPTS)])
    store.add_run(Run("run1", "tiny", str(tiny_dir)))
    store.add_checkpoint(Checkpoint("ck0", "run1", 0, "base", str(tiny_dir)))
    return store


def test_rerun_skips_existing_generations(tmp_path, tiny_dir):
    store = _workspace(tmp_path, tiny_dir)
    first = generate_for_checkpoints(store, ["ck0"], dataset="eval", decodings=[GREEDY, SAMPLE], batch_size=2)
    assert {k: first[k] for k in ("generated", "skipped", "checkpoints")} == {"generated": 4 * (1 + 3), "skipped": 0, "checkpoints": 1}
    assert 0 <= first["empty"] <= first["generated"]
    stored = store.generations(checkpoint_id="ck0")
    assert {g.id for g in stored} == {generation_id(f"ex{i}", "ck0", d.hash_dict(), k)
                                      for i in range(4) for d in (GREEDY, SAMPLE) for k in range(d.num_samples)}
    g = next(g for g in stored if g.decoding_name == "greedy")
    assert g.tokens and g.meta["logprob_basis"] == "model"
    again = generate_for_checkpoints(store, ["ck0"], dataset="eval", decodings=[GREEDY, SAMPLE])
    assert again == {"generated": 0, "skipped": 16, "checkpoints": 1, "empty": 0}
    more = DecodingConfig(strategy="greedy", max_new_tokens=4)  # a new decoding only adds its own
    assert generate_for_checkpoints(store, ["ck0"], example_ids=["ex0"], decodings=[GREEDY, more])["generated"] == 1


class _Stop(Exception):
    pass


def test_resumed_generation_draws_the_samples_an_uninterrupted_run_draws(tmp_path, tiny_dir):
    whole = _workspace(tmp_path / "whole", tiny_dir)
    generate_for_checkpoints(whole, ["ck0"], dataset="eval", decodings=[SAMPLE], batch_size=2)
    resumed = _workspace(tmp_path / "resumed", tiny_dir)

    def stop_after_the_first_batch(done, total, message=""):
        if done >= 2:
            raise _Stop

    with pytest.raises(_Stop):
        generate_for_checkpoints(resumed, ["ck0"], dataset="eval", decodings=[SAMPLE], batch_size=2,
                                 progress=stop_after_the_first_batch)
    assert resumed.counts()["generations"] == 2 * SAMPLE.num_samples
    assert generate_for_checkpoints(resumed, ["ck0"], dataset="eval", decodings=[SAMPLE],
                                    batch_size=2)["generated"] == 2 * SAMPLE.num_samples
    texts = {g.id: g.text for g in whole.generations()}
    assert len(set(texts.values())) > 4  # real draws, not one repeated text
    assert {g.id: g.text for g in resumed.generations()} == texts


def test_checkpoint_without_weights_is_refused(tmp_path, tiny_dir):
    store = _workspace(tmp_path, tiny_dir)
    store.add_checkpoint(Checkpoint("imported", "run1", 1, "gpt-4", None))
    with pytest.raises(ValueError, match="no weights"):
        generate_for_checkpoints(store, ["imported"], dataset="eval")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_generation_on_cuda_bf16(tiny_dir):
    backend = HFBackend.load(tiny_dir)
    assert backend.loaded.device.type == "cuda"
    assert next(backend.loaded.model.parameters()).dtype == torch.bfloat16
    for samples in backend.generate(PROMPTS, SAMPLE, seed=1):
        for out in samples:
            _check_output(out)


# -- prompt templates (issue 12: grounded vs closed-book is a generation option) -----------
def _with_sources(tmp_path, tiny_dir):
    store = _workspace(tmp_path, tiny_dir)
    store.add_examples([Example(f"ex{i}", "eval", p, source=f"Name: Person {i}\nBorn: 19{i}0 in Varesh")
                        for i, p in enumerate(PROMPTS)])  # same ids: the sources replace the bare examples
    return store


def test_a_closed_book_id_is_the_id_generations_always_had():
    # the shipped sample_data/workspace stores this generation under this id (computed before templates existed)
    decoding = DecodingConfig(strategy="greedy", max_new_tokens=40).hash_dict()
    identity = prompts.identity(decoding, prompts.CLOSED_BOOK)
    assert generation_id("demo-s0-p0079-employer", "31ae5eabc0630931", identity, 0) == "bb2dffbd98af1aaf"
    assert prompts.identity(decoding, "{prompt}") == decoding  # closed-book written out is closed-book
    assert prompts.identity(decoding, prompts.GROUNDED) != decoding


def test_grounded_and_closed_book_outputs_of_one_checkpoint_never_overwrite_each_other(tmp_path, tiny_dir):
    store = _with_sources(tmp_path, tiny_dir)
    closed = generate_for_checkpoints(store, ["ck0"], dataset="eval", decodings=[GREEDY])
    grounded = generate_for_checkpoints(store, ["ck0"], dataset="eval", decodings=[GREEDY],
                                        prompt_template=prompts.GROUNDED)
    custom = generate_for_checkpoints(store, ["ck0"], dataset="eval", decodings=[GREEDY],
                                      prompt_template="Known: {source}\n{prompt}")
    assert closed["generated"] == grounded["generated"] == custom["generated"] == 4
    by_label = {}
    for g in store.generations(checkpoint_id="ck0"):
        by_label.setdefault(g.decoding_name, []).append(g)
    custom_name = prompts.name_of("Known: {source}\n{prompt}")
    assert sorted(by_label) == sorted(["greedy", "greedy · grounded", f"greedy · {custom_name}"])
    assert {g.id for g in by_label["greedy"]} == {generation_id(f"ex{i}", "ck0", GREEDY.hash_dict(), 0)
                                                  for i in range(4)}
    assert all("prompt_template" not in g.meta for g in by_label["greedy"])  # stored exactly as before
    assert {g.meta["prompt_template"] for g in by_label["greedy · grounded"]} == {"grounded"}
    texts = {g.meta["prompt_template_text"] for g in by_label[f"greedy · {custom_name}"]}
    assert texts == {"Known: {source}\n{prompt}"}
    again = generate_for_checkpoints(store, ["ck0"], dataset="eval", decodings=[GREEDY],
                                     prompt_template=prompts.GROUNDED)
    assert again == {"generated": 0, "skipped": 4, "checkpoints": 1, "empty": 0}
    assert store.counts()["generations"] == 12


def test_the_grounded_prompt_carries_the_example_source(tmp_path, tiny_dir, monkeypatch):
    import hallu_core.modeling.generate as gen

    store = _with_sources(tmp_path, tiny_dir)
    given = []
    real = gen.load_backend

    def recording(*args, **kwargs):  # the real model; only the prompts it is given are written down
        model = real(*args, **kwargs)
        generate = model.generate
        model.generate = lambda texts, *a, **k: given.extend(texts) or generate(texts, *a, **k)
        return model

    monkeypatch.setattr(gen, "load_backend", recording)
    generate_for_checkpoints(store, ["ck0"], example_ids=["ex1"], decodings=[GREEDY], prompt_template="grounded")
    assert given == [f"Source:\nName: Person 1\nBorn: 1910 in Varesh\n\n{PROMPTS[1]}"]
    given.clear()
    generate_for_checkpoints(store, ["ck0"], example_ids=["ex1"], decodings=[GREEDY])
    assert given == [PROMPTS[1]]  # closed-book: the prompt as is


@pytest.mark.parametrize("template, named", [
    ("{prompt} {sorce}", "{sorce}"), ("{}{prompt}", "{}"), ("{prompt!r}", "{prompt!r}"),
    ("grounded-ish", "no such template"), ("{source} only", "must contain {prompt}"), ("{prompt", "not a valid"),
])
def test_a_bad_template_is_refused_naming_field_and_value(template, named):
    from hallu_core.modeling.config import ConfigError, GenerateConfig

    with pytest.raises(ConfigError) as err:
        GenerateConfig(checkpoints=("ck0",), prompt_template=template)
    assert str(err.value).startswith(f"prompt_template = {template!r}: ") and named in str(err.value)


def test_grounding_examples_without_a_source_is_refused_before_any_model_loads(tmp_path, tiny_dir, monkeypatch):
    import hallu_core.modeling.generate as gen
    from hallu_core.modeling.config import ConfigError

    store = _workspace(tmp_path, tiny_dir)  # examples with no source
    monkeypatch.setattr(gen, "load_backend", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(ConfigError, match=r"'grounded' puts each example's source .* 4 example\(s\) have none"):
        generate_for_checkpoints(store, ["ck0"], dataset="eval", prompt_template="grounded")
    assert store.counts()["generations"] == 0


def test_the_template_survives_a_jobs_json_trip_and_old_configs_stay_closed_book():
    import json

    from hallu_core.modeling.config import GenerateConfig

    grounded = GenerateConfig(checkpoints=("ck0",), prompt_template="Facts: {source}\n{prompt}")
    assert GenerateConfig.from_dict(json.loads(json.dumps(grounded.to_dict()))) == grounded
    before_templates = {k: v for k, v in GenerateConfig(checkpoints=("ck0",)).to_dict().items() if k != "prompt_template"}
    assert GenerateConfig.from_dict(before_templates).prompt_template == prompts.CLOSED_BOOK


def test_a_prompt_past_the_models_positions_is_refused_with_its_sizes(backend):
    """GPT-2-style models (96 positions here) fail inside HF with an IndexError; Hallu says what is too long."""
    long_prompt = " ".join(["Ada Lindqvist was born in Lindor."] * 40)
    with pytest.raises(ConfigError, match=r"exceeds this model's 96 positions \(n_positions\)"):
        backend.generate([long_prompt, PROMPTS[0]], GREEDY)
    assert backend.generate(PROMPTS[:1], GREEDY)[0][0].text is not None  # short prompts still generate


def test_runs_of_one_base_model_share_its_greedy_answers_but_not_its_samples(tmp_path, tiny_dir, monkeypatch):
    """Every run of a base model has it as step 0: greedy answers are computed once (one model load) and stored
    for each run's checkpoint; sampled answers stay each checkpoint's own draws."""
    from hallu_core.modeling import generate as generate_module

    store = _workspace(tmp_path, tiny_dir)
    store.add_run(Run("run2", "tiny-again", str(tiny_dir)))
    store.add_checkpoint(Checkpoint("ck0b", "run2", 0, "base", str(tiny_dir)))
    loads = []
    real_load = generate_module.load_backend
    monkeypatch.setattr(generate_module, "load_backend", lambda *a: loads.append(a) or real_load(*a))
    summary = generate_for_checkpoints(store, ["ck0", "ck0b"], dataset="eval", decodings=[GREEDY], batch_size=3,
                                       prompt_template=(prompts.CLOSED_BOOK, "Q: {prompt}"))
    assert summary["generated"] == 2 * 2 * len(PROMPTS) and len(loads) == 1
    first, second = ({(g.example_id, g.decoding_name): g.text for g in store.generations(checkpoint_id=c)}
                     for c in ("ck0", "ck0b"))
    assert first == second and len(first) == 2 * len(PROMPTS)
    generate_for_checkpoints(store, ["ck0", "ck0b"], dataset="eval", decodings=[SAMPLE], batch_size=3)
    assert len(loads) == 3  # sampling loads each checkpoint: its draws are seeded by the checkpoint


def test_rows_finishing_early_in_an_unpadded_batch_equal_their_lone_outputs_without_a_padding_warning(tiny_dir):
    """Prompts of one length: `generate` drops the all-ones mask and feeds a finished row pads unmasked (issue 22)."""
    import logging

    from transformers.utils import logging as hf_logging

    backend = HFBackend.load(tiny_dir)  # its own: the EOS is changed below
    tokenizer, first_step = backend.loaded.tokenizer, DecodingConfig(strategy="greedy", max_new_tokens=1)
    words = dict.fromkeys(w for line in TINY_CORPUS for w in line.split())
    pairs = {}  # token length -> a prompt and its first greedy token
    for word in words:
        length = len(tokenizer(word)["input_ids"])
        (out,), = backend.generate([word], first_step)
        first = tokenizer(out.text, add_special_tokens=False)["input_ids"][:1]
        if length in pairs and first and first != pairs[length][1]:
            (early, eos), late = pairs[length], word
            break
        pairs.setdefault(length, (word, first))
    backend.loaded.model.generation_config.eos_token_id = eos[0]  # `early` ends at its first token, `late` goes on
    alone = [backend.generate([p], GREEDY)[0][0] for p in (early, late)]
    assert alone[0].text == "" and alone[1].tokens

    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    hf_logging.warning_once.cache_clear()  # the warning is once per process: another test may have had it
    logging.getLogger("transformers").addHandler(handler)
    try:
        batched = [o[0] for o in backend.generate([early, late], GREEDY)]
    finally:
        logging.getLogger("transformers").removeHandler(handler)
    assert [o.text for o in batched] == [o.text for o in alone]
    for a, b in zip(batched, alone):
        assert [t.logprob for t in a.tokens] == pytest.approx([t.logprob for t in b.tokens], abs=1e-4)
    assert not [m for m in seen if "attention_mask" in m]
