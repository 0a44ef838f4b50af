"""One request through the gateway: read it, route it, let the cluster's SLM answer and check the
answer, else (or on any SLM failure) forward it to the LLM; then answer in the OpenAI format, log
the call and count it. The gateway never drops a request: every path ends in an answer."""

from __future__ import annotations

import hmac
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from slmconvert.artifacts.adapters import SLM_MODEL_PREFIX
from slmconvert.models.prompt import PromptFormat
from slmconvert.router.export import adapter_name
from slmconvert.router.generator import Generator
from slmconvert.router.router import Router, ServedCall
from slmconvert.serve import openai_io as io
from slmconvert.serve.batcher import Batcher
from slmconvert.serve.metrics import Metrics
from slmconvert.serve.outcome import SLM_ERROR, SLM_TIMEOUT, Outcome
from slmconvert.serve.routers import LoadedRouter, RouterHolder
from slmconvert.serve.settings import ServeSettings
from slmconvert.serve.traffic import TrafficLog
from slmconvert.serve.upstream import LlmUpstream, UpstreamReply

JSON = "application/json"
WORKLOAD_HEADER = "x-slmconvert-workload-id"
CLIENT_HEADER = "x-slmconvert-client-id"

log = logging.getLogger("slmconvert.serve")
ROUTE_BATCH = 64


def slm_model_name(cluster_id: int) -> str:
    """The `model` an SLM answer carries (and its log line: collect keeps it, so SLM-served calls stay visible)."""
    return f"{SLM_MODEL_PREFIX}{adapter_name(cluster_id)}"


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, headers=headers, media_type=JSON)


