"""`slmconvert serve`: put the router in front of an agent as an OpenAI-compatible endpoint.

No `from __future__ import annotations` here: the command helper reads option metadata from
the live annotations."""

import signal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer

from slmconvert.cli.common import EXIT_INTERRUPTED, CommonOptions, command, print_json
from slmconvert.cli.safe import safe_text
from slmconvert.errors import UsageError


def _check_url(flag: str, url: str | None) -> None:
    if url is not None and urlsplit(url).scheme not in ("http", "https"):
        raise UsageError(f"{flag} must be an http(s) URL ending in /v1", hint=f"e.g. {flag} https://api.openai.com/v1")


def _shown(url: str) -> str:
    """A URL without any user:password part (for the console)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def register(app: typer.Typer) -> None:
    @command(app, "serve", help="Serve an OpenAI-compatible endpoint that answers promoted clusters with their SLM "
             "and forwards everything else to the LLM; logs served calls for `iterate --logs`.")
    def serve(
        opts: CommonOptions,
        llm_base_url: Annotated[str, typer.Option("--llm-base-url", help="The upstream LLM's OpenAI-compatible base "
                                                  "URL (…/v1).", show_default=False)],
        slm_base_url: Annotated[
            str | None, typer.Option("--slm-base-url", help="An OpenAI-compatible SLM server (the `vllm serve … "
                                     "--enable-lora` command `export` prints); default: the SLMs run in this process.")
        ] = None,
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8080,
        router: Annotated[
            Path | None, typer.Option("--router", help="Serve this router directory (no hot swap); default: "
                                      "<workdir>/iterate/LATEST/router, reloaded when LATEST changes.")
        ] = None,
        llm_key_env: Annotated[str, typer.Option("--llm-key-env", help="Environment variable holding the "
                                                 "upstream key (never logged).")] = "OPENAI_API_KEY",
        client_key_env: Annotated[str, typer.Option("--client-key-env", help="Environment variable holding the "
                                                    "bearer key clients must send (unset: no client auth).")]
        = "SLMCONVERT_SERVE_API_KEY",
        slm_key_env: Annotated[str, typer.Option("--slm-key-env", help="Environment variable holding the SLM "
                                                 "server's key, if it has one (never logged).")]
        = "SLMCONVERT_SLM_API_KEY",
        llm_timeout: Annotated[float, typer.Option("--llm-timeout", help="Seconds per upstream attempt.", min=0.1)]
        = 120.0,
        llm_retries: Annotated[int, typer.Option("--llm-retries", help="Retries on upstream 429/5xx/timeouts.",
                                                 min=0)] = 3,
        slm_timeout: Annotated[float, typer.Option("--slm-timeout", help="Seconds to wait for an SLM answer before "
                                                   "the LLM answers instead.", min=0.1)] = 30.0,
        device: Annotated[str, typer.Option("--device", help="Device for in-process SLMs (auto, cpu, cuda, mps).")]
        = "auto",
        batch_size: Annotated[int, typer.Option("--batch-size", help="Most SLM calls answered in one batch.", min=1)]
        = 8,
        no_log: Annotated[bool, typer.Option("--no-log", help="Do not log served traffic.")] = False,
        log_dir: Annotated[Path | None, typer.Option("--log-dir", help="Traffic log directory (default: "
                                                     "<workdir>/served).")] = None,
        rotate_minutes: Annotated[float, typer.Option("--rotate-minutes", help="Start a new traffic log file "
                                                      "this often.", min=0.1)] = 60.0,
        reload_seconds: Annotated[float, typer.Option("--reload-seconds", help="How often to look for a new "
                                                      "iterate version (0: never).", min=0)] = 5.0,
        drain_seconds: Annotated[float, typer.Option("--drain-seconds", help="On shutdown, wait this long for "
                                                     "requests in flight.", min=0)] = 30.0,
    ) -> int:
        from slmconvert.serve import ServeSettings, build_gateway, server

        _check_url("--llm-base-url", llm_base_url)
        _check_url("--slm-base-url", slm_base_url)
        settings = ServeSettings(
            workdir=opts.workspace.root, llm_base_url=llm_base_url, slm_base_url=slm_base_url, router_dir=router,
            host=host, port=port, llm_key_env=llm_key_env, client_key_env=client_key_env, slm_key_env=slm_key_env,
            llm_timeout_s=llm_timeout, llm_retries=llm_retries, slm_timeout_s=slm_timeout, slm_batch_size=batch_size,
            device=device, log_traffic=not no_log, log_dir=log_dir, rotate_seconds=rotate_minutes * 60,
            reload_seconds=reload_seconds, drain_seconds=drain_seconds, access_log=opts.verbose,
        )
        gateway = build_gateway(settings)
        if not opts.quiet:
            _announce(opts, settings, gateway)
        running = server(gateway)
        running.run()
        summary = _summary(gateway)
        if opts.json:
            print_json(summary)
        elif not opts.quiet:
            opts.console.print(f"stopped after {summary['requests']} request(s): {summary['slm']} answered by SLMs, "
                               f"{summary['escalated']} escalated", highlight=False)
        return EXIT_INTERRUPTED if running.stopped_by == signal.SIGINT else 0


def _announce(opts: CommonOptions, settings: Any, gateway: Any) -> None:
    console = opts.console
    current = gateway.holder.current
    console.print(f"serving http://{settings.host}:{settings.port}/v1 -> LLM {safe_text(_shown(settings.llm_base_url))}",
                  highlight=False)
    if current.router is None:
        console.print("[yellow]no iterate version yet:[/yellow] every call goes to the LLM until one is published",
                      highlight=False)
    else:
        promoted = [r.cluster_id for r in current.router.config.promoted]
        console.print(f"router: iterate {safe_text(current.version)}, SLM clusters {promoted or 'none'}"
                      + ("" if settings.router_dir else " (new versions picked up automatically)"), highlight=False)
    where = f"remote {safe_text(_shown(settings.slm_base_url))}" if settings.slm_base_url else f"in-process ({settings.device})"
    console.print(f"SLMs: {where}; client key: {'required' if settings.client_key() else 'not required'}; "
                  f"traffic log: {safe_text(settings.traffic_dir) if settings.log_traffic else 'off'}", highlight=False)


def _summary(gateway: Any) -> dict[str, Any]:
    from slmconvert.serve.metrics import Metrics

    metrics: Metrics = gateway.metrics
    totals = metrics.totals("slmconvert_requests_total", "route")
    escalated = sum(metrics.totals("slmconvert_escalations_total", "reason").values())
    return {"requests": int(sum(totals.values())), "slm": int(totals.get("slm", 0)), "escalated": int(escalated),
            "router_version": gateway.holder.current.version,
            "traffic_files": [str(p) for p in gateway.traffic.files] if gateway.traffic else []}
