"""Fixtures for select tests: tiny models and a workspace holding curate + cluster artifacts."""

from __future__ import annotations

import json

import pytest

from slmconvert.workspace import Workspace
from tests.artifacts import publish

TOOLS = [{"type": "function", "function": {"name": "track_shipment", "description": "Track a parcel.", "parameters": {
    "type": "object", "properties": {"tracking_number": {"type": "string"}}, "required": ["tracking_number"]}}}]
SCHEMA = {"type": "object", "properties": {"intent": {"type": "string"}, "order_id": {"type": "string"}}, "required": ["intent"]}


def _tool_record(i: int) -> dict:
    number = f"1Z{i:04d}"
    return {
        "messages": [{"role": "system", "content": "You track parcels."}, {"role": "user", "content": f"Where is parcel {number}?"}],
        "output": {"role": "assistant", "content": None, "tool_calls": [
            {"id": f"c{i}", "type": "function", "function": {"name": "track_shipment", "arguments": {"tracking_number": number}}}]},
        "tools": TOOLS, "response_format": None,
    }


def _json_record(i: int) -> dict:
    return {
        "messages": [{"role": "system", "content": "Extract the intent."}, {"role": "user", "content": f"refund order A-{i}"}],
        "output": {"role": "assistant", "content": json.dumps({"intent": "refund", "order_id": f"A-{i}"}), "tool_calls": None},
        "tools": [], "response_format": {"type": "json_schema", "json_schema": {"name": "intent", "schema": SCHEMA}},
    }


def _text_record(i: int) -> dict:
    return {
        "messages": [{"role": "user", "content": f"Write a long plan number {i}."}],
        "output": {"role": "assistant", "content": "First we plan, then we act. " * 3, "tool_calls": None},
        "tools": [], "response_format": None,
    }


@pytest.fixture
def upstream(tmp_path):
    """curate + cluster artifacts: cluster 0 tool calls, 1 JSON extraction (candidates), 2 open text (not)."""
    workspace = Workspace(tmp_path / "work")
    rows, splits = [], []
    makers = {0: _tool_record, 1: _json_record, 2: _text_record}
    for cid, make in makers.items():
        for i in range(12):
            call_id = f"sha256:{cid}{i:03d}"
            record = make(i)
            rows.append({"call_id": call_id, "status": "kept", "reason": None, **record})
            split = "validation" if i < 6 else ("test" if i < 8 else "train")
            splits.append({"call_id": call_id, "cluster_id": cid, "split": split})
    rows.append({**rows[0], "call_id": "sha256:filtered", "status": "filtered", "reason": "error"})
    curate = publish(workspace, "curate", {"curated.parquet": rows})
    clusters = [
        {"id": 0, "label": "tool_call: track_shipment", "output_type": "tool_call", "candidate": True, "why_not": []},
        {"id": 1, "label": "json: intent", "output_type": "json", "candidate": True, "why_not": []},
        {"id": 2, "label": "text: plan", "output_type": "text", "candidate": False, "why_not": ["open-ended free text"]},
    ]
    publish(workspace, "cluster", {"clusters.json": {"clusters": clusters}, "splits.parquet": splits},
            inputs={"curate": {"stage": "curate", "version": curate.version}})
    return workspace


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Two tiny models of different sizes, plus one whose context is too short for any prompt."""
    from slmconvert.models.tiny import create_tiny_model

    root = tmp_path_factory.mktemp("tiny-select")
    return {
        "small": str(create_tiny_model(root / "small", hidden_size=32, seed=1)),
        "large": str(create_tiny_model(root / "large", hidden_size=64, seed=2)),
        "short": str(create_tiny_model(root / "short", hidden_size=32, context_length=16, seed=3)),
    }
