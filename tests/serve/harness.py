"""A fake upstream LLM and a gateway on localhost threads, a keyword assigner and a scripted SLM,
so serve tests use the real HTTP stack (and the official openai SDK) without any model or network."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from slmconvert.router.generator import Generation
from slmconvert.router.router import Router
from slmconvert.serve import ServeSettings, build_gateway, server
from slmconvert.serve.gateway import Gateway
from tests.router.fakes import make_router, tool_text

SEARCH_TOOL = {"type": "function", "function": {
    "name": "search_orders", "description": "Search orders.",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadServer:
    """uvicorn in a daemon thread (no signal handlers), stopped with should_exit."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.run, daemon=True)

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 20) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


# -- fake upstream LLM ---------------------------------------------------------------------------
@dataclass
class FakeLLM:
    """Answers chat completions like the OpenAI API. `fail` queues statuses to answer first
    (e.g. [500, 500]); `delay_s` sleeps before answering (timeouts)."""

    fail: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)

    def answer(self, payload: dict[str, Any]) -> dict[str, Any]:
        last = str(payload["messages"][-1].get("content") or "")
        message: dict[str, Any] = {"role": "assistant", "content": f"LLM says: {last[:40]}", "refusal": None}
        finish = "stop"
        if payload.get("tools") and "[llm-tool]" in last:
            message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
                {"id": "call_llm1", "type": "function",
                 "function": {"name": payload["tools"][0]["function"]["name"], "arguments": '{"order_id": "A-1"}'}}]}
            finish = "tool_calls"
        return {"id": "chatcmpl-upstream", "object": "chat.completion", "created": 1764000000,
                "model": payload.get("model", "gpt-test"),
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}

    async def handle(self, request: Request) -> Response:
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return Response(b'{"error": {"message": "We could not parse the JSON body", "type": "invalid_request_error"}}',
                            400, media_type="application/json")
        self.requests.append(payload)
        self.auth.append(request.headers.get("authorization"))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail:
            status = self.fail.pop(0)
            body = {"error": {"message": f"upstream failure {status}", "type": "server_error", "param": None,
                              "code": None}}
            return Response(orjson.dumps(body), status, media_type="application/json",
                            headers={"x-request-id": "req-upstream"})
        body = self.answer(payload)
        if not payload.get("stream"):
            return Response(orjson.dumps(body), media_type="application/json", headers={"x-request-id": "req-upstream"})
        return StreamingResponse(self._stream(body, payload), media_type="text/event-stream")

    async def _stream(self, body: dict[str, Any], payload: dict[str, Any]):
        from slmconvert.serve.openai_io import completion_chunks, sse

        include = bool((payload.get("stream_options") or {}).get("include_usage"))
        for chunk in completion_chunks(body, include):
            yield sse(chunk)
            await asyncio.sleep(0)
        yield b"data: [DONE]\n\n"

    async def models(self, request: Request) -> Response:
        return Response(orjson.dumps({"object": "list", "data": [
            {"id": "gpt-test", "object": "model", "created": 1, "owned_by": "upstream"}]}), media_type="application/json")

    def server(self, port: int) -> ThreadServer:
        app = Starlette(routes=[Route("/v1/chat/completions", self.handle, methods=["POST"]),
                                Route("/v1/models", self.models, methods=["GET"])])
        return ThreadServer(uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                                          access_log=False, lifespan="off")))


