"""Turn a task's hourly quota into fully specified Calls: sessions, times, models, usage, latency, faults."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from .entities import Ent
from .fmt_anthropic import PREFACES
from .model import Call, compact
from .plan import (
    ANTHROPIC_ERRORS,
    BATCH_ERRORS,
    LLAMA,
    OPENAI_ERRORS,
    VLLM_ERROR,
    TaskSpec,
    speed,
    token_factor,
)
from .text import pick, truncate_words, weighted

P_ERROR, P_INVALID_ARGS, P_STREAM = 0.015, 0.005, 0.04


def hourly_quota(spec: TaskSpec, total: int, start: datetime, hours: int) -> list[int]:
    """Calls per hour for one task: diurnal and weekday rhythm, integer counts that sum to `total`."""
    weights = []
    for h in range(hours):
        t = start + timedelta(hours=h)
        weights.append(spec.hours[t.hour] * (spec.weekend if t.weekday() >= 5 else 1.0))
    scale = total / sum(weights)
    out, acc, given = [], 0.0, 0
    for w in weights:
        acc += w * scale
        n = math.floor(acc + 1e-9) - given
        out.append(n)
        given += n
    out[-1] += total - given
    return out


def tokens(text: str) -> int:
    return max(1, round(len(text) / 4))


_TOOL_TOKENS: dict[int, int] = {}


def _tool_tokens(tools: list[dict]) -> int:
    """Token count of a tool belt; the belts are module constants, so their id is a safe cache key."""
    if not tools:
        return 0
    if id(tools) not in _TOOL_TOKENS:
        _TOOL_TOKENS[id(tools)] = tokens(compact(tools))
    return _TOOL_TOKENS[id(tools)]


def _usage(call: Call) -> None:
    f = token_factor(call.model)
    body = 0
    for m in call.messages:
        text = m.get("content") or ""
        text += "".join(tc["name"] + compact(tc["arguments"]) for tc in m.get("tool_calls") or [])
        body += tokens(text) + 4
    prefix = (
        tokens(call.system)
        + 4
        + _tool_tokens(call.tools)
        + (340 if call.tools and call.model.startswith("claude") else 0)
    )
    call.prefix_tokens = round(prefix * f)
    call.prompt_tokens = call.prefix_tokens + round(body * f) + 3
    out = call.output.get("content") or ""
    out += "".join(
        tc["name"] + (tc.get("raw_arguments") or compact(tc["arguments"])) + "  "
        for tc in call.output.get("tool_calls") or []
    )
    call.completion_tokens = max(1, round(tokens(out) * f))


def _latency(call: Call, rng: random.Random) -> float:
    ttft, per_out, per_k = speed(call.model)
    ms = (ttft + per_out * call.completion_tokens + per_k * call.prompt_tokens / 1000) * math.exp(
        rng.gauss(0, 0.25)
    )
    return round(ms, 1)


def finalize(call: Call, rng: random.Random) -> None:
    """Usage, prompt-cache hit and latency for a call whose model and output are final."""
    _usage(call)
    hit_rate = 0.85 if call.tools else 0.5 if call.prompt_tokens >= 1024 else 0.0
    call.cache_hit = rng.random() < hit_rate
    call.latency_ms = _latency(call, rng)
    call.finish_reason = "tool_calls" if call.output.get("tool_calls") else "stop"


def build_sessions(
    spec: TaskSpec,
    seed: int,
    hour: int,
    quota: int,
    start: datetime,
    formats: tuple[tuple[str, float], ...],
) -> list[Call]:
    """All calls of one task that start in one hour, with times, formats, models and tags set."""
    rng = random.Random(f"{seed}:{spec.name}:{hour}")
    hour_start = start + timedelta(hours=hour)
    calls: list[Call] = []
    while len(calls) < quota:
        e = Ent(rng)
        session = spec.make(e, hour_start.date())[: quota - len(calls)]
        fmt = weighted(rng, formats)
        model = weighted(rng, spec.models.get(fmt) or next(iter(spec.models.values())))
        sid = f"{spec.name[:3]}_{''.join(rng.choice('0123456789abcdef') for _ in range(12))}"
        t0 = hour_start.timestamp() + rng.uniform(0, 3600)
        client = pick(rng, spec.clients)
        for c in session:
            c.session, c.fmt, c.model, c.client_id, c.workload_id = (
                sid,
                fmt,
                model,
                client,
                spec.workload_id,
            )
            c.ts = round(t0 + c.offset_s, 3)
            if fmt == "batch":  # queued for the nightly Batch API run at 03:00 UTC the next day
                night = (hour_start + timedelta(days=1)).replace(hour=3, minute=0, second=0)
                c.ts = round(night.timestamp() + rng.uniform(0, 3000), 3)
            if fmt == "anthropic" and c.output.get("tool_calls") and rng.random() < 0.25:
                c.output["content"] = c.echo["content"] = pick(rng, PREFACES)
            finalize(c, rng)
            c.stream = (
                fmt == "openai_chat" and rng.random() < P_STREAM and not model.startswith(LLAMA)
            )
        calls += session
    return calls


def _broken_json(rng: random.Random, args: dict) -> str:
    good = compact(args)
    return pick(
        rng,
        (good[:-1], good.replace('"', "'"), good[:-1] + ",}", "{" + good[2:].replace('"', "", 1)),
    )


def faults(call: Call, rng: random.Random, spec: TaskSpec) -> list[Call]:
    """Fault variants logged for this call (an error, a truncated or an invalid-arguments attempt)."""
    if call.fmt == "finetune":
        return []
    out = []
    r = rng.random()
    if r < P_ERROR:
        table = (
            ANTHROPIC_ERRORS
            if call.fmt == "anthropic"
            else BATCH_ERRORS
            if call.fmt == "batch"
            else (VLLM_ERROR,)
            if call.model.startswith(LLAMA)
            else OPENAI_ERRORS
        )
        err = dict(pick(rng, table))
        err["message"] = (
            err["message"].replace("{model}", call.model).replace("{pt}", str(call.prompt_tokens))
        )
        bad = replace(
            call,
            kind="error",
            error=err,
            stream=False,
            finish_reason="error",
            latency_ms=round(
                rng.uniform(40, 900) if err.get("status", 0) < 500 else rng.uniform(2000, 30000), 1
            ),
        )
        bad.ts = round(call.ts - bad.latency_ms / 1000 - rng.uniform(0.2, 2.0), 3)
        out.append(bad)
    elif (
        r < P_ERROR + spec.p_truncated
        and call.output.get("content")
        and not call.output.get("tool_calls")
    ):
        limit = max(16, round(call.completion_tokens * rng.uniform(0.3, 0.7)))
        text = truncate_words(call.output["content"], limit * 4)
        cut = replace(
            call,
            kind="truncated",
            output={"content": text, "tool_calls": None},
            max_tokens=limit,
            finish_reason="length",
            stream=False,
        )
        cut.completion_tokens = limit
        cut.ts = round(call.ts - rng.uniform(3, 20), 3)
        out.append(cut)
    elif (
        call.fmt == "openai_chat"
        and call.output.get("tool_calls")
        and rng.random() < P_INVALID_ARGS
    ):
        tcs = [dict(tc) for tc in call.output["tool_calls"]]
        tcs[0]["raw_arguments"] = _broken_json(rng, tcs[0]["arguments"])
        bad = replace(
            call, kind="invalid_args", output={"content": None, "tool_calls": tcs}, stream=False
        )
        bad.ts = round(call.ts - rng.uniform(2, 8), 3)
        out.append(bad)
    return out


def to_utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)
