"""`malformed.jsonl`: lines a robust collector must reject (or skip) with a clear reason, never crash on."""

from __future__ import annotations

import copy
import json

_REQ = {
    "model": "gpt-4.1-mini",
    "messages": [
        {"role": "system", "content": "Classify the customer's message into one intent label."},
        {"role": "user", "content": "where is my order SR-5550123? email jane.roe@example.com"},
    ],
    "temperature": 0,
}
_RESP = {
    "id": "chatcmpl-BmQx1Zk9fLr2Yt0aNc3Hs7Pq4We5",
    "object": "chat.completion",
    "created": 1794124800,
    "model": "gpt-4.1-mini-2025-04-14",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "order_status", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 61, "completion_tokens": 2, "total_tokens": 63},
}
_BASE = {
    "timestamp": 1794124799,
    "workload_id": "inbox_triage.route",
    "client_id": "inbox-pipeline",
    "request": _REQ,
    "response": _RESP,
}
_TOOL_RESP = {
    **_RESP,
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_Xk2bq9",
                        "type": "function",
                        "function": {"name": "lookup_order", "arguments": "{order_id: SR-5550123}"},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
}


def _j(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _with(path: tuple, value: object, base: dict = _BASE) -> bytes:
    rec = copy.deepcopy(base)
    node = rec
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return _j(rec)


def _nested(depth: int) -> bytes:
    return b'{"request":' + b'{"a":' * depth + b"1" + b"}" * depth + b',"response":{}}'


def lines() -> list[tuple[str, str, bytes]]:
    """(reason, expectation, raw bytes without newline).

    expectation: "reject" (a reject with that reason), "skip" (blank line, may be ignored) or "either"
    (a tolerant reader may accept it, e.g. a BOM that `utf-8-sig` strips)."""
    good = _j(_BASE)
    anth_req = {
        "model": "claude-sonnet-4-20250514",
        "max_tokens": 512,
        "system": "You are Riley.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }
    anth_resp = {
        "id": "msg_01AbCdEfGhIjKlMnOpQrStUv",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "content": [{"type": "tool_use", "id": "toolu_01Xy", "name": "lookup_order"}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 20, "output_tokens": 5},
    }
    return [
        ("invalid JSON: missing closing brace", "reject", good[:-1]),
        (
            "invalid JSON: single-quoted keys",
            "reject",
            b"{'request': {'model': 'gpt-4o'}, 'response': None}",
        ),
        ("truncated line (writer killed mid-record)", "reject", good[: len(good) // 2]),
        ("top-level JSON array", "reject", _j([_BASE])),
        ("top-level JSON string", "reject", _j("request/response pair")),
        ("top-level JSON number", "reject", b"42"),
        ("top-level JSON null", "reject", b"null"),
        (
            "unknown format: object with unrelated keys",
            "reject",
            _j({"event": "page_view", "path": "/cart", "ms": 12}),
        ),
        (
            "request without response",
            "reject",
            _j({k: v for k, v in _BASE.items() if k != "response"}),
        ),
        (
            "response without request",
            "reject",
            _j({k: v for k, v in _BASE.items() if k != "request"}),
        ),
        ("tool-call arguments are not valid JSON", "reject", _with(("response",), _TOOL_RESP)),
        (
            "tool-call arguments truncated mid-string",
            "reject",
            _with(
                ("response", "choices", 0, "message", "tool_calls", 0, "function", "arguments"),
                '{"order_id":"SR-55',
                {**_BASE, "response": copy.deepcopy(_TOOL_RESP)},
            ),
        ),
        (
            "non-UTF-8 bytes (latin-1 encoded text)",
            "reject",
            good.replace(b"jane.roe", "Jos\u00e9 M\u00fcller".encode("latin-1")),
        ),
        ("empty line", "skip", b""),
        ("whitespace-only line", "skip", b"   \t  "),
        ("JSON nested 10,000 levels deep", "reject", _nested(10000)),
        ("response.choices is empty", "reject", _with(("response", "choices"), [])),
        (
            "request.messages is a string, not a list",
            "reject",
            _with(("request", "messages"), "where is my order?"),
        ),
        ("request.messages is empty", "reject", _with(("request", "messages"), [])),
        (
            "message with unknown role",
            "reject",
            _with(("request", "messages", 1, "role"), "customer"),
        ),
        (
            "response is an HTML error page, not JSON",
            "reject",
            _with(
                ("response",),
                "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
            ),
        ),
        (
            "non-standard JSON literal NaN",
            "reject",
            good.replace(b'"prompt_tokens":61', b'"prompt_tokens":NaN'),
        ),
        (
            "number too large for a float (1e400)",
            "reject",
            good.replace(b'"prompt_tokens":61', b'"prompt_tokens":1e400'),
        ),
        (
            "lone UTF-16 surrogate escape in a string",
            "reject",
            good.replace(b"where is my order", b"where is my order \\ud83d"),
        ),
        ("trailing garbage after the JSON object", "reject", good + b" }}garbage"),
        ("two JSON objects on one line", "reject", good + good),
        (
            "Anthropic tool_use block without input",
            "reject",
            _j(
                {
                    "timestamp": "2026-11-09T10:00:00.000Z",
                    "request": anth_req,
                    "response": anth_resp,
                }
            ),
        ),
        (
            "fine-tuning record whose last message is not from the assistant",
            "reject",
            _j(
                {
                    "messages": [
                        {"role": "system", "content": "You are Riley."},
                        {"role": "user", "content": "cancel SR-5550123"},
                    ]
                }
            ),
        ),
        (
            "fine-tuning record with tool_calls arguments as an object, not a JSON string",
            "reject",
            _j(
                {
                    "messages": [
                        {"role": "user", "content": "track SR-5550123"},
                        {
                            "role": "assistant",
                            "tool_calls": [
                                {
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {
                                        "name": "lookup_order",
                                        "arguments": {"order_id": "SR-5550123"},
                                    },
                                }
                            ],
                        },
                    ]
                }
            ),
        ),
        (
            "Batch API output line whose custom_id has no input line",
            "reject",
            _j(
                {
                    "id": "batch_req_0000orphan",
                    "custom_id": "nightly-20261101-999999",
                    "response": {"status_code": 200, "request_id": "f" * 32, "body": _RESP},
                    "error": None,
                }
            ),
        ),
        ("streamed response recorded as an empty chunk list", "reject", _with(("response",), [])),
        ("UTF-8 byte-order mark before the JSON object", "either", b"\xef\xbb\xbf" + good),
    ]
