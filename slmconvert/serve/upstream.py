"""The upstream LLM: requests forwarded unchanged, 429/5xx/timeouts retried with backoff, and the
upstream's own error returned when retries run out (never a request dropped by the gateway)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import orjson

from slmconvert.serve.openai_io import error_body

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
# upstream response headers worth passing on (no hop-by-hop, length or encoding headers)
PASSED_HEADERS = ("content-type", "x-request-id", "openai-processing-ms", "openai-organization", "openai-version",
                  "retry-after")
PASSED_PREFIXES = ("x-ratelimit-",)


@dataclass
class UpstreamReply:
    """A finished upstream answer (or the error that ended the retries), or an open stream."""

    status: int
    headers: dict[str, str]
    content: bytes = b""
    stream: httpx.Response | None = None
    attempts: int = 1
    failure: str | None = None  # "timeout" / "connect" when no upstream answer came at all
    retries: list[str] = field(default_factory=list)  # why each retry happened (status or error kind)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def passed_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items()
            if k.lower() in PASSED_HEADERS or k.lower().startswith(PASSED_PREFIXES)}


class LlmUpstream:
    """An OpenAI-compatible endpoint (`base_url` ends in /v1) reached through one pooled async client."""

    def __init__(self, base_url: str, key: Callable[[], str | None], timeout_s: float = 120.0, retries: int = 3,
                 backoff_s: float = 0.5, backoff_max_s: float = 8.0, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], object] | None = None) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.key = key
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep or asyncio.sleep
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
                                        limits=limits, transport=transport)

    async def aclose(self) -> None:
        await self.client.aclose()

    def auth_headers(self, client_auth: str | None) -> dict[str, str]:
        """The upstream key from the environment; else the client's own Authorization header."""
        headers: dict[str, str] = {}
        key = self.key()
        if key:
            headers["authorization"] = f"Bearer {key}"
        elif client_auth:
            headers["authorization"] = client_auth
        return headers

    def _headers(self, client_auth: str | None) -> dict[str, str]:
        return {"content-type": "application/json", "accept": "application/json", **self.auth_headers(client_auth)}

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = min(self.backoff_max_s, self.backoff_s * (2 ** attempt)) * (0.5 + random.random() / 2)
        try:
            if retry_after is not None:
                delay = max(delay, min(self.backoff_max_s, float(retry_after)))
        except ValueError:
            pass
        return delay

    async def send(self, body: bytes, client_auth: str | None = None, stream: bool = False) -> UpstreamReply:
        """POST the body; retried on 429/5xx and transport errors. With `stream`, a 2xx reply is left
        open for the caller to pass through (and close)."""
        retries: list[str] = []
        headers = self._headers(client_auth)
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                request = self.client.build_request("POST", self.url, content=body, headers=headers)
                response = await self.client.send(request, stream=True)
            except httpx.TimeoutException:
                kind, status, message = "timeout", 504, "the upstream LLM timed out"
            except httpx.TransportError as exc:
                kind, status, message = "connect", 502, f"the upstream LLM could not be reached ({type(exc).__name__})"
            else:
                if response.status_code in RETRY_STATUS and not last:
                    await response.aclose()
                    retries.append(str(response.status_code))
                    await self._sleep(self._delay(attempt, response.headers.get("retry-after")))
                    continue
                reply = UpstreamReply(response.status_code, passed_headers(response), attempts=attempt + 1,
                                      retries=retries)
                if stream and reply.ok:
                    reply.stream = response
                    return reply
                try:
                    reply.content = await response.aread()
                except httpx.HTTPError:
                    reply.status, reply.failure = 502, "read"
                    reply.content = orjson.dumps(error_body("the upstream LLM broke off its answer", "upstream_error"))
                finally:
                    await response.aclose()
                return reply
            if last:
                detail = f"{message} after {attempt + 1} attempt(s)"
                return UpstreamReply(status, {"content-type": "application/json"},
                                     orjson.dumps(error_body(detail, "upstream_error", kind)),
                                     attempts=attempt + 1, failure=kind, retries=retries)
            retries.append(kind)
            await self._sleep(self._delay(attempt, None))
        raise AssertionError("unreachable")
