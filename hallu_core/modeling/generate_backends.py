"""Generation backends: HF transformers (always) and vLLM (when it imports).

A backend turns prompts + one DecodingConfig into, per prompt, `num_samples` outputs,
each with its text and per-token character offsets, logprob and entropy.

Which distribution the confidence numbers come from: **the model's own next-token
distribution** (softmax of the raw logits, temperature 1, before any temperature /
top-p / top-k processing), for the token that was actually emitted. That makes one
checkpoint's greedy and sampled outputs comparable on one scale, which the
token-confidence detector needs; a warped distribution would change meaning with every
decoding setting (and top-p makes most entropies tiny). Logprobs are in nats, <= 0;
entropy is in nats, >= 0. The HF backend takes them from the raw logits `generate` returns for
each step of greedy and sampled outputs (no second pass); beam search, whose beam scores are not
per-token log-probabilities, re-scores each output with one teacher-forced forward pass.
"""
from __future__ import annotations

import contextlib
import inspect
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import GenerationConfig

from hallu_core.modeling.chat import ChatFormat
from hallu_core.modeling.config import ConfigError, DecodingConfig
from hallu_core.modeling.models import LoadedModel, adapter_base, is_adapter, load_for_generation
from hallu_core.store.types import Token

log = logging.getLogger(__name__)
SCORE_ROWS = 8  # rows re-scored per forward: bounds the (rows x length x vocab) logits in memory


@dataclass(frozen=True)
class Output:
    text: str
    tokens: list[Token]
    meta: dict = field(default_factory=dict)


