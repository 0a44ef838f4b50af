"""Hand-made calls, a fake assigner and a fake generator for router tests (no models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slmconvert.router.config import ClusterRoute, EscalationRules, RouterConfig
from slmconvert.router.generator import Generation
from slmconvert.router.router import Router

LOOKUP_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "description": "Find an order.",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string", "pattern": "^A-[0-9]+$"}},
                       "required": ["order_id"], "additionalProperties": False},
    },
}


def call(call_id: str, order: str = "A-17", cluster: int = 0) -> dict[str, Any]:
    """A curated-looking call whose logged answer is a lookup_order tool call."""
    return {
        "call_id": call_id,
        "status": "kept",
        "messages": [{"role": "user", "content": f"where is order {order}?"}],
        "tools": [LOOKUP_TOOL],
        "output": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c0", "type": "function", "function": {"name": "lookup_order", "arguments": {"order_id": order}}}]},
        "_cluster": cluster,
    }


def tool_text(name: str, arguments: str) -> str:
    return f'<tool_call>{{"name": "{name}", "arguments": {arguments}}}</tool_call>'


class FakeAssigner:
    """Assigns by the `_cluster` field the test put on each call."""

    def __init__(self, confidence: float = 0.8) -> None:
        self.confidence = confidence
        self.calls = 0

    def assign(self, records: list[dict]) -> list[tuple[int, float]]:
        self.calls += 1
        return [(int(r.get("_cluster", -1)), self.confidence if r.get("_cluster", -1) >= 0 else 0.0) for r in records]


class FakeGenerator:
    """Answers from a script: call_id -> (text, per-token logprob); tokens are 4-character pieces."""

    def __init__(self, script: dict[str, tuple[str, float]]) -> None:
        self.script = script
        self.requests: list[tuple[str, str | None, list[str]]] = []

    def generate(self, model, adapter, fmt, records, max_new_tokens, progress=None) -> list[Generation]:
        self.requests.append((model, str(adapter) if adapter else None, [r["call_id"] for r in records]))
        out = []
        for r in records:
            text, lp = self.script[r["call_id"]]
            ends = list(range(4, len(text), 4)) + [len(text)]
            out.append(Generation(text=text, logprobs=[lp] * len(ends), ends=ends, prompt_tokens=20,
                                  new_tokens=len(ends), seconds=0.05, batch_size=len(records), batch_id="b"))
        if progress:
            progress(len(records))
        return out


def make_router(tmp: Path, threshold: float | None = None, rules: EscalationRules | None = None) -> Router:
    routes = [
        ClusterRoute(0, "lookup_order", True, "promoted", "tool_call", model="tiny", adapter="../adapters/0",
                     prompt_format={"schema": "slmconvert.prompt_format/1", "style": "canonical",
                                    "drop_system": False, "drop_tools": False},
                     max_new_tokens=64, confidence_threshold=threshold,
                     primary_metric="function_name_and_args_accuracy"),
        ClusterRoute(1, "drafting", False, "stays on the LLM: open-ended free text", "text"),
    ]
    config = RouterConfig(routes, rules or EscalationRules())
    directory = tmp / "router"
    config.save(directory)
    return Router.load(directory, assigner=FakeAssigner())
