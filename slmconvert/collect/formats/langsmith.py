"""LangSmith run exports: runs with `run_type: "llm"`.

`inputs.messages` (LangChain `[[...]]` batches or flat lists, or an OpenAI-wrapper request) and
`outputs.generations` (LangChain) or `outputs.choices` (OpenAI wrapper); model and tools from
`extra.invocation_params` / `extra.metadata`; token counts from the run or `llm_output`.
"""

from __future__ import annotations

from typing import Any

from slmconvert.collect.formats.common import (
    Notes,
    error_call,
    new_call,
    openai_tools,
    reject,
    request_params,
    usage,
)
from slmconvert.collect.formats.openai_chat import response_fields
from slmconvert.collect.formats.tracing import any_messages, as_output
from slmconvert.collect.formats.values import iso_utc, latency_between

NAME = "langsmith"


def _first_generation(generations: Any) -> dict:
    while isinstance(generations, list):
        if not generations:
            reject("missing field", "outputs.generations is empty")
        generations = generations[0]
    if not isinstance(generations, dict):
        reject("malformed record", "generation is not an object")
    return generations


def _generation_output(outputs: dict, notes: Notes) -> tuple[dict, Any, dict]:
    """(output message, finish reason, usage_metadata) of LangChain generations."""
    gen = _first_generation(outputs["generations"])
    raw = gen.get("message")
    output = as_output(raw if raw is not None else gen.get("text", ""), "outputs.generations[0]", notes)
    info = gen.get("generation_info") or {}
    kwargs = raw.get("kwargs", raw) if isinstance(raw, dict) else {}
    meta = kwargs.get("response_metadata") or {}
    finish = info.get("finish_reason") or meta.get("finish_reason") or meta.get("stop_reason")
    return output, finish, kwargs.get("usage_metadata") or {}


def normalise(run: dict) -> list[dict]:
    """One LLM run -> one partial call record."""
    if run.get("run_type") != "llm":
        reject("unsupported", f"LangSmith run_type {run.get('run_type')!r} is not an LLM call")
    notes = Notes()
    inputs = run.get("inputs") or {}
    extra = run.get("extra") or {}
    invocation = extra.get("invocation_params") or {}
    ls_meta = extra.get("metadata") or {}
    if "messages" in inputs:
        messages = any_messages(inputs["messages"], notes, "inputs.messages")
    elif inputs.get("prompts"):
        messages = any_messages(inputs["prompts"][0], notes, "inputs.prompts")
    else:
        reject("missing field", "run inputs have neither messages nor prompts")
    tools = inputs.get("tools") or invocation.get("tools")
    functions = inputs.get("functions") or invocation.get("functions")
    metadata = {k: v for k, v in (("run_id", run.get("id")), ("trace_id", run.get("trace_id")),
                                  ("name", run.get("name")), ("provider", ls_meta.get("ls_provider"))) if v}
    metadata.update(request_params({**invocation, **inputs}))
    outputs = run.get("outputs") or {}
    llm_output = outputs.get("llm_output") or {}
    call = new_call(
        model=(inputs.get("model") or invocation.get("model") or invocation.get("model_name")
               or llm_output.get("model_name") or ls_meta.get("ls_model_name")),
        messages=messages,
        tools=openai_tools(tools, functions, notes),
        tool_choice=inputs.get("tool_choice", invocation.get("tool_choice")),
        response_format=inputs.get("response_format", invocation.get("response_format")),
        latency_ms=latency_between(run.get("start_time"), run.get("end_time")),
        timestamp=iso_utc(run.get("start_time")),
        workload_id=ls_meta.get("workload_id"),
        client_id=ls_meta.get("client_id"),
        metadata=metadata,
    )
    token_usage = llm_output.get("token_usage") or {}
    if run.get("error") and not outputs:
        error_call(call, run["error"])
    elif "choices" in outputs:
        resp = response_fields(outputs, notes)
        call.update(output=resp["output"], finish_reason=resp["finish_reason"], model=call["model"] or resp["model"])
        token_usage = token_usage or outputs.get("usage") or {}
    elif "generations" in outputs:
        call["output"], call["finish_reason"], usage_meta = _generation_output(outputs, notes)
        token_usage = token_usage or {
            "prompt_tokens": usage_meta.get("input_tokens"), "completion_tokens": usage_meta.get("output_tokens"),
        }
    else:
        reject("missing field", "run outputs have neither generations nor choices")
    call["usage"] = usage(
        run.get("prompt_tokens") if run.get("prompt_tokens") is not None else token_usage.get("prompt_tokens"),
        run.get("completion_tokens") if run.get("completion_tokens") is not None else token_usage.get("completion_tokens"),
    )
    call["metadata"].update(notes.data)
    return [call]
