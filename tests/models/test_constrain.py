"""Constrained decoding of tool calls: the grammar reads the canonical format, and generation
under it only emits tool calls that parse and validate against the request's own tools."""

from __future__ import annotations

import pytest

from slmconvert.evaluation.matching import validate_tool_calls
from slmconvert.models.constrain import record_grammar, tool_call_grammar, unpack_bitmask
from slmconvert.models.parse import parse_completion
from slmconvert.models.toolspec import TOOL_CALL_CLOSE, format_tool_call

pytest.importorskip("llguidance")

TOOLS = [
    {"type": "function", "function": {"name": "set_status", "parameters": {
        "type": "object", "properties": {"state": {"enum": ["open", "closed"]}}, "required": ["state"]}}},
    {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}},
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch

    from slmconvert.models import load_model
    from slmconvert.models.tiny import create_tiny_model

    torch.set_num_threads(1)
    return load_model(str(create_tiny_model(tmp_path_factory.mktemp("tiny") / "model")), device="cpu")


def _matcher(tokenizer, grammar):
    import llguidance

    from slmconvert.models.chat import stop_token_ids
    from slmconvert.models.constrain import ll_tokenizer

    stops = stop_token_ids(tokenizer)
    return llguidance.LLMatcher(ll_tokenizer(tokenizer, len(tokenizer), stops), grammar, log_level=0), stops


@pytest.mark.parametrize(("text", "ok"), [
    (format_tool_call("set_status", {"state": "open"}), True),
    (format_tool_call("set_status", {"state": "open"}) + "\n" + format_tool_call("ping", {}), True),
    ("No tool is needed here.", True),
    ("One moment.\n" + format_tool_call("ping", {}), True),  # a line of text, then calls
    ("One moment.\n" + format_tool_call("pong", {}), False),  # ... still bound to the request's tools
    ("Calling <tool_call>junk</tool_call> now", False),  # a tag inside text is no escape
    ("x <tool_call>junk\n" + format_tool_call("ping", {}), False),
    (format_tool_call("set_state", {"state": "open"}), False),  # not a tool of this request
    (format_tool_call("set_status", {"state": "ajar"}), False),  # not in the enum
    (format_tool_call("set_status", {"state": "open", "extra": 1}), False),  # unknown argument
    (format_tool_call("set_status", {}), False),  # required argument missing
])
def test_grammar_reads_exactly_the_canonical_calls_of_the_request(tiny, text, ok):
    matcher, stops = _matcher(tiny.tokenizer, tool_call_grammar(TOOLS))
    ids = tiny.tokenizer(text, add_special_tokens=False)["input_ids"] + [stops[0]]
    assert (matcher.validate_tokens(ids) == len(ids)) is ok


def test_no_tools_no_grammar_and_records_use_their_own_tools():
    assert tool_call_grammar([]) is None
    assert record_grammar({"tools": []}) is None
    assert '"set_status' in record_grammar({"tools": TOOLS})
    assert '"ping' not in record_grammar({"tools": TOOLS[:1]})


def test_unpack_bitmask_matches_bit_order():
    import torch

    words = torch.tensor([[0b101, 0], [0, 1]], dtype=torch.int32)
    allowed = unpack_bitmask(words, 40)
    assert allowed[0].nonzero().flatten().tolist() == [0, 2]
    assert allowed[1].nonzero().flatten().tolist() == [32]


def test_constrained_generation_emits_valid_calls_where_free_decoding_does_not(tiny):
    from slmconvert.evaluation.generation import generate

    tok, model = tiny.tokenizer, tiny.model
    prompts = [f"<|im_start|>user\nplease set it {i}<|im_end|>\n<|im_start|>assistant\n" for i in range(3)]
    grammar = tool_call_grammar(TOOLS, allow_text=False)
    free = generate(model, tok, prompts, max_new_tokens=100, batch_size=2)
    bound = generate(model, tok, prompts, max_new_tokens=100, batch_size=2, grammars=[grammar, None, grammar])
    assert not any(parse_completion(r.text).tool_calls for r in free.results)  # an untrained model
    assert bound.results[1].token_ids == free.results[1].token_ids  # a row without grammar is untouched
    for row in (0, 2):
        text = bound.results[row].text
        assert TOOL_CALL_CLOSE in text, text
        first = text[: text.index(TOOL_CALL_CLOSE) + len(TOOL_CALL_CLOSE)]
        parsed = parse_completion(first)
        assert parsed.parse_ok and parsed.tool_calls
        assert not validate_tool_calls(parsed.tool_calls, TOOLS)
