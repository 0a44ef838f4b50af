"""Batched generation and the harness, on a tiny in-process model."""

from __future__ import annotations

import math

from slmconvert.evaluation import EvalExample, evaluate, generate, score_outputs
from slmconvert.evaluation.generation import MIN_SHARED_PREFIX, shared_prefix_length
from slmconvert.models import PromptFormat, render_record_completion

TOOLS = [{"type": "function", "function": {"name": "lookup_order", "parameters": {
    "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]


def records(n):
    out = []
    for i in range(n):
        out.append({
            "call_id": f"c{i}",
            "messages": [{"role": "user", "content": f"where is order {i}" + " please" * (i % 4)}],
            "output": {"role": "assistant", "content": None, "tool_calls": [
                {"id": "x", "type": "function", "function": {"name": "lookup_order", "arguments": {"order_id": str(i)}}}]},
            "tools": TOOLS,
        })
    return out


def test_batched_equals_one_at_a_time_and_keeps_order(tiny_loaded):
    tok, model = tiny_loaded.tokenizer, tiny_loaded.model
    prompts = [EvalExample.from_record(r).prompt(tok, PromptFormat()) for r in records(5)]
    encoded = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    assert shared_prefix_length(encoded) >= MIN_SHARED_PREFIX  # the tool block is shared
    batched = generate(model, tok, prompts, max_new_tokens=6, batch_size=3, logprobs=True)
    single = generate(model, tok, prompts, max_new_tokens=6, batch_size=1, warmup=False, share_prefix=False)
    padded_only = generate(model, tok, prompts, max_new_tokens=6, batch_size=3, warmup=False, share_prefix=False)
    assert [r.token_ids for r in batched.results] == [r.token_ids for r in single.results]
    assert [r.token_ids for r in padded_only.results] == [r.token_ids for r in single.results]
    unshared = generate(model, tok, prompts, max_new_tokens=6, batch_size=3, logprobs=True, warmup=False, share_prefix=False)
    for a, b in zip(batched.results, unshared.results):
        assert all(abs(x - y) < 1e-4 for x, y in zip(a.token_logprobs, b.token_logprobs))
    assert [r.prompt_tokens for r in batched.results] == [len(tok(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    for result in batched.results:
        assert result.new_tokens == len(result.token_ids) == len(result.token_logprobs)
        assert all(lp <= 0 and math.isfinite(lp) for lp in result.token_logprobs)
    timing = batched.timing()
    assert timing["calls"] == 5 and timing["wall_seconds"] > 0 and timing["warmup_seconds"] > 0
    assert timing["tokens_per_second"] > 0


def test_shared_prefix_length():
    assert shared_prefix_length([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]]) == 2
    assert shared_prefix_length([[1, 2], [1, 2]]) == 1  # each prompt keeps a token of its own
    assert shared_prefix_length([[1, 2]]) == 0


def test_stop_on_end_of_turn_and_prompt_truncation(tiny_loaded):
    tok, model = tiny_loaded.tokenizer, tiny_loaded.model
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    free = generate(model, tok, ["hello"], max_new_tokens=4, warmup=False).results[0]
    # forcing the first generated token to be the stop token ends generation there
    stopped = generate(model, tok, ["hello"], max_new_tokens=4, warmup=False, stop_ids=[free.token_ids[0], eot]).results[0]
    assert stopped.stopped and stopped.new_tokens == 1 and stopped.text == ""
    long = generate(model, tok, ["word " * 50], max_new_tokens=2, max_prompt_tokens=10, warmup=False).results[0]
    assert long.truncated_prompt and long.prompt_tokens == 10


def test_progress_callback_counts_every_prompt(tiny_loaded):
    for continuous, reports in ((False, 2), (True, 3)):  # once per batch; once per row as it ends
        seen = []
        generate(tiny_loaded.model, tiny_loaded.tokenizer, ["a", "bb", "ccc"], max_new_tokens=2, batch_size=2,
                 progress=seen.append, continuous=continuous)
        assert sum(seen) == 3 and len(seen) == reports


def test_evaluate_end_to_end(tiny_loaded):
    examples = [EvalExample.from_record(r) for r in records(4)]
    result = evaluate(tiny_loaded.model, tiny_loaded.tokenizer, examples, PromptFormat(), max_new_tokens=8, batch_size=2)
    assert result.output_type == "tool_call" and result.primary_metric == "function_name_and_args_accuracy"
    assert len(result.rows) == 4 and result.primary.n == 4
    assert {"prediction", "new_tokens", "batch_seconds", "parse_rate"} <= set(result.rows[0])
    assert result.to_dict()["metrics"]["parse_rate"]["n"] == 4


def test_score_outputs_with_reference_texts_is_perfect(tiny_loaded):
    recs = records(3)
    fmt = PromptFormat()
    texts = [render_record_completion(r, tiny_loaded.tokenizer, fmt) for r in recs]
    rows, metrics, kind = score_outputs([EvalExample.from_record(r) for r in recs], texts, fmt)
    assert kind == "tool_call" and metrics["function_name_and_args_accuracy"].value == 1.0
    assert rows[0]["prediction"]["tool_calls"][0]["function"]["arguments"] == {"order_id": "0"}


class FakeEmbedder:
    """Bag-of-letters embedding, to check cosine wiring without loading MiniLM."""

    model_id = "bag-of-letters"

    def encode(self, texts):
        import numpy as np

        vecs = np.array([[t.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts], dtype=float)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)


def test_cosine_is_filled_for_text_references():
    examples = [
        EvalExample("a", [{"role": "user", "content": "x"}], {"role": "assistant", "content": "refund the mug"}),
        EvalExample("b", [{"role": "user", "content": "x"}], {"role": "assistant", "content": "zzz"}),
    ]
    rows, metrics, kind = score_outputs(examples, ["refund the mug", ""], PromptFormat(), embedder=FakeEmbedder())
    assert kind == "text"
    assert rows[0]["cosine"] > 0.99 and rows[1]["cosine"] == 0.0
    assert metrics["cosine"].n == 2
