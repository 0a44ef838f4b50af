"""The real built-in models: convert from the packaged GGUF, reload from the cache, round-trip the
prompt format with the real tokenizer, and generate. Slow (conversion takes about a minute)."""

from __future__ import annotations

import time

import pytest

from slmconvert.evaluation import generate
from slmconvert.models import (
    PromptFormat,
    load_model,
    model_info,
    parse_completion,
    render_completion,
    render_prompt,
    stop_token_ids,
)
from slmconvert.models.registry import BUILTIN_MODELS

pytestmark = pytest.mark.slow

TOOLS = [{"type": "function", "function": {"name": "lookup_order", "description": "Look up an order.", "parameters": {
    "type": "object", "properties": {"order_id": {"type": "string"}, "verbose": {"type": "boolean", "default": False}},
    "required": ["order_id"]}}}]
MESSAGES = [
    {"role": "system", "content": "You are a support agent."},
    {"role": "user", "content": "Where are orders A-17 and B-2?"},
]
OUTPUT = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "1", "type": "function", "function": {"name": "lookup_order", "arguments": {"order_id": "A-17"}}},
    {"id": "2", "type": "function", "function": {"name": "lookup_order", "arguments": {"order_id": "B-2", "verbose": True}}},
]}


@pytest.mark.parametrize("alias", sorted(BUILTIN_MODELS))
def test_builtin_converts_loads_round_trips_and_generates(alias):
    spec = BUILTIN_MODELS[alias]
    loaded = load_model(alias, device="cpu")  # converts into the session cache on first use
    info = model_info(alias)
    assert info.cached and info.n_params == spec.n_params and info.context_length == spec.context_length
    assert info.license == spec.license and info.chat_template
    tok = loaded.tokenizer
    fmt = PromptFormat.for_tokenizer(tok)
    assert fmt.style == ("native" if info.native_tools else "canonical")

    completion = render_completion(OUTPUT, tok, fmt, messages=MESSAGES, tools=TOOLS)
    parsed = parse_completion(completion, fmt)
    assert parsed.parse_ok and [c["arguments"] for c in parsed.tool_calls] == [{"order_id": "A-17"}, {"order_id": "B-2", "verbose": True}]
    # the end-of-turn marker of the completion is one stop token of this tokenizer
    ids = tok(completion, add_special_tokens=False)["input_ids"]
    assert ids[-1] in stop_token_ids(tok)

    prompt = render_prompt([{"role": "user", "content": "What is the capital of France?"}], None, tok, fmt)
    run = generate(loaded.model, tok, [prompt, prompt], max_new_tokens=24, batch_size=2)
    assert run.results[0].new_tokens > 0 and run.results[0].text.strip()
    assert run.results[0].token_ids == run.results[1].token_ids  # greedy and batch-consistent
    if "instruct" in spec.tags:
        assert "paris" in run.results[0].text.lower()

    started = time.perf_counter()
    reloaded = load_model(alias, device="cpu")
    assert time.perf_counter() - started < 30  # from the converted cache, not the GGUF
    assert reloaded.model.config.vocab_size == loaded.model.config.vocab_size
