"""Chat models prompted as chat models: the tokenizer's chat template, for generation and training alike.

A chat model given a bare question often answers its end-of-turn token at once (SmolLM2-Instruct
does): outputs come back empty. With `chat_template = "auto"` (the default) a tokenizer that has a
template gets every prompt as one user turn (after a system turn when `system_prompt` is given; else
the template's own default), and every training answer as the assistant turn, closed by the
template's end-of-turn text so a fine-tuned model still stops. `"never"` keeps raw prompts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ChatMode = Literal["auto", "never"]
CHAT_MODES = ("auto", "never")
_MARK = "\u2063HALLU-ANSWER\u2063"  # a string no template changes, to find where an answer ends


@dataclass(frozen=True)
class ChatFormat:
    """How one tokenizer's template wraps a prompt and closes an answer."""
    tokenizer: object
    system_prompt: str | None

    def _messages(self, prompt: str) -> list[dict]:
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt is not None else []
        return [*system, {"role": "user", "content": prompt}]

    def prompt(self, prompt: str) -> str:
        """The text the model sees: the conversation up to the assistant's turn (special tokens as text)."""
        return self.tokenizer.apply_chat_template(self._messages(prompt), tokenize=False, add_generation_prompt=True)

    @property
    def end_of_turn(self) -> str:
        """What the template writes after an assistant answer, trailing newlines dropped (`<|im_end|>`)."""
        whole = self.tokenizer.apply_chat_template(
            self._messages("q") + [{"role": "assistant", "content": _MARK}], tokenize=False)
        tail = whole[whole.index(_MARK) + len(_MARK):].rstrip("\n")
        return tail or (self.tokenizer.eos_token or "")

    def end_of_turn_ids(self) -> list[int]:
        """Token ids that end a turn: the end-of-turn text when it is one token, and EOS."""
        ids = self.tokenizer(self.end_of_turn, add_special_tokens=False)["input_ids"]
        out = ids if len(ids) == 1 else []
        eos = self.tokenizer.eos_token_id
        return list(dict.fromkeys(out + ([eos] if eos is not None else [])))


def chat_format(tokenizer, mode: str = "auto", system_prompt: str | None = None) -> ChatFormat | None:
    """The chat format to use, or None for raw prompts (mode "never", or a tokenizer without a template)."""
    if mode == "never" or not getattr(tokenizer, "chat_template", None):
        return None
    return ChatFormat(tokenizer, system_prompt)


def identity(chat: ChatFormat | None) -> dict:
    """The chat part of a generation's content hash: nothing for raw prompts (ids as they always were)."""
    return {} if chat is None else {"chat_template": {"system_prompt": chat.system_prompt}}
