"""Acceptance in small: iterate's held-out calls replayed through `serve` get the same clusters,
routes and escalations as iterate's offline replay (hand-built workspace, fake models)."""

from __future__ import annotations

import pytest

from benchmarks.serve_replay import prompt_key, replay_through_serve
from slmconvert.iterate.params import IterateParams
from slmconvert.router.router import Router
from slmconvert.stages import iterate as iterate_stage
from slmconvert.stages.base import StageContext
from slmconvert.util.tables import iter_table
from tests.iterate.fake_workspace import ReferenceGenerator, TableAssigner, text_row, tool_row
from tests.iterate.fake_workspace import _publish as publish
from tests.iterate.fake_workspace import build as build_workspace

pytestmark = pytest.mark.timeout(120)
N_TOOL, N_TEXT = 60, 30


class UnsureSometimes(ReferenceGenerator):
    """The reference answers (found by call id: a served request carries no logged output), but a tool
    the request never offered for a few calls (escalated by rule)."""

    ROGUE = {"t004", "t024", "t044"}
    ROWS = {r["call_id"]: r for r in [tool_row(i) for i in range(N_TOOL)] + [text_row(i) for i in range(N_TEXT)]}

    def generate(self, model, adapter, fmt, records, max_new_tokens, progress=None):
        known = [self.ROWS.get(r["call_id"], r) for r in records]
        out = super().generate(model, adapter, fmt, known, max_new_tokens, progress)
        for record, generation in zip(records, out, strict=True):
            if adapter is not None and record["call_id"] in self.ROGUE:
                generation.text = '<tool_call>{"name": "wipe_orders", "arguments": {}}</tool_call>'
        return out


class PromptAssigner:
    """The table assigner, keyed by what a served request contains (its prompt), not by call id."""

    def __init__(self) -> None:
        rows = [tool_row(i) for i in range(N_TOOL)] + [text_row(i) for i in range(N_TEXT)]
        self.table = {prompt_key(r): (0 if r["call_id"].startswith("t") else 1) for r in rows}

    def assign(self, records):
        return [(self.table[k], 0.9) if (k := prompt_key(r)) in self.table else (-1, 0.0) for r in records]


def test_serve_replays_like_iterate(tmp_path):
    ws = build_workspace(tmp_path / "work", N_TOOL, N_TEXT)
    table = {f"t{i:03d}": 0 for i in range(N_TOOL)} | {f"x{i:03d}": 1 for i in range(N_TEXT)}
    inputs = {name: ws.artifact(name) for name in ("finetune", "select", "cluster", "curate")}
    params = IterateParams(promotion_target=0.6, device="cpu")
    generator = UnsureSometimes()

    def run_iterate(out):
        ctx = StageContext(ws, out, params, inputs, quiet=True, version="v-iterate")
        iterate_stage.run(ctx, generator=generator, assigner=TableAssigner(table))

    publish(ws, "iterate", "v-iterate", {name: a.version for name, a in inputs.items()}, run_iterate)
    offline = list(iter_table(ws.artifact("iterate").file("predictions.parquet")))
    assert any(p["route"] == "slm" for p in offline)  # the tool cluster was promoted
    assert any(p.get("escalation") == "unknown_tool" for p in offline)

    result = replay_through_serve(tmp_path / "work", generator=generator,
                                  loader=lambda d: Router.load(d, assigner=PromptAssigner()))
    assert result["calls"] == len(offline)
    assert result["cluster_differs"] == result["route_differs"] == result["escalation_differs"] == 0, result
    assert result["serve_escalation_rate"] == result["offline_escalation_rate"] > 0
    assert result["serve_escalations"] == {"unknown_tool": sum(p.get("escalation") == "unknown_tool" for p in offline)}


def test_a_served_request_reads_back_as_its_curated_conversation():
    """What the agent sends (tool-call arguments as JSON strings) becomes the record the SLM was trained on."""
    import orjson

    from benchmarks.serve_overhead import request_body
    from slmconvert.artifacts.curated import conversation
    from slmconvert.serve.openai_io import read_request

    call = {"id": "call_1", "type": "function", "function": {"name": "lookup_order", "arguments": {"order_id": "A-9"}}}
    curated = tool_row(9) | {"messages": [
        {"role": "system", "content": "You are a support agent.", "tool_calls": None, "tool_call_id": None, "name": None},
        {"role": "user", "content": "where is order A-9?", "tool_calls": None, "tool_call_id": None, "name": None},
        {"role": "assistant", "content": None, "tool_calls": [call], "tool_call_id": None, "name": None},
        {"role": "tool", "content": '{"status": "shipped"}', "tool_calls": None, "tool_call_id": "call_1",
         "name": "lookup_order"},
        {"role": "user", "content": "and when does it arrive?", "tool_calls": None, "tool_call_id": None,
         "name": None}]}
    body = request_body(curated)
    assert isinstance(body["messages"][2]["tool_calls"][0]["function"]["arguments"], str)
    served = read_request(orjson.dumps(body)).record
    assert conversation(served) == conversation(curated)
    assert prompt_key(served) == prompt_key(curated)
