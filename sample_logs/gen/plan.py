"""Who calls what: per task its share of traffic, log formats, models, tags and daily rhythm."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from . import (
    task_classify,
    task_drafting,
    task_extract,
    task_logparse,
    task_ops,
    task_sql,
    task_summary,
    task_support,
)
from .entities import Ent
from .model import Call

FORMATS = ("openai_chat", "anthropic", "finetune", "batch")
CLAUDE_SONNET = "claude-sonnet-4-20250514"
FT_EXTRACT = "ft:gpt-4o-mini-2024-07-18:shopright:inbox-extract-v2:B7xQ2kLm"
LLAMA = "meta-llama/Llama-3.3-70B-Instruct"
# diurnal weight per UTC hour (customers are mostly in US time zones)
CUSTOMER_HOURS = (5, 4, 3, 2, 1, 1, 1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 9, 9, 9, 9, 9, 8, 7)
OFFICE_HOURS = (
    2,
    1,
    0.5,
    0.2,
    0.1,
    0.1,
    0.1,
    0.2,
    0.5,
    1,
    2,
    4,
    6,
    8,
    9,
    9,
    9,
    9,
    8,
    8,
    7,
    6,
    4,
    3,
)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    make: Callable[[Ent, date], list[Call]]
    share: float
    formats: tuple[tuple[str, float], ...]
    models: dict[str, tuple[tuple[str, float], ...]]
    workload_id: str
    clients: tuple[str, ...]
    service: str
    hours: tuple[float, ...]
    weekend: float
    p_truncated: float = 0.0


def _one(fn: Callable[[Ent, date], Call]) -> Callable[[Ent, date], list[Call]]:
    return lambda e, today: [fn(e, today)]


TASKS: tuple[TaskSpec, ...] = (
    TaskSpec(
        "order_support",
        task_support.session,
        0.32,
        (("openai_chat", 0.64), ("anthropic", 0.26), ("finetune", 0.10)),
        {
            "openai_chat": (("gpt-4o", 0.85), ("gpt-4.1", 0.15)),
            "anthropic": ((CLAUDE_SONNET, 1.0),),
            "finetune": (("gpt-4o", 1.0),),
        },
        "support_chat.agent",
        ("shopright-web", "shopright-ios", "shopright-android"),
        "cx-chat",
        CUSTOMER_HOURS,
        1.15,
        0.01,
    ),
    TaskSpec(
        "inventory_ops",
        task_ops.session,
        0.145,
        (("openai_chat", 0.72), ("anthropic", 0.28)),
        {
            "openai_chat": (("gpt-4.1", 0.9), ("gpt-4o", 0.1)),
            "anthropic": ((CLAUDE_SONNET, 0.7), ("claude-3-7-sonnet-20250219", 0.3)),
        },
        "wms_copilot.agent",
        ("ops-slackbot",),
        "ops-slackbot",
        OFFICE_HOURS,
        0.45,
    ),
    TaskSpec(
        "email_extraction",
        _one(task_extract.call),
        0.115,
        (("openai_chat", 0.75), ("batch", 0.25)),
        {
            "openai_chat": (("gpt-4o-mini", 0.7), (FT_EXTRACT, 0.3)),
            "batch": (("gpt-4o-mini", 1.0),),
        },
        "inbox_triage.extract",
        ("inbox-pipeline",),
        "inbox-pipeline",
        CUSTOMER_HOURS,
        0.9,
        0.01,
    ),
    TaskSpec(
        "intent_classification",
        _one(task_classify.call),
        0.135,
        (("openai_chat", 0.55), ("batch", 0.45)),
        {
            "openai_chat": (("gpt-4.1-mini", 1.0),),
            "batch": (("gpt-4.1-mini", 0.5), ("gpt-4o-mini", 0.5)),
        },
        "inbox_triage.route",
        ("inbox-pipeline",),
        "inbox-pipeline",
        CUSTOMER_HOURS,
        1.0,
    ),
    TaskSpec(
        "ticket_summary",
        _one(task_summary.call),
        0.105,
        (("anthropic", 0.6), ("batch", 0.4)),
        {"anthropic": (("claude-3-5-haiku-20241022", 1.0),), "batch": (("gpt-4o-mini", 1.0),)},
        "helpdesk.summarize",
        ("helpdesk",),
        "helpdesk-worker",
        CUSTOMER_HOURS,
        0.8,
        0.03,
    ),
    TaskSpec(
        "log_parsing",
        _one(task_logparse.call),
        0.072,
        (("openai_chat", 1.0),),
        {"openai_chat": ((LLAMA, 1.0),)},
        "log_etl.parse",
        ("observability-etl",),
        "observability-etl",
        CUSTOMER_HOURS,
        1.0,
    ),
    TaskSpec(
        "sql_generation",
        _one(task_sql.call),
        0.047,
        (("finetune", 0.6), ("openai_chat", 0.4)),
        {"openai_chat": (("gpt-4.1", 1.0),), "finetune": (("gpt-4.1", 1.0),)},
        "analytics.sql_assistant",
        ("bi-notebooks",),
        "bi-notebooks",
        OFFICE_HOURS,
        0.2,
        0.01,
    ),
    TaskSpec(
        "drafting",
        _one(task_drafting.call),
        0.061,
        (("anthropic", 0.7), ("openai_chat", 0.3)),
        {"anthropic": ((CLAUDE_SONNET, 1.0),), "openai_chat": (("gpt-4o", 1.0),)},
        "marketing.copilot",
        ("marketing-studio",),
        "helpdesk-worker",
        OFFICE_HOURS,
        0.3,
        0.06,
    ),
)

# Latency model per model family: (time to first token ms, ms per output token, ms per 1k prompt tokens)
SPEED = {
    "gpt-4o": (380, 11, 22),
    "gpt-4.1": (420, 12, 22),
    "mini": (260, 6, 9),
    "claude-sonnet": (620, 14, 28),
    "claude-3-7": (650, 15, 28),
    "haiku": (300, 7, 10),
    "llama": (180, 24, 40),
    "ft:": (320, 7, 10),
}


def speed(model: str) -> tuple[float, float, float]:
    for key in (
        "ft:",
        "mini",
        "haiku",
        "llama",
        "claude-3-7",
        "claude-sonnet",
        "gpt-4.1",
        "gpt-4o",
    ):
        if key in model.lower():
            return SPEED[key]
    return SPEED["gpt-4o"]


def token_factor(model: str) -> float:
    """Different tokenizers count the same text differently (chars per token ~4 for OpenAI)."""
    return 1.1 if model.startswith("claude") else 1.05 if "llama" in model.lower() else 1.0


OPENAI_ERRORS = (
    {
        "status": 429,
        "type": "tokens",
        "param": None,
        "code": "rate_limit_exceeded",
        "message": "Rate limit reached for {model} in organization org-Zq3JkVw8TnR2mXbP on tokens per min (TPM): Limit "
        "2000000, Used 1998734, Requested {pt}. Please try again in 52ms. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
    },
    {
        "status": 500,
        "type": "server_error",
        "param": None,
        "code": None,
        "message": "The server had an error while processing your request. Sorry about that!",
    },
    {
        "status": 503,
        "type": "server_error",
        "param": None,
        "code": None,
        "message": "The engine is currently overloaded, please try again later.",
    },
    {
        "status": 408,
        "type": "timeout",
        "param": None,
        "code": "request_timeout",
        "message": "Request timed out.",
    },
)
VLLM_ERROR = {
    "status": 400,
    "type": "BadRequestError",
    "param": None,
    "code": 400,
    "message": "This model's maximum context length is 131072 tokens. However, you requested 131840 tokens "
    "(768 in the messages, 131072 in the completion). Please reduce the length of the messages "
    "or completion.",
}
ANTHROPIC_ERRORS = (
    {"status": 529, "type": "overloaded_error", "message": "Overloaded"},
    {
        "status": 429,
        "type": "rate_limit_error",
        "message": "Number of request tokens has exceeded your per-minute rate limit "
        "(https://docs.anthropic.com/en/api/rate-limits); see the response headers for current usage. Please "
        "reduce the prompt length or the maximum tokens requested, or try again later.",
    },
    {"status": 500, "type": "api_error", "message": "Internal server error"},
)
BATCH_ERRORS = (
    {
        "batch_code": "batch_expired",
        "message": "This request could not be executed before the completion window expired.",
    },
    {
        "status": 429,
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
        "message": "Enqueued token limit reached for gpt-4o-mini in organization org-Zq3JkVw8TnR2mXbP. "
        "Limit: 2,000,000 "
        "enqueued tokens. Please try again once some in_progress batches have been completed.",
    },
)
