"""The gateway through the official openai SDK: SLM answers, LLM pass-through, every escalation
reason, JSON mode, headers and OpenAI-exact bodies (fake LLM and scripted SLM on localhost)."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.router.fakes import LOOKUP_TOOL
from tests.serve.harness import FakeLLM, ScriptedSlm, raw_post, running, write_router_version

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def gate(tmp_path):
    write_router_version(tmp_path / "work", "v1")
    with running(tmp_path / "work") as run:
        yield run


def ask(client, text, **kwargs):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": text}], **kwargs)
    return raw.parse(), raw.headers


def test_promoted_cluster_answered_by_the_slm(gate):
    answer, headers = ask(gate.client(), "where is order A-42?", tools=[LOOKUP_TOOL])
    assert headers["x-slmconvert-route"] == "slm"
    assert headers["x-slmconvert-cluster"] == "0"
    assert headers["x-slmconvert-escalation"] == "none"
    assert headers["x-slmconvert-router-version"] == "v1"
    assert float(headers["x-slmconvert-overhead-ms"]) >= 0
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.index == 0
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "lookup_order" and call.id.startswith("call_")
    assert json.loads(call.function.arguments) == {"order_id": "A-42"}
    assert choice.message.content is None and choice.message.role == "assistant"
    assert answer.id.startswith("chatcmpl-") and answer.object == "chat.completion"
    assert answer.model == "slmconvert/cluster-0"
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens > 0
    assert gate.llm.requests == []  # the LLM never saw it


def test_other_calls_pass_through_to_the_llm(gate):
    client = gate.client()
    for text, cluster in (("draft a launch plan", "1"), ("hello there", "-1")):
        answer, headers = ask(client, text, temperature=0.3)
        assert headers["x-slmconvert-route"] == "llm" and headers["x-slmconvert-cluster"] == cluster
        assert headers["x-request-id"] == "req-upstream"  # upstream headers passed on
        assert answer.choices[0].message.content == f"LLM says: {text}"
        assert answer.id == "chatcmpl-upstream"
    assert [r["messages"][0]["content"] for r in gate.llm.requests] == ["draft a launch plan", "hello there"]
    assert gate.llm.requests[0]["temperature"] == 0.3  # forwarded unchanged


REQUIRED = {"type": "function", "function": {"name": "lookup_order"}}
ESCALATIONS = {
    "parse_error": ("order A-1 [unparseable]", {}),
    "unknown_tool": ("order A-1 [unknown-tool]", {}),
    "schema_error": ("order A-1 [bad-args]", {}),
    "low_confidence": ("order A-1 [unsure]", {}),
    "slm_error": ("order A-1 [crash]", {}),
    "slm_timeout": ("order A-1 [slow]", {}),
    "tool_choice": ("order A-1 [text]", {"tool_choice": REQUIRED}),
}


@pytest.mark.parametrize("reason", sorted(ESCALATIONS))
def test_every_escalation_reason_goes_to_the_llm(gate, reason):
    text, extra = ESCALATIONS[reason]
    answer, headers = ask(gate.client(), text, tools=[LOOKUP_TOOL], **extra)
    assert headers["x-slmconvert-escalation"] == reason
    assert headers["x-slmconvert-route"] == "llm" and headers["x-slmconvert-cluster"] == "0"
    assert answer.choices[0].message.content == f"LLM says: {text}"
    forwarded = gate.llm.requests[-1]
    assert forwarded["messages"] == [{"role": "user", "content": text}] and forwarded["tools"] == [LOOKUP_TOOL]
    metrics = httpx.get(gate.url + "/metrics").text
    assert f'slmconvert_escalations_total{{cluster="0",reason="{reason}"}} 1' in metrics


def test_text_answer_with_tools_offered_is_kept(gate):
    answer, headers = ask(gate.client(), "order A-17 status [text]", tools=[LOOKUP_TOOL])
    assert headers["x-slmconvert-route"] == "slm"
    assert answer.choices[0].message.content == "Your order A-17 ships tomorrow."
    assert answer.choices[0].finish_reason == "stop" and answer.choices[0].message.tool_calls is None


INTENT = {"type": "object", "properties": {"intent": {"enum": ["refund", "track"]}}, "required": ["intent"]}


def test_json_mode(gate):
    schema = {"type": "json_schema", "json_schema": {"name": "intent", "schema": INTENT, "strict": True}}
    answer, headers = ask(gate.client(), "classify this order mail [json]", response_format=schema)
    assert headers["x-slmconvert-route"] == "slm"
    assert json.loads(answer.choices[0].message.content) == {"intent": "refund"}
    answer, headers = ask(gate.client(), "classify this order mail [bad-json]", response_format=schema)
    assert headers["x-slmconvert-escalation"] == "schema_error"
    assert gate.llm.requests[-1]["response_format"] == schema
    answer, headers = ask(gate.client(), "order as JSON [json]", response_format={"type": "json_object"})
    assert headers["x-slmconvert-route"] == "slm"


def test_streaming_from_the_slm_and_through_from_the_llm(gate):
    client = gate.client()
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "where is order A-7?"}], tools=[LOOKUP_TOOL],
        stream=True, stream_options={"include_usage": True})
    assert raw.headers["x-slmconvert-route"] == "slm"
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].object == "chat.completion.chunk"
    calls = [tc for c in chunks for ch in c.choices for tc in ch.delta.tool_calls or ()]
    assert [c.function.name for c in calls] == ["lookup_order"]
    assert json.loads(calls[0].function.arguments) == {"order_id": "A-7"}
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == ["tool_calls"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0

    for text in ("draft a long memo", "order A-1 [unsure]"):  # LLM-routed, and escalated
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": text}], stream=True)
        assert raw.headers["x-slmconvert-route"] == "llm"
        pieces = [ch.delta.content or "" for c in raw.parse() for ch in c.choices]
        assert "".join(pieces) == f"LLM says: {text}"
        assert gate.llm.requests[-1]["stream"] is True


def test_slm_text_streams_in_pieces(gate):
    stream = gate.client().chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "order A-17 status [text]"}], stream=True)
    pieces = [ch.delta.content for c in stream for ch in c.choices if ch.delta.content]
    assert len(pieces) >= 2 and "".join(pieces) == "Your order A-17 ships tomorrow."


def test_unreadable_and_unsupported_requests_go_to_the_llm_unchanged(gate):
    bad = httpx.post(gate.url + "/v1/chat/completions", content=b"{not json", timeout=10,
                     headers={"content-type": "application/json"})
    assert bad.status_code == 400 and "could not parse" in bad.json()["error"]["message"]  # the upstream's answer
    assert bad.headers["x-slmconvert-route"] == "llm"
    many = raw_post(gate.url, {"model": "gpt-test", "n": 2, "messages": [{"role": "user", "content": "order A-3"}]})
    assert many.status_code == 200 and many.headers["x-slmconvert-route"] == "llm"
    assert many.headers["x-slmconvert-cluster"] == "-1"  # not even assigned


def test_models_health_and_metrics(gate):
    ask(gate.client(), "where is order A-1?", tools=[LOOKUP_TOOL])
    ask(gate.client(), "draft something")
    ids = [m.id for m in gate.client().models.list()]
    assert ids == ["gpt-test", "slmconvert/cluster-0"]
    health = httpx.get(gate.url + "/healthz").json()
    assert health["status"] == "ok" and health["router_version"] == "v1" and health["promoted_clusters"] == [0]
    text = httpx.get(gate.url + "/metrics").text
    assert 'slmconvert_requests_total{cluster="0",route="slm"} 1' in text
    assert 'slmconvert_requests_total{cluster="1",route="llm"} 1' in text
    assert 'slmconvert_slm_tokens_total{kind="prompt"} 30' in text
    assert 'slmconvert_request_seconds_count{route="slm"} 1' in text
    assert "slmconvert_router_overhead_seconds_bucket" in text


def test_upstream_errors_are_retried_then_returned_as_the_upstreams_own(tmp_path):
    write_router_version(tmp_path / "work", "v1")
    llm = FakeLLM(fail=[500, 503])
    with running(tmp_path / "work", llm=llm, llm_retries=3) as run:
        answer, headers = ask(run.client(), "draft a plan")
        assert answer.choices[0].message.content == "LLM says: draft a plan" and len(llm.requests) == 3
        metrics = httpx.get(run.url + "/metrics").text
        assert 'slmconvert_upstream_retries_total{cause="500"} 1' in metrics
        llm.fail[:] = [500, 500, 500, 500]
        with pytest.raises(openai.InternalServerError) as err:
            ask(run.client(), "draft again")
        assert err.value.status_code == 500 and "upstream failure 500" in err.value.message
        assert err.value.response.headers["x-request-id"] == "req-upstream"
        llm.fail[:] = [429] * 4
        with pytest.raises(openai.RateLimitError):
            ask(run.client(), "order A-1 [crash]")  # an escalated call gets the same treatment


def test_upstream_timeout_is_a_504_after_the_retries(tmp_path):
    write_router_version(tmp_path / "work", "v1")
    llm = FakeLLM(delay_s=1.0)
    with running(tmp_path / "work", llm=llm, llm_timeout_s=0.2, llm_retries=1) as run:
        with pytest.raises(openai.APIStatusError) as err:
            ask(run.client(), "draft a plan")
        assert err.value.status_code == 504 and "timed out after 2 attempt(s)" in err.value.message
        assert len(llm.requests) == 2
        answer, headers = ask(run.client(), "where is order A-5?", tools=[LOOKUP_TOOL])  # the SLM needs no LLM
        assert headers["x-slmconvert-route"] == "slm"


def test_client_key_and_upstream_key(tmp_path, monkeypatch):
    monkeypatch.setenv("SLMCONVERT_SERVE_API_KEY", "gateway-key-canary")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-upstream-canary-123")
    write_router_version(tmp_path / "work", "v1")
    with running(tmp_path / "work") as run:
        with pytest.raises(openai.AuthenticationError):
            ask(run.client(api_key="wrong"), "draft a plan")
        assert httpx.get(run.url + "/metrics").status_code == 401
        assert httpx.get(run.url + "/healthz").status_code == 200
        answer, _ = ask(run.client(api_key="gateway-key-canary"), "draft a plan")
        assert run.llm.auth == ["Bearer sk-upstream-canary-123"]  # the environment's key, not the client's
    logged = b"".join(p.read_bytes() for p in (tmp_path / "work" / "served").iterdir())
    import gzip

    text = gzip.decompress(logged)
    assert b"canary" not in text and b"draft a plan" in text


def test_client_authorization_passes_through_without_keys(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("SLMCONVERT_SERVE_API_KEY", raising=False)
    write_router_version(tmp_path / "work", "v1")
    with running(tmp_path / "work") as run:
        ask(run.client(api_key="sk-client-own"), "draft a plan")
        assert run.llm.auth == ["Bearer sk-client-own"]


def test_slm_requests_are_batched(tmp_path):
    """Calls of one cluster that wait together reach the generator as one batch."""
    import concurrent.futures

    write_router_version(tmp_path / "work", "v1")
    slm = ScriptedSlm()
    with running(tmp_path / "work", slm=slm, slm_batch_size=8) as run:
        client = run.client()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: ask(client, f"where is order A-{i}?", tools=[LOOKUP_TOOL]), range(24)))
    assert all(h["x-slmconvert-route"] == "slm" for _, h in answers)
    assert sum(slm.batches) == 24 and max(slm.batches) <= 8
