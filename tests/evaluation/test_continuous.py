"""Continuous batching (evaluation.continuous): rows refilled as they end give each prompt the answer whole
batches give it, on a tiny fp32 model."""

from __future__ import annotations

import pytest

from slmconvert.evaluation import continuous
from slmconvert.evaluation.generation import generate
from slmconvert.models.constrain import tool_call_grammar

TOOLS = [{"type": "function", "function": {"name": "set_level", "parameters": {
    "type": "object", "properties": {"level": {"type": "integer"}}, "required": ["level"]}}}]


WORDS = "apple river stone cloud seven orange metal paper glass window".split()


def prompts(n, head=""):
    """n prompts of unlike lengths (3 to 3 + 4(n-1) words) after a shared head."""
    return [head + " ".join(WORDS[(i * j + i) % 10] for j in range(3 + 4 * i)) for i in range(n)]


def assert_same(whole, slots):
    assert [r.token_ids for r in slots.results] == [r.token_ids for r in whole.results]
    assert [r.stopped for r in slots.results] == [r.stopped for r in whole.results]
    for a, b in zip(whole.results, slots.results):
        assert a.text == b.text and a.prompt_tokens == b.prompt_tokens
        if a.token_logprobs is not None:
            assert max(abs(x - y) for x, y in zip(a.token_logprobs, b.token_logprobs)) < 1e-4


@pytest.mark.parametrize("head", ["", "You answer questions about the warehouse. " * 6])
def test_rows_refilled_as_they_end_answer_as_whole_batches_do(tiny_loaded, head):
    tok, model = tiny_loaded.tokenizer, tiny_loaded.model
    texts = prompts(7, head)
    free = generate(model, tok, texts, max_new_tokens=12, batch_size=7, continuous=False)
    stops = [free.results[1].token_ids[0], free.results[4].token_ids[0]]  # a few rows end at once, others run on
    kwargs = dict(max_new_tokens=12, batch_size=3, logprobs=True, warmup=False, stop_ids=stops)
    whole = generate(model, tok, texts, continuous=False, **kwargs)
    slots = generate(model, tok, texts, **kwargs)
    assert {r.new_tokens for r in whole.results} != {12}  # some rows stopped early and freed their slot
    assert_same(whole, slots)
    walls = {r.batch_seconds for r in slots.results}
    assert walls == {slots.wall_seconds} and all(0 < r.latency <= slots.wall_seconds for r in slots.results)


def test_no_more_rows_than_slots_and_rows_join_as_slots_free(tiny_loaded, monkeypatch):
    tok, model = tiny_loaded.tokenizer, tiny_loaded.model
    widths, joined = [], []
    step, prefill = continuous.SlotDecoder._step, continuous.SlotDecoder._prefill_group

    def counted_step(self):
        widths.append(len(self.rows))
        step(self)

    def counted_prefill(self, indices):
        joined.append(len(indices))
        prefill(self, indices)

    monkeypatch.setattr(continuous.SlotDecoder, "_step", counted_step)
    monkeypatch.setattr(continuous.SlotDecoder, "_prefill_group", counted_prefill)
    texts = prompts(6)
    free = generate(model, tok, texts, max_new_tokens=8, batch_size=6, continuous=False)
    stops = [free.results[1].token_ids[0]]  # ends some rows at once, others run on
    run = generate(model, tok, texts, max_new_tokens=8, batch_size=2, warmup=False, stop_ids=stops)
    assert len(run.results) == 6 and sum(joined) == 6
    assert max(widths) == 2 and len(joined) >= 3


def test_grammar_bound_rows_in_slots_match_whole_batches(tiny_loaded):
    tok, model = tiny_loaded.tokenizer, tiny_loaded.model
    texts = prompts(5)
    grammar = tool_call_grammar(TOOLS, allow_text=False)
    rules = [grammar, None, grammar, grammar, None]
    kwargs = dict(max_new_tokens=40, batch_size=2, grammars=rules, logprobs=True, warmup=False)
    assert_same(generate(model, tok, texts, continuous=False, **kwargs), generate(model, tok, texts, **kwargs))


def test_a_cache_that_cannot_be_rearranged_decodes_in_whole_batches(tiny_loaded, monkeypatch):
    def refuse(cache):
        raise continuous.Unsupported("sliding window")

    monkeypatch.setattr(continuous, "_plain_layers", refuse)
    tok, model = tiny_loaded.tokenizer, tiny_loaded.model
    texts = prompts(4)
    whole = generate(model, tok, texts, max_new_tokens=5, batch_size=2, continuous=False, warmup=False)
    fallen_back = generate(model, tok, texts, max_new_tokens=5, batch_size=2, warmup=False)
    assert_same(whole, fallen_back)
    batches = len({r.batch_seconds for r in whole.results})
    assert batches > 1 and len({r.batch_seconds for r in fallen_back.results}) == batches  # whole batches again


def test_width_classes_keep_long_prompts_apart():
    lengths = [900, 80, 850, 60, 120, 300, 1000]
    order = [1, 0, 2, 3, 4, 5, 6]
    classes = continuous.width_classes(order, lengths)
    assert classes == [[0, 2, 6], [1, 3, 4, 5]]  # each class in the given order
    assert continuous.width_classes(order, lengths, slack=10) == [[0, 2, 6], [5], [1, 3, 4]]
    assert sorted(i for c in classes for i in c) == sorted(order)


def test_a_sliding_window_model_decodes_in_whole_batches():
    """Mistral's sliding-window cache layers cannot be rearranged: the probe says so, and generation
    falls back to whole batches with the same answers."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    model = MistralForCausalLM(MistralConfig(vocab_size=512, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, sliding_window=8)).eval()

    class Tokenizer:
        pad_token_id = 0

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [3 + (ord(c) % 500) for c in text]}

        def decode(self, ids, skip_special_tokens=False):
            return " ".join(map(str, ids))

    assert not continuous.slots_supported(model)
    texts = prompts(4)
    kwargs = dict(max_new_tokens=5, batch_size=2, warmup=False, stop_ids=[1])
    assert_same(generate(model, Tokenizer(), texts, continuous=False, **kwargs),
                generate(model, Tokenizer(), texts, **kwargs))


def test_the_probe_sees_a_full_attention_cache(tiny_loaded):
    assert continuous.slots_supported(tiny_loaded.model)
