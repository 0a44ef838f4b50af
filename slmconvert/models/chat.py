"""Chat-template plumbing: applying a tokenizer's template robustly, end-of-turn markers, stop ids.

Everything here works from the tokenizer alone (no model weights), so prompt rendering and its
tests stay cheap.
"""

from __future__ import annotations

from typing import Any

# Gemma 3's turn format; the packaged gemma-3-270m base GGUF ships no chat template.
# System text is folded into the first user turn (Gemma has no system role); any role other
# than assistant renders as a user turn so tool results never break the template.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(system='') %}"
    "{% for message in messages %}"
    "{% if message['role'] in ('system', 'developer') %}"
    "{% set ns.system = ns.system + (message['content'] or '') | trim + '\n\n' %}"
    "{% else %}"
    "{{ '<start_of_turn>' + ('model' if message['role'] == 'assistant' else 'user') + '\n' }}"
    "{% if ns.system and message['role'] != 'assistant' %}{{ ns.system }}{% set ns.system = '' %}{% endif %}"
    "{{ (message['content'] or '') | trim }}<end_of_turn>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if ns.system %}{{ '<start_of_turn>user\n' + ns.system | trim + '<end_of_turn>\n' }}{% endif %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)

# Last resort for tokenizers without any chat template: plain headed turns ended by EOS.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '### ' + message['role'] | capitalize + ':\n' + (message['content'] or '') + eos_token + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Assistant:\n' }}{% endif %}"
)

# End-of-turn markers of common chat formats, most specific first.
END_OF_TURN_MARKERS = (
    "<|im_end|>",
    "<end_of_turn>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<|endoftext|>",
    "</s>",
    "<eos>",
)


def chat_template(tokenizer: Any) -> str:
    """The tokenizer's own chat template, or slmconvert's fallback when it has none."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # named templates: prefer the default / tool_use one
        template = template.get("default") or next(iter(template.values()), None)
    return template or FALLBACK_CHAT_TEMPLATE


def end_of_turn(tokenizer: Any) -> str:
    """The string that closes an assistant turn in this tokenizer's chat format."""
    template = chat_template(tokenizer)
    for marker in END_OF_TURN_MARKERS:
        if marker in template and _token_id(tokenizer, marker) is not None:
            return marker
    return tokenizer.eos_token or ""


def stop_token_ids(tokenizer: Any) -> list[int]:
    """Token ids that end generation: EOS plus the chat format's end-of-turn token."""
    ids: list[int] = []
    for token in (end_of_turn(tokenizer), tokenizer.eos_token):
        token_id = _token_id(tokenizer, token) if token else None
        if token_id is not None and token_id not in ids:
            ids.append(token_id)
    return ids


def _token_id(tokenizer: Any, token: str) -> int | None:
    """Id of `token` when it is one single vocabulary entry (not unk), else None."""
    ids = tokenizer.encode(token, add_special_tokens=False)
    if len(ids) != 1:
        return None
    if tokenizer.unk_token_id is not None and ids[0] == tokenizer.unk_token_id:
        return None
    return ids[0]


def apply_template(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    add_generation_prompt: bool,
) -> str:
    """Render messages with the chat template; folds system text into the first user turn if
    the template rejects a system role (some do)."""
    template = chat_template(tokenizer)
    try:
        return _render(tokenizer, template, messages, tools, add_generation_prompt)
    except Exception:
        folded = fold_system(messages)
        if folded == messages:
            raise
        return _render(tokenizer, template, folded, tools, add_generation_prompt)


def _render(
    tokenizer: Any, template: str, messages: list[dict[str, Any]], tools: Any, add_generation_prompt: bool
) -> str:
    text = tokenizer.apply_chat_template(
        messages,
        tools=tools or None,
        chat_template=template,
        add_generation_prompt=add_generation_prompt,
        tokenize=False,
    )
    if not isinstance(text, str):  # pragma: no cover - tokenize=False always gives text
        raise TypeError(f"chat template returned {type(text).__name__}, not text")
    return text


def fold_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Move system text into the first user message, for templates without a system role."""
    system = [m.get("content") or "" for m in messages if m.get("role") == "system"]
    rest = [dict(m) for m in messages if m.get("role") != "system"]
    if not system:
        return messages
    head = "\n\n".join(s for s in system if s)
    for message in rest:
        if message.get("role") == "user":
            message["content"] = f"{head}\n\n{message.get('content') or ''}".strip()
            return rest
    return [{"role": "user", "content": head}, *rest]


def assistant_suffix(
    tokenizer: Any,
    prompt_messages: list[dict[str, Any]],
    assistant: dict[str, Any],
    *,
    tools: list[dict[str, Any]] | None = None,
    fallback_text: str,
) -> str:
    """The text the template appends for `assistant` after the generation prompt, ending at the
    end-of-turn marker; `fallback_text` + marker when the template's render is not prefix-stable."""
    eot = end_of_turn(tokenizer)
    prompt = apply_template(tokenizer, prompt_messages, tools=tools, add_generation_prompt=True)
    full = apply_template(tokenizer, [*prompt_messages, assistant], tools=tools, add_generation_prompt=False)
    if not full.startswith(prompt):
        return fallback_text + eot
    suffix = full[len(prompt):]
    cut = suffix.rfind(eot) if eot else -1
    if cut >= 0:
        return suffix[: cut + len(eot)]
    return suffix.rstrip() + eot