def token_offsets(tokenizer, ids: list[int]) -> tuple[str, list[tuple[int, int]]]:
    """The decoded text and each token's exact [start, end) in it; together they tile the text.

    A token's characters are what decoding it after its predecessors adds to the text, which is
    right for any tokenizer (byte-level BPE, sentencepiece). A token that ends inside a multi-byte
    character decodes to U+FFFD: it gets an empty span and the characters go to the token that
    completes them. Linear time: each token decodes a short window starting at the last tokens that
    added characters (as streaming detokenizers do; that context keeps a sentencepiece word's leading
    space), not the whole prefix. Should those pieces not add up to the text (a decoder that needs more
    context), the offsets come from decoding growing prefixes instead (quadratic, always right).
    """
    def decode(part):
        return tokenizer.decode(part, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def window_ends() -> list[int] | None:
        ends, pieces, position = [], [], 0
        context, pending = 0, 0  # the window's first token; the first token whose characters are not out yet
        for i in range(len(ids)):
            before = decode(ids[context:pending]) if pending > context else ""
            window = decode(ids[context:i + 1])
            piece = window[len(before):]
            # U+FFFD at the end: a character still incomplete, unless the text holds it there (invalid bytes)
            if len(window) > len(before) and window.startswith(before) and (
                    not piece.endswith("\ufffd") or text.startswith(piece, position)):
                pieces.append(piece)
                position += len(piece)
                context, pending = pending, i + 1
            ends.append(position)
        return ends if "".join(pieces) == text[:position] else None

    def prefix_ends() -> list[int]:
        ends, previous = [], 0
        for i in range(len(ids)):
            prefix = decode(ids[: i + 1])
            end = len(prefix) if len(prefix) >= previous and text.startswith(prefix) else previous
            ends.append(end)
            previous = end
        return ends

    text = decode(ids)
    ends = window_ends()
    if ends is None:
        log.debug("token offsets: window decoding does not tile the text; decoding prefixes")
        ends = prefix_ends()
    if ends:
        ends[-1] = len(text)
    starts = [0] + ends[:-1]
    return text, list(zip(starts, ends))


PADDING_WARNING = "We strongly recommend passing in an `attention_mask`"


@contextlib.contextmanager
def _finished_rows_unmasked():
    """Keep transformers' "passing in an `attention_mask`" warning out of the log during an unpadded batch's generate.

    A false alarm there: with no padding in the prompts, `generate` drops the all-ones mask it was given, and a
    row that reached EOS is fed the pad token at every later step, which the model sees unmasked. Those tokens
    follow the row's EOS, where its output is cut, and rows never attend to each other: no output changes
    (tests/test_generate.py compares such a batch with each prompt alone). A padded batch keeps its mask and is
    not filtered (though transformers warns once per process: once filtered here, the message stays silent)."""
    logger = logging.getLogger("transformers.modeling_utils")
    quiet = lambda record: not record.getMessage().startswith(PADDING_WARNING)  # noqa: E731
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


class HFBackend:
    name = "hf"

    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self.chat: ChatFormat | None = None  # set by the caller: prompts then go through the chat template
        model = loaded.model
        forward = model.get_base_model().forward if hasattr(model, "get_base_model") else model.forward
        self._takes_positions = "position_ids" in inspect.signature(forward).parameters

    @classmethod
    def load(cls, location: str | Path, base_model: str | None = None) -> "HFBackend":
        return cls(load_for_generation(location, base_model=base_model))

    def generation_config(self, decoding: DecodingConfig) -> GenerationConfig:
        # a fresh config: sampling defaults a model ships (Qwen's temperature 0.7, ...) must not leak in
        tokenizer, shipped = self.loaded.tokenizer, self.loaded.model.generation_config
        eos = shipped.eos_token_id if shipped is not None and shipped.eos_token_id is not None else tokenizer.eos_token_id
        if self.chat is not None:  # a chat answer ends at the template's end-of-turn token
            eos = list(dict.fromkeys((eos if isinstance(eos, list) else [eos]) + self.chat.end_of_turn_ids()))
        common = dict(max_new_tokens=decoding.max_new_tokens, num_return_sequences=decoding.num_samples,
                      eos_token_id=eos, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id)
        if decoding.strategy == "sample":
            return GenerationConfig(do_sample=True, temperature=decoding.temperature, top_p=decoding.top_p,
                                    top_k=decoding.top_k, num_beams=1, **common)
        if decoding.strategy == "beam":
            return GenerationConfig(do_sample=False, num_beams=decoding.num_beams, early_stopping=True, **common)
        return GenerationConfig(do_sample=False, num_beams=1, **common)

    def _check_length(self, prompt_tokens: int, max_new_tokens: int) -> None:
        """Learned absolute positions (GPT-2's `n_positions`) end hard: past them HF fails with an IndexError."""
        limit = getattr(self.loaded.model.config, "n_positions", None)
        if isinstance(limit, int) and prompt_tokens + max_new_tokens > limit:
            raise ConfigError(
                f"a prompt of {prompt_tokens} tokens + max_new_tokens {max_new_tokens} = "
                f"{prompt_tokens + max_new_tokens} exceeds this model's {limit} positions (n_positions): use a shorter "
                "prompt template or source, or a lower max_new_tokens")

    def _eos_ids(self, config: GenerationConfig) -> set[int]:
        eos = config.eos_token_id
        return set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}

    @torch.inference_mode()
    def generate(self, prompts: list[str], decoding: DecodingConfig, seed: int = 0,
                 score: bool = True) -> list[list[Output]]:
        """`score=False` skips the re-scoring pass (tokens then carry no logprob or entropy): for answers that
        are read, not stored (the real-model demo's probe)."""
        model, tokenizer = self.loaded.model, self.loaded.tokenizer
        seen = [self.chat.prompt(p) for p in prompts] if self.chat else prompts
        # a chat text already holds its special tokens (BOS included) as text
        encoded = tokenizer(seen, return_tensors="pt", padding=True,
                            add_special_tokens=self.chat is None).to(self.loaded.device)
        self._check_length(encoded["input_ids"].shape[1], decoding.max_new_tokens)
        config = self.generation_config(decoding)
        # greedy and sampling return the raw logits of each step (before temperature & co.): no second pass
        from_steps = score and decoding.strategy != "beam"
        if from_steps:
            config.output_logits, config.return_dict_in_generate = True, True
        unpadded = bool(encoded["attention_mask"].all())
        with (torch.random.fork_rng(devices=[self.loaded.device] if self.loaded.device.type == "cuda" else []),
              _finished_rows_unmasked() if unpadded else contextlib.nullcontext()):
            torch.manual_seed(seed)  # sampling reproducible for the same batch, global RNG untouched
            generated = model.generate(**encoded, generation_config=config)
        sequences = generated.sequences if from_steps else generated
        prompt_len = encoded["input_ids"].shape[1]
        n = decoding.num_samples
        eos_ids = self._eos_ids(config)
        kept, finished = [], []
        for row in sequences[:, prompt_len:].tolist():  # cut at the first EOS (pads follow it)
            stop = next((i for i, t in enumerate(row) if t in eos_ids), None)
            kept.append(row if stop is None else row[:stop])
            finished.append(stop is not None)
        prompt_mask = encoded["attention_mask"].repeat_interleave(n, dim=0)
        if not score:
            scores = [([], []) for _ in kept]
        elif from_steps:
            scores = self._step_scores(generated.logits, sequences[:, prompt_len:], kept)
        else:
            scores = self._score(sequences, prompt_mask, kept)
        outputs = []
        for ids, done, (logprobs, entropies) in zip(kept, finished, scores):
            text, offsets = token_offsets(tokenizer, ids)
            tokens = [Token(s, e, lp, ent) for (s, e), lp, ent in zip(offsets, logprobs, entropies)]
            outputs.append(Output(text, tokens, {"finished": done, "n_tokens": len(ids)}))
        if self.chat:  # Inspect shows the prompt exactly as the model saw it
            outputs = [Output(o.text, o.tokens, {**o.meta, "model_prompt": seen[i // n]}) for i, o in enumerate(outputs)]
        return [outputs[i * n:(i + 1) * n] for i in range(len(prompts))]

    @staticmethod
    def _step_scores(logits: tuple[torch.Tensor, ...], new_ids: torch.Tensor, kept: list[list[int]]):
        """log p(token) and entropy of the raw distribution at each generated step, per kept token."""
        chosen, entropies = [], []
        for t, step in enumerate(logits):
            logp = torch.log_softmax(step.float(), dim=-1)
            chosen.append(logp.gather(-1, new_ids[:, t:t + 1]).squeeze(-1))
            entropies.append((-(logp.exp() * logp).sum(-1)).clamp(min=0))
        if not chosen:
            return [([], []) for _ in kept]
        lp, ent = torch.stack(chosen, 1).tolist(), torch.stack(entropies, 1).tolist()
        return [(lp[i][:len(r)], ent[i][:len(r)]) for i, r in enumerate(kept)]

    def _score(self, sequences: torch.Tensor, prompt_mask: torch.Tensor, kept: list[list[int]]):
        """Teacher-forced log p(token) and entropy of the model's raw distribution, per kept token."""
        prompt_len = prompt_mask.shape[1]
        results = []
        for lo in range(0, len(kept), SCORE_ROWS):
            rows = kept[lo:lo + SCORE_ROWS]
            width = max((len(r) for r in rows), default=0)
            if width == 0:
                results.extend(([], []) for _ in rows)
                continue
            ids = sequences[lo:lo + len(rows), : prompt_len + width]
            gen_mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=ids.device)
            mask = torch.cat([prompt_mask[lo:lo + len(rows)], gen_mask], dim=1)
            kwargs = {"attention_mask": mask}
            if self._takes_positions:  # left padding: positions count real tokens only
                kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = self.loaded.model(input_ids=ids, **kwargs).logits[:, prompt_len - 1:-1].float()
            logp = torch.log_softmax(logits, dim=-1)
            chosen = logp.gather(-1, ids[:, prompt_len:].unsqueeze(-1)).squeeze(-1)
            entropy = -(logp.exp() * logp).sum(-1)
            for i, r in enumerate(rows):
                results.append((chosen[i, :len(r)].tolist(), entropy[i, :len(r)].clamp(min=0).tolist()))
        return results


class VLLMBackend:
    """vLLM behind the same interface; used only where `vllm` imports (a GPU server).

    vLLM reports logprobs of the raw model distribution (its default logprobs mode);
    entropy is computed over the top `TOP_LOGPROBS` tokens it returns, a lower bound.
    """
    name = "vllm"
    TOP_LOGPROBS = 20

    def __init__(self, location: str | Path, base_model: str | None = None):
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        self.lora = None
        if is_adapter(location):
            self.llm = LLM(model=str(base_model or adapter_base(location)), enable_lora=True)
            self.lora = LoRARequest("adapter", 1, str(location))
        else:
            self.llm = LLM(model=str(location))
        self.tokenizer = self.llm.get_tokenizer()
        self.chat: ChatFormat | None = None

    @classmethod
    def load(cls, location: str | Path, base_model: str | None = None) -> "VLLMBackend":
        return cls(location, base_model)

    def generate(self, prompts: list[str], decoding: DecodingConfig, seed: int = 0) -> list[list[Output]]:
        from vllm import SamplingParams

        if decoding.strategy == "beam":
            raise NotImplementedError("beam search is not wired to the vLLM backend; use backend hf")
        greedy = decoding.strategy == "greedy"
        params = SamplingParams(n=decoding.num_samples, temperature=0.0 if greedy else decoding.temperature,
                                top_p=1.0 if greedy else decoding.top_p, top_k=decoding.top_k or -1,
                                max_tokens=decoding.max_new_tokens, logprobs=self.TOP_LOGPROBS, seed=seed)
        results = []
        seen = [self.chat.prompt(p) for p in prompts] if self.chat else prompts
        for request in self.llm.generate(seen, params, lora_request=self.lora, use_tqdm=False):
            outputs = []
            for completion in request.outputs:
                ids = [t for t in completion.token_ids if t != self.tokenizer.eos_token_id]
                text, offsets = token_offsets(self.tokenizer, ids)
                tokens = []
                for (start, end), token_id, top in zip(offsets, ids, completion.logprobs or []):
                    probs = torch.tensor([lp.logprob for lp in top.values()])
                    entropy = float(-(probs.exp() * probs).sum())
                    tokens.append(Token(start, end, float(top[token_id].logprob), entropy))
                outputs.append(Output(text, tokens, {"finished": completion.finish_reason == "stop",
                                                     "n_tokens": len(ids)}))
            results.append(outputs)
        return results


def load_backend(name: str, location: str | Path, base_model: str | None = None):
    if name == "vllm":
        try:
            import vllm  # noqa: F401
        except ImportError as exc:
            raise RuntimeError("backend vllm asked for, but vllm is not installed here; use backend hf") from exc
        return VLLMBackend.load(location, base_model)
    return HFBackend.load(location, base_model)
