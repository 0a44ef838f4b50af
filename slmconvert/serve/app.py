"""The ASGI app (Starlette) and the uvicorn server around a Gateway.

    POST /v1/chat/completions   routed: SLM when its cluster is promoted and the answer passes the checks, else the LLM
    GET  /v1/models             the upstream's models plus one `slmconvert/cluster-<id>` per promoted cluster
    GET  /healthz               liveness and the router version being served
    GET  /metrics               Prometheus text
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from slmconvert.router.generator import Generator, PeftGenerator
from slmconvert.serve.batcher import Batcher
from slmconvert.serve.gateway import Gateway, json_response, slm_model_name
from slmconvert.serve.metrics import Metrics
from slmconvert.serve.remote_slm import RemoteSlmGenerator
from slmconvert.serve.routers import LoadedRouter, RouterHolder, RouterLoader, load_router
from slmconvert.serve.settings import ServeSettings
from slmconvert.serve.traffic import TrafficLog
from slmconvert.serve.upstream import LlmUpstream
from slmconvert.workspace import Workspace

REMOTE_SLM_THREADS = 16


class InFlight:
    """Counts requests until their last byte is sent (streams included): /healthz and the drain use it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.count += 1
        self.metrics.gauge("slmconvert_in_flight_requests", 1)
        try:
            await self.app(scope, receive, send)
        finally:
            self.count -= 1
            self.metrics.gauge("slmconvert_in_flight_requests", -1)


def build_gateway(settings: ServeSettings, loader: RouterLoader = load_router, generator: Generator | None = None,
                  llm_transport: Any = None) -> Gateway:
    """Load the router (exit 5 style errors surface here, before the port is bound) and wire the parts."""
    metrics = Metrics()
    if generator is None:
        generator = (RemoteSlmGenerator(settings.slm_base_url, settings.slm_key, settings.slm_timeout_s)
                     if settings.slm_base_url else PeftGenerator(settings.device, settings.slm_batch_size))
    remote = isinstance(generator, RemoteSlmGenerator)

    def swapped(loaded: LoadedRouter, previous: LoadedRouter) -> None:
        if previous.version is not None:
            metrics.inc("slmconvert_router_swaps_total")
        if remote and loaded.router is not None:
            generator.register(loaded.router)

    holder = RouterHolder(Workspace(settings.workdir), loader, settings.router_dir, on_swap=swapped)
    if remote and holder.current.router is not None:
        generator.register(holder.current.router)
    slm = Batcher("slm", settings.slm_batch_size, REMOTE_SLM_THREADS if remote else 1)
    upstream = LlmUpstream(settings.llm_base_url, settings.llm_key, settings.llm_timeout_s, settings.llm_retries,
                           settings.retry_backoff_s, settings.retry_backoff_max_s, transport=llm_transport)
    traffic = TrafficLog(settings.traffic_dir, settings.rotate_seconds, settings.rotate_bytes) \
        if settings.log_traffic else None
    return Gateway(settings, holder, generator, slm, upstream, traffic, metrics)


def create_app(gateway: Gateway) -> InFlight:
    """The ASGI app; the router watcher starts with it and everything closes after the drain."""

    async def chat(request: Request) -> Response:
        if not gateway.authorised(request):
            return gateway.unauthorised()
        return await gateway.chat(request)

    async def models(request: Request) -> Response:
        if not gateway.authorised(request):
            return gateway.unauthorised()
        data = await _upstream_models(gateway, request)
        router = gateway.holder.current.router
        for route in router.config.promoted if router is not None else ():
            data.append({"id": slm_model_name(route.cluster_id), "object": "model", "created": int(time.time()),
                         "owned_by": "slmconvert"})
        return json_response({"object": "list", "data": data})

    async def healthz(request: Request) -> Response:
        current = gateway.holder.current
        router = current.router
        return json_response({
            "status": "ok", "router_version": current.version,
            "promoted_clusters": [r.cluster_id for r in router.config.promoted] if router is not None else [],
            "in_flight": app.count, "traffic_log": str(gateway.traffic.directory) if gateway.traffic else None,
            "failed_router_versions": sorted(gateway.holder.failed),
        })

    async def metrics(request: Request) -> Response:
        if not gateway.authorised(request):
            return gateway.unauthorised()
        if gateway.traffic is not None:
            errors = gateway.traffic.errors - gateway.metrics.value("slmconvert_traffic_log_errors_total")
            if errors > 0:
                gateway.metrics.inc("slmconvert_traffic_log_errors_total", errors)
        return PlainTextResponse(gateway.metrics.render(), media_type="text/plain; version=0.0.4")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        gateway.holder.watch(gateway.settings.reload_seconds)
        try:
            yield
        finally:
            await gateway.close()

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = InFlight(Starlette(routes=routes, lifespan=lifespan), gateway.metrics)
    return app


async def _upstream_models(gateway: Gateway, request: Request) -> list[dict[str, Any]]:
    """The upstream's model list (one try, short timeout); empty when it cannot say."""
    client_auth = None if gateway.settings.client_key() else request.headers.get("authorization")
    url = gateway.upstream.url.rsplit("/chat/completions", 1)[0] + "/models"
    try:
        response = await gateway.upstream.client.get(url, headers=gateway.upstream.auth_headers(client_auth),
                                                     timeout=5.0)
        data = response.json().get("data") if response.status_code == 200 else None
    except Exception:  # noqa: BLE001 - the listing is a convenience; the gateway's own models still show
        data = None
    return list(data) if isinstance(data, list) else []


class GatewayServer(uvicorn.Server):
    """uvicorn's server, except that a signal ends it cleanly (drained, summary printed) instead of
    being raised again after the shutdown; `stopped_by` says which signal it was."""

    stopped_by: int | None = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.stopped_by = self.stopped_by or sig
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C stops waiting for the drain
        self.should_exit = True


def server(gateway: Gateway) -> GatewayServer:
    """A uvicorn server for the gateway: SIGINT/SIGTERM stop accepting, drain in-flight requests
    (up to drain_seconds), then close the traffic log and clients."""
    settings = gateway.settings
    config = uvicorn.Config(create_app(gateway), host=settings.host, port=settings.port, lifespan="on",
                            log_level="warning", access_log=settings.access_log,
                            timeout_graceful_shutdown=int(settings.drain_seconds), server_header=False)
    return GatewayServer(config)
