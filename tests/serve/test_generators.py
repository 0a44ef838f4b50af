"""The two real SLM paths behind serve: in-process (PeftGenerator on a tiny random model with a LoRA
adapter; slow: it imports torch and builds the model) and an OpenAI-compatible completions server
addressed by LoRA name (a fake vLLM)."""

from __future__ import annotations

import json

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from slmconvert.router.config import ClusterRoute, EscalationRules, RouterConfig, relative_to_router
from slmconvert.router.generator import PeftGenerator
from slmconvert.serve import RemoteSlmGenerator, ServeSettings, build_gateway, server
from slmconvert.workspace import Workspace
from tests.router.fakes import LOOKUP_TOOL
from tests.serve.harness import FakeLLM, ThreadServer, free_port, router_loader

pytestmark = pytest.mark.timeout(120)
FORMAT = {"schema": "slmconvert.prompt_format/1", "style": "canonical", "drop_system": False, "drop_tools": False}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from slmconvert.models.tiny import create_tiny_model

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny-serve")
    model_dir = create_tiny_model(root / "model")
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                                LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    peft_model.save_pretrained(root / "adapter")
    return model_dir, root / "adapter"


def _workspace(work, model_dir, adapter, threshold=None):
    directory = work / "iterate" / "v1" / "router"
    route = ClusterRoute(0, "lookup", True, "promoted", "tool_call", model=str(model_dir),
                         adapter=relative_to_router(directory, adapter), prompt_format=FORMAT, max_new_tokens=8,
                         confidence_threshold=threshold, primary_metric="function_name_and_args_accuracy")
    RouterConfig([route], EscalationRules(confidence_measure="mean_logprob")).save(directory)
    Workspace(work).set_latest("iterate", "v1")


def _serve(work, generator, llm):
    llm_port, port = free_port(), free_port()
    upstream = llm.server(llm_port).start()
    settings = ServeSettings(workdir=work, llm_base_url=f"http://127.0.0.1:{llm_port}/v1", port=port,
                             slm_timeout_s=60, reload_seconds=0)
    gateway = build_gateway(settings, loader=router_loader(), generator=generator)
    return gateway, f"http://127.0.0.1:{port}", [ThreadServer(server(gateway)).start(), upstream]


@pytest.mark.slow
def test_in_process_peft_generator(tmp_path, tiny):
    import openai

    model_dir, adapter = tiny
    _workspace(tmp_path / "work", model_dir, adapter)
    gateway, url, threads = _serve(tmp_path / "work", PeftGenerator("cpu", batch_size=4), FakeLLM())
    try:
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "where is order A-12?"}], tools=[LOOKUP_TOOL])
        answer = raw.parse()
    finally:
        for thread in threads:
            thread.stop()
    assert raw.headers["x-slmconvert-cluster"] == "0"
    # a random tiny model: its answer is either kept (route slm) or escalated by a rule; both are served
    assert raw.headers["x-slmconvert-escalation"] in ("none", "parse_error", "unknown_tool", "schema_error")
    assert gateway.metrics.value("slmconvert_slm_tokens_total", kind="completion") > 0
    assert answer.choices[0].message is not None


class FakeVllm:
    """`/v1/completions` of a vLLM server with LoRA modules: a tool call for `cluster-0`, with logprobs."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.auth: list[str | None] = []

    async def handle(self, request: Request) -> Response:
        payload = orjson.loads(await request.body())
        self.requests.append(payload)
        self.auth.append(request.headers.get("authorization"))
        if payload["model"] != "cluster-0":
            return Response(b'{"object": "error", "message": "model not found"}', 404)
        text = '<tool_call>{"name": "lookup_order", "arguments": {"order_id": "A-12"}}</tool_call>'
        tokens = [text[i:i + 5] for i in range(0, len(text), 5)]
        choices = [{"index": i, "text": text, "finish_reason": "stop",
                    "logprobs": {"tokens": tokens, "token_logprobs": [-0.05] * len(tokens)}}
                   for i in range(len(payload["prompt"]))]
        return Response(orjson.dumps({"id": "cmpl-1", "object": "text_completion", "choices": choices,
                                      "usage": {"prompt_tokens": 40 * len(choices), "completion_tokens": 9}}),
                        media_type="application/json")

    def server(self, port: int) -> ThreadServer:
        import uvicorn

        app = Starlette(routes=[Route("/v1/completions", self.handle, methods=["POST"])])
        return ThreadServer(uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                                          lifespan="off")))


def test_remote_slm_server_by_lora_name(tmp_path):
    import openai

    from slmconvert.models.tiny import train_tokenizer

    adapter = tmp_path / "adapter"  # the server holds the weights: the gateway only needs the path's name
    adapter.mkdir()
    _workspace(tmp_path / "work", "tiny-base", adapter, threshold=-1.0)
    vllm, vllm_port = FakeVllm(), free_port()
    vllm_thread = vllm.server(vllm_port).start()
    tokenizer = train_tokenizer()
    generator = RemoteSlmGenerator(f"http://127.0.0.1:{vllm_port}/v1", key=lambda: "vllm-key",
                                   tokenizer=lambda model: tokenizer)
    gateway, url, threads = _serve(tmp_path / "work", generator, FakeLLM())
    try:
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "where is order A-12?"}], tools=[LOOKUP_TOOL])
        answer = raw.parse()
    finally:
        for thread in [*threads, vllm_thread]:
            thread.stop()
    assert raw.headers["x-slmconvert-route"] == "slm", raw.headers["x-slmconvert-escalation"]
    assert json.loads(answer.choices[0].message.tool_calls[0].function.arguments) == {"order_id": "A-12"}
    sent = vllm.requests[0]
    assert sent["model"] == "cluster-0" and sent["logprobs"] == 1 and sent["temperature"] == 0
    assert "where is order A-12?" in sent["prompt"][0] and "lookup_order" in sent["prompt"][0]
    assert answer.usage.prompt_tokens == 40
    assert vllm.auth == ["Bearer vllm-key"]
