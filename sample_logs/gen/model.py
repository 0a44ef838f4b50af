"""Format-neutral call and conversation model that every task builds and every format renders."""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

from .entities import Ent

ALNUM = string.ascii_letters + string.digits


def compact(obj: Any) -> str:
    """JSON text the way model APIs emit tool arguments and services log tool results."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Call:
    """One LLM call: the request conversation (OpenAI-style, without the system message) and its output.

    Assistant tool calls carry `arguments` as a dict; `raw_arguments` (str) overrides the rendered
    string when a fault injects invalid JSON.
    """

    task: str
    system: str
    messages: list[dict]
    output: dict
    tools: list[dict] = field(default_factory=list)
    response_format: dict | None = None
    max_tokens: int = 1024
    temperature: float = 0.2
    sensitive: list[tuple[str, str]] = field(default_factory=list)
    offset_s: float = 0.0
    turn: int = 0
    # filled in by the planner
    session: str = ""
    ts: float = 0.0
    model: str = ""
    fmt: str = ""
    kind: str = "ok"
    finish_reason: str = "stop"
    error: dict | None = None
    latency_ms: float = 0.0
    workload_id: str | None = None
    client_id: str | None = None
    stream: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prefix_tokens: int = 0  # system prompt + tool schemas, the part a prompt cache can serve
    cache_hit: bool = False
    echo: dict | None = (
        None  # the assistant message that repeats this output in later calls' history
    )

    @property
    def output_type(self) -> str:
        if self.output.get("tool_calls"):
            return "tool_call"
        return "json" if self.response_format else "text"


class Convo:
    """A growing conversation; each `act_tools`/`reply` snapshots one Call (the agent's next step)."""

    def __init__(
        self, task: str, system: str, ent: Ent, tools: list[dict] | None = None, **call_kw: Any
    ):
        self.task, self.system, self.ent, self.tools = task, system, ent, tools or []
        self.rng: random.Random = ent.rng
        self.msgs: list[dict] = []
        self.calls: list[Call] = []
        self.t = 0.0
        self.call_kw = call_kw

    def user(self, text: str) -> None:
        self.t += self.rng.uniform(8, 70)
        self.msgs.append({"role": "user", "content": text})

    def _snapshot(self, output: dict) -> None:
        echo = {"role": "assistant", **output}
        self.calls.append(
            Call(
                task=self.task,
                system=self.system,
                messages=list(self.msgs),
                output=output,
                tools=self.tools,
                sensitive=self.ent.found,
                offset_s=self.t,
                turn=len(self.calls),
                echo=echo,
                **self.call_kw,
            )
        )
        self.msgs.append(echo)
        self.t += self.rng.uniform(1.5, 6.0)

    def act_tools(self, *calls: tuple[str, dict]) -> list[str]:
        """The agent calls one or more tools (parallel when several); returns their call ids."""
        tcs = [
            {"id": self.ent.chars(ALNUM, 24), "name": name, "arguments": args}
            for name, args in calls
        ]
        self._snapshot({"content": None, "tool_calls": tcs})
        return [tc["id"] for tc in tcs]

    def result(self, call_id: str, name: str, payload: Any) -> None:
        self.t += self.rng.uniform(0.1, 1.2)
        self.msgs.append(
            {"role": "tool", "tool_call_id": call_id, "name": name, "content": compact(payload)}
        )

    def results(self, ids: list[str], names: list[str], payloads: list[Any]) -> None:
        for cid, name, payload in zip(ids, names, payloads, strict=True):
            self.result(cid, name, payload)

    def reply(self, text: str) -> None:
        self._snapshot({"content": text, "tool_calls": None})


def single(
    task: str, system: str, ent: Ent, user_text: str, output_text: str, **call_kw: Any
) -> Call:
    """A one-shot call (system + one user message -> text/JSON output)."""
    return Call(
        task=task,
        system=system,
        messages=[{"role": "user", "content": user_text}],
        output={"content": output_text, "tool_calls": None},
        sensitive=ent.found,
        **call_kw,
    )
