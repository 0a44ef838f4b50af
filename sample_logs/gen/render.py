"""Turn planned Calls into log lines of their format (one JSON object per line) and their truth rows."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from . import fmt_anthropic as anth
from . import fmt_openai as oai
from .model import Call
from .plan import LLAMA
from .schedule import to_utc

try:  # optional speed-up; output bytes are identical to the stdlib path (tested)
    import orjson

    def dumps(obj: object) -> str:
        return orjson.dumps(obj).decode()
except ImportError:  # pragma: no cover - exercised when orjson is absent

    def dumps(obj: object) -> str:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


SECRET_TYPES = {
    "OPENAI_KEY",
    "OPENAI_KEY_LEGACY",
    "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "GITHUB_TOKEN",
    "SLACK_TOKEN",
    "STRIPE_KEY",
    "JWT",
    "BEARER_TOKEN",
    "DB_URL_PASSWORD",
}
FLYWHEEL_FILE = {
    "order_support": "flywheel_support",
    "email_extraction": "flywheel_support",
    "intent_classification": "flywheel_support",
}


@dataclass
class Line:
    """One log line waiting to be written, with the truth row that describes it."""

    file: str
    ts: float
    text: str
    truth: dict
    pair: Line | None = None  # the Batch API output line of a Batch input line


def iso_ms(ts: float) -> str:
    return to_utc(ts).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(round(ts * 1000)) % 1000:03d}Z"


def _truth(call: Call, fmt: str, text: str, values: bool) -> dict:
    found = sorted({(k, v) for k, v in call.sensitive if v in text})
    pii: dict[str, int] = {}
    secrets: dict[str, int] = {}
    for kind, _ in found:
        bucket = secrets if kind in SECRET_TYPES else pii
        bucket[kind] = bucket.get(kind, 0) + 1
    row = {
        "format": fmt,
        "task": call.task,
        "kind": call.kind,
        "session": call.session,
        "turn": call.turn,
        "output_type": call.output_type,
        "model": call.model,
        "timestamp": iso_ms(call.ts).replace(".000Z", "Z"),
        "pii": pii,
        "secrets": secrets,
    }
    if call.stream:
        row["streamed"] = True
    if values:
        row["sensitive"] = [list(kv) for kv in found]
    return row


def _openai_line(call: Call, rng: random.Random) -> dict:
    if call.error:
        body = (
            {k: call.error[k] for k in ("message", "type", "param", "code")} | {"object": "error"}
            if call.model.startswith(LLAMA)
            else oai.error_body(call)
        )
        response: object = body
    elif call.stream:
        response = oai.chunks(call, rng)
    else:
        response = oai.response(call, rng)
    line = {
        "timestamp": int(call.ts),
        "workload_id": call.workload_id,
        "client_id": call.client_id,
        "request": oai.request(call, rng),
        "response": response,
        "latency_ms": call.latency_ms,
    }
    if call.error and rng.random() < 0.5:
        line["error_details"] = f"HTTP {call.error['status']}: {call.error['message'][:120]}"
    return line


def _anthropic_line(call: Call, rng: random.Random, service: str) -> dict:
    response = anth.error_response(call, rng) if call.error else anth.response(call, rng)
    return {
        "timestamp": iso_ms(call.ts),
        "service": service,
        "request": anth.request(call, rng, plain_user=rng.random() < 0.3),
        "response": response,
        "latency_ms": call.latency_ms,
        "metadata": {"env": "prod", "conversation_id": call.session},
    }


def render(call: Call, rng: random.Random, service: str, batch_seq: int, values: bool) -> Line:
    """The log line(s) for one call; Batch calls return the input line with its output line attached."""
    fmt = call.fmt
    if fmt == "openai_chat":
        text = dumps(_openai_line(call, rng))
        return Line(
            FLYWHEEL_FILE.get(call.task, "flywheel_ops"),
            call.ts,
            text,
            _truth(call, fmt, text, values),
        )
    if fmt == "anthropic":
        text = dumps(_anthropic_line(call, rng, service))
        return Line("anthropic_messages", call.ts, text, _truth(call, fmt, text, values))
    if fmt == "finetune":
        text = dumps(oai.finetune(call, rng))
        return Line("finetune_export", call.ts, text, _truth(call, fmt, text, values))
    night = to_utc(call.ts)
    week = f"{night.isocalendar()[0]}w{night.isocalendar()[1]:02d}"
    custom_id = f"nightly-{night.strftime('%Y%m%d')}-{batch_seq:06d}"
    inp = dumps(oai.batch_input(call, rng, custom_id))
    out = dumps(oai.batch_output(call, rng, custom_id))
    truth = _truth(call, fmt, inp + out, values) | {"custom_id": custom_id}
    return Line(
        f"batch_{week}_input",
        call.ts,
        inp,
        truth,
        pair=Line(f"batch_{week}_output", call.ts, out, {}),
    )