class Gateway:
    """Everything one serve process holds: router(s), SLM worker, upstream client, traffic log, metrics."""

    def __init__(self, settings: ServeSettings, holder: RouterHolder, generator: Generator, slm: Batcher,
                 upstream: LlmUpstream, traffic: TrafficLog | None, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.holder = holder
        self.generator = generator
        self.slm = slm
        self.upstream = upstream
        self.traffic = traffic
        self.metrics = metrics or Metrics()
        # one routing thread (the assigner is not thread-safe); calls waiting together are assigned in one pass
        self.routing = Batcher("route", ROUTE_BATCH, prepare=_one_torch_thread)

    async def close(self) -> None:
        self.holder.stop()
        await self.upstream.aclose()
        self.slm.close()
        self.routing.close()
        if self.traffic is not None:
            self.traffic.close()

    # -- auth ----------------------------------------------------------------------------------
    def authorised(self, request: Request) -> bool:
        key = self.settings.client_key()
        if not key:
            return True
        sent = request.headers.get("authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {key}".encode())

    @staticmethod
    def unauthorised() -> Response:
        return json_response(io.error_body("missing or wrong API key for this gateway", "invalid_request_error",
                                           "invalid_api_key"), 401)

    # -- one request ---------------------------------------------------------------------------
    async def chat(self, request: Request) -> Response:
        started = time.time()
        body = await request.body()
        chat = io.read_request(body)
        state = self.holder.current
        outcome = Outcome(router_version=state.version)
        try:
            answer = await self._try_slm(state, chat, outcome)
        except Exception as exc:  # noqa: BLE001 - a routing bug must not cost the client its answer
            log.warning("routing failed (%s); the LLM answers", type(exc).__name__)
            if outcome.decided == "slm":
                outcome.escalation, outcome.escalation_detail = SLM_ERROR, type(exc).__name__
            else:
                outcome.reason = f"routing failed ({type(exc).__name__})"
            answer = None
        if answer is not None:
            return self._slm_response(chat, answer, outcome, started, request)
        return await self._llm_response(chat, outcome, started, request)

    async def _try_slm(self, state: LoadedRouter, chat: io.ChatRequest, outcome: Outcome) -> dict[str, Any] | None:
        """The SLM's validated `chat.completion`, or None (outcome says why the LLM answers)."""
        router = state.router
        if router is None:
            outcome.reason = "no router yet (no iterate version): every call goes to the LLM"
            return None
        if chat.record is None:
            outcome.reason = chat.why_llm
            return None
        decision, seconds = await self.routing.submit(("route", id(router)), router.route_many, chat.record)
        outcome.overhead_ms += seconds * 1000
        outcome.decided, outcome.reason = decision.route, decision.reason
        outcome.cluster_id, outcome.assign_confidence = decision.cluster_id, decision.confidence
        if decision.route != "slm":
            return None
        route = router.config.route_for(decision.cluster_id)
        assert route is not None and route.model is not None
        outcome.slm_model = route.model
        fmt = PromptFormat.from_dict(route.prompt_format) if route.prompt_format else PromptFormat()
        adapter = router.adapter_path(route)
        key = (id(self.generator), route.model, str(adapter), repr(fmt.to_dict()), route.max_new_tokens)
        t0 = time.perf_counter()

        def generate(records: list[dict[str, Any]]) -> list[Any]:
            return self.generator.generate(route.model, adapter, fmt, records, route.max_new_tokens)  # type: ignore[arg-type]

        try:
            generation, _ = await self.slm.submit(key, generate, chat.record, self.settings.slm_timeout_s)
        except TimeoutError as exc:
            outcome.escalation, outcome.escalation_detail = SLM_TIMEOUT, str(exc)
            return None
        except Exception as exc:  # noqa: BLE001 - any SLM failure: the LLM answers instead
            outcome.escalation, outcome.escalation_detail = SLM_ERROR, type(exc).__name__
            return None
        finally:
            outcome.slm_ms = (time.perf_counter() - t0) * 1000
        self.metrics.inc("slmconvert_slm_tokens_total", generation.prompt_tokens, kind="prompt")
        self.metrics.inc("slmconvert_slm_tokens_total", generation.new_tokens, kind="completion")
        served, seconds = await self.routing.submit(
            ("check", id(chat)), lambda _: [self._check(router, route, chat.record, generation)], None)
        outcome.overhead_ms += seconds * 1000
        outcome.slm_confidence = served.score
        if served.escalated:
            outcome.escalation, outcome.escalation_detail = served.escalation, served.detail
            return None
        message = io.answer_message(served.parsed)  # type: ignore[arg-type]
        finish = io.finish_reason(message, generation.new_tokens >= route.max_new_tokens)
        return io.completion_body(chat.request_id, slm_model_name(route.cluster_id), message, finish,
                                  io.usage(generation.prompt_tokens, generation.new_tokens))

    @staticmethod
    def _check(router: Router, route: Any, record: dict[str, Any], generation: Any) -> ServedCall:
        served = router.check(route, record, generation)
        if not served.escalated and served.parsed is not None:
            violation = io.tool_choice_violation(record.get("tool_choice"), served.parsed)
            if violation is not None:
                served.escalation, served.detail = io.TOOL_CHOICE, violation
        return served

    # -- answers -------------------------------------------------------------------------------
    def _slm_response(self, chat: io.ChatRequest, body: dict[str, Any], outcome: Outcome, started: float,
                      request: Request) -> Response:
        headers = outcome.headers()
        if not chat.stream:
            self._record(chat, body, 200, outcome, started, request)
            return json_response(body, headers=headers)
        chunks = io.completion_chunks(body, chat.include_usage)

        async def events() -> AsyncIterator[bytes]:
            try:
                for chunk in chunks:
                    yield io.sse(chunk)
                yield io.DONE
            finally:
                self._record(chat, chunks, 200, outcome, started, request)

        return StreamingResponse(events(), headers=headers, media_type="text/event-stream")

    async def _llm_response(self, chat: io.ChatRequest, outcome: Outcome, started: float,
                            request: Request) -> Response:
        client_auth = None if self.settings.client_key() else request.headers.get("authorization")
        reply = await self.upstream.send(chat.body, client_auth, stream=chat.stream)
        outcome.upstream_attempts = reply.attempts
        for cause in reply.retries:
            self.metrics.inc("slmconvert_upstream_retries_total", cause=cause)
        headers = {**reply.headers, **outcome.headers()}
        if reply.stream is None:
            if not reply.ok:
                self.metrics.inc("slmconvert_upstream_errors_total", status=reply.status)
            self._record(chat, _logged_response(reply), reply.status, outcome, started, request)
            headers.pop("content-type", None)
            return Response(reply.content, reply.status, headers=headers,
                            media_type=reply.headers.get("content-type", JSON))
        stream = reply.stream

        async def relay() -> AsyncIterator[bytes]:
            received = bytearray()
            try:
                async for part in stream.aiter_bytes():
                    received += part
                    yield part
            finally:
                await stream.aclose()
                self._record(chat, io.sse_chunks(bytes(received)), reply.status, outcome, started, request)

        headers.pop("content-type", None)
        return StreamingResponse(relay(), reply.status, headers=headers,
                                 media_type=reply.headers.get("content-type", "text/event-stream"))

    # -- bookkeeping ---------------------------------------------------------------------------
    def _record(self, chat: io.ChatRequest, response: Any, status: int, outcome: Outcome, started: float,
                request: Request) -> None:
        """Log the call (flywheel form, readable by collect) and count it; once per request."""
        latency_ms = round((time.time() - started) * 1000, 3)
        if self.traffic is not None:
            self.traffic.write({
                "timestamp": round(started, 6),
                "workload_id": request.headers.get(WORKLOAD_HEADER),
                "client_id": request.headers.get(CLIENT_HEADER),
                "request": chat.payload if chat.payload is not None else chat.body.decode("utf-8", "replace"),
                "response": response,
                "status_code": status,
                "latency_ms": latency_ms,
                "metadata": {"slmconvert": outcome.metadata()},
            })
        self.metrics.inc("slmconvert_requests_total", route=outcome.route, cluster=outcome.cluster_id)
        if outcome.escalation is not None:
            self.metrics.inc("slmconvert_escalations_total", reason=outcome.escalation, cluster=outcome.cluster_id)
        self.metrics.observe("slmconvert_request_seconds", latency_ms / 1000, route=outcome.route)
        if chat.record is not None and outcome.router_version is not None:
            self.metrics.observe("slmconvert_router_overhead_seconds", outcome.overhead_ms / 1000)


_routing_thread = threading.local()


def _one_torch_thread() -> None:
    """One intra-op thread for the routing thread's embeddings (a short text each): on a busy CPU,
    several threads per tiny matmul spin against each other and cost 10-50x more. Per thread, so an
    in-process SLM keeps its own thread count."""
    if getattr(_routing_thread, "limited", False) or "torch" not in sys.modules:
        return
    sys.modules["torch"].set_num_threads(1)
    _routing_thread.limited = True


def _logged_response(reply: UpstreamReply) -> Any:
    """The upstream answer as JSON for the log (an error that is not JSON becomes an error object)."""
    try:
        return orjson.loads(reply.content)
    except orjson.JSONDecodeError:
        return {"error": {"message": f"non-JSON upstream answer ({len(reply.content)} bytes)",
                          "type": "upstream_error", "code": str(reply.status)}}