# -- routing fakes -------------------------------------------------------------------------------
def _last_user(record: dict[str, Any]) -> str:
    users = [m for m in record.get("messages") or [] if m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    return content if isinstance(content, str) else ""


class KeywordAssigner:
    """'order' -> cluster 0 (promoted), 'draft' -> 1 (stays on the LLM), else outside every cluster."""

    def assign(self, records: list[dict]) -> list[tuple[int, float]]:
        out = []
        for r in records:
            text = _last_user(r).lower()
            out.append((0, 0.9) if "order" in text else (1, 0.8) if "draft" in text else (-1, 0.0))
        return out


# marker in the user message -> what the scripted SLM answers (text, logprob per token)
SLM_SCRIPT: dict[str, tuple[str, float]] = {
    "[unparseable]": ("<tool_call>{not json</tool_call>", -0.1),
    "[unknown-tool]": (tool_text("delete_everything", '{"order_id": "A-17"}'), -0.1),
    "[bad-args]": (tool_text("lookup_order", '{"order_id": 17}'), -0.1),
    "[unsure]": (tool_text("lookup_order", '{"order_id": "A-17"}'), -3.0),
    "[json]": ('{"intent": "refund"}', -0.1),
    "[bad-json]": ('{"intent": "cancel"}', -0.1),
    "[text]": ("Your order A-17 ships tomorrow.", -0.1),
}


class ScriptedSlm:
    """The promoted cluster's SLM: a lookup_order call for the order id in the message, or the answer a
    marker asks for; `[crash]` raises, `[slow]` sleeps past the gateway's SLM timeout."""

    def __init__(self, slow_s: float = 2.0) -> None:
        self.slow_s = slow_s
        self.batches: list[int] = []
        self.lock = threading.Lock()

    def generate(self, model, adapter, fmt, records, max_new_tokens, progress=None) -> list[Generation]:
        with self.lock:
            self.batches.append(len(records))
        out = []
        for r in records:
            text = _last_user(r)
            if "[crash]" in text:
                raise RuntimeError("model fell over")
            if "[slow]" in text:
                time.sleep(self.slow_s)
            marker = next((m for m in SLM_SCRIPT if m in text), None)
            if marker is not None:
                answer, lp = SLM_SCRIPT[marker]
            else:
                found = re.search(r"A-\d+", text)
                order = found.group(0) if found else "A-0"
                answer, lp = tool_text("lookup_order", f'{{"order_id": "{order}"}}'), -0.1
            ends = list(range(4, len(answer), 4)) + [len(answer)]
            out.append(Generation(text=answer, logprobs=[lp] * len(ends), ends=ends, prompt_tokens=30,
                                  new_tokens=len(ends), seconds=0.001, batch_size=len(records), batch_id="b"))
        return out


def router_loader() -> Callable[[Path], Router]:
    def load(directory: Path) -> Router:
        return Router.load(directory, assigner=KeywordAssigner())
    return load


def write_router_version(workdir: Path, version: str, promoted: bool = True, threshold: float | None = -0.5) -> Path:
    """An iterate version holding only a router (what serve reads), and LATEST pointing at it."""
    from slmconvert.workspace import Workspace

    base = workdir / "iterate" / version
    base.mkdir(parents=True)
    router = make_router(base, threshold=threshold)  # writes base/router/router.json
    if not promoted:
        for route in router.config.routes:
            route.promoted, route.reason = False, "demoted in this version"
        router.config.save(base / "router")
    Workspace(workdir).set_latest("iterate", version)
    return base / "router"


@dataclass
class Running:
    gateway: Gateway
    url: str
    llm: FakeLLM
    threads: list[ThreadServer]

    def client(self, **kwargs: Any):
        import openai

        return openai.OpenAI(base_url=self.url + "/v1", api_key=kwargs.pop("api_key", "client-key"), max_retries=0,
                             timeout=kwargs.pop("timeout", 30), **kwargs)


@contextlib.contextmanager
def running(workdir: Path, llm: FakeLLM | None = None, slm: Any = None, **overrides: Any) -> Iterator[Running]:
    """A fake LLM and a gateway (with the scripted SLM) on free localhost ports; both stopped after."""
    llm = llm or FakeLLM()
    llm_port, port = free_port(), free_port()
    upstream = llm.server(llm_port).start()
    options = {"retry_backoff_s": 0.01, "retry_backoff_max_s": 0.05, "reload_seconds": 0.05, "slm_timeout_s": 1.0,
               "llm_timeout_s": 5.0, **overrides}
    settings = ServeSettings(workdir=workdir, llm_base_url=f"http://127.0.0.1:{llm_port}/v1", port=port, **options)
    gateway = build_gateway(settings, loader=router_loader(), generator=slm or ScriptedSlm())
    gate = ThreadServer(server(gateway)).start()
    try:
        yield Running(gateway, f"http://127.0.0.1:{port}", llm, [gate, upstream])
    finally:
        gate.stop()
        upstream.stop()


def raw_post(url: str, payload: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json=payload, headers=headers or {}, timeout=30)
