"""Prompt templates: how an example's prompt (and source) become the text a model is given.

`closed-book` (the default) gives the prompt as is; `grounded` puts the example's source (the demo's
fact card) before it. A user template is any text with `{prompt}` and optionally `{source}`
(`{{` / `}}` for literal braces). A template is part of a generation's identity, but only when it is
not the default, so closed-book ids are the ids generations always had. It also rides in the
decoding label ("greedy · grounded"): every per-decoding view, filter and summary table then keeps
the two apart with no key of its own.
"""
from __future__ import annotations

import hashlib
import string

CLOSED_BOOK = "closed-book"
GROUNDED = "grounded"
TEMPLATES = {
    CLOSED_BOOK: "{prompt}",
    GROUNDED: "Source:\n{source}\n\n{prompt}",
}
PLACEHOLDERS = ("prompt", "source")
SEPARATOR = " · "  # decoding label = decoding name + SEPARATOR + template name (not for closed-book)


def problem(spec) -> str | None:
    """Why `spec` (a template name or a template text) cannot be used; None when it can."""
    if not isinstance(spec, str) or not spec.strip():
        return f"one of {', '.join(TEMPLATES)}, or a template text with {{prompt}} (and {{source}})"
    if spec in TEMPLATES:
        return None
    if "{" not in spec and "}" not in spec:
        return f"no such template; one of {', '.join(TEMPLATES)}, or a template text with {{prompt}} (and {{source}})"
    try:
        fields = [(name, conv, fmt) for _, name, fmt, conv in string.Formatter().parse(spec) if name is not None]
    except ValueError as exc:
        return f"not a valid template ({exc}); write {{{{ and }}}} for literal braces"
    for name, conv, fmt in fields:
        if name not in PLACEHOLDERS or conv or fmt:
            shown = "{" + name + (f"!{conv}" if conv else "") + (f":{fmt}" if fmt else "") + "}"
            return f"unknown placeholder {shown}; use {{prompt}} and {{source}} only ({{{{ }}}} for literal braces)"
    if "prompt" not in {name for name, _, _ in fields}:
        return "a template must contain {prompt}"
    return None


def text_of(spec: str) -> str:
    return TEMPLATES.get(spec, spec)


def name_of(spec: str) -> str:
    """The name shown and stored: a built-in's name, or `custom-<hash>` of a user template's text."""
    if spec in TEMPLATES:
        return spec
    builtin = next((name for name, text in TEMPLATES.items() if text == spec), None)
    if builtin:  # a built-in's text written out is that template (one id, one name)
        return builtin
    return "custom-" + hashlib.sha256(spec.encode("utf-8")).hexdigest()[:8]


def needs_source(spec: str) -> bool:
    return "source" in {name for _, name, _, _ in string.Formatter().parse(text_of(spec)) if name}


def source_problem(examples, spec: str) -> str | None:
    """Why `spec` cannot be used on these examples (it puts the source in the prompt, some have none)."""
    if not needs_source(spec):
        return None
    missing = [e.id for e in examples if not (e.source or "").strip()]
    if not missing:
        return None
    return (f"prompt_template = {name_of(spec)!r} puts each example's source in the prompt, but "
            f"{len(missing)} example(s) have none (e.g. {', '.join(missing[:3])})")


def render(spec: str, prompt: str, source: str | None) -> str:
    """The text the model is given for one example."""
    if name_of(spec) == CLOSED_BOOK:
        return prompt
    return text_of(spec).format(prompt=prompt, source=source or "")


def identity(decoding: dict, spec: str) -> dict:
    """The decoding part of a generation's content hash: unchanged for closed-book, the template's text added
    otherwise (two templates never share an id; the same text under any name is one generation)."""
    return decoding if name_of(spec) == CLOSED_BOOK else {**decoding, "prompt_template": text_of(spec)}


def label(decoding_name: str, template_name: str | None) -> str:
    """The decoding label stored and shown: `greedy` for closed-book, `greedy · grounded` otherwise."""
    if not template_name or template_name == CLOSED_BOOK:
        return decoding_name
    return f"{decoding_name}{SEPARATOR}{template_name}"


def split(decoding_label: str) -> tuple[str, str]:
    """(decoding name, template name) of a decoding label; closed-book when it names no template."""
    decoding, sep, template = decoding_label.rpartition(SEPARATOR)
    return (decoding, template) if sep and decoding else (decoding_label, CLOSED_BOOK)


def as_seen(generation_meta: dict, prompt: str, source: str | None) -> str | None:
    """The text a generated output's model was given: the stored chat-formatted prompt, else the template
    rendered again; None for imported outputs (Hallu did not prompt them)."""
    if generation_meta.get("model_prompt"):
        return generation_meta["model_prompt"]
    if "backend" not in generation_meta:
        return None
    spec = generation_meta.get("prompt_template_text") or generation_meta.get("prompt_template") or CLOSED_BOOK
    return render(spec, prompt, source)
