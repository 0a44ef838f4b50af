"""Fixtures for finetune tests: a tiny in-process model, a learnable tool-call task, a workspace."""

from __future__ import annotations

import random

import pytest

from slmconvert.finetune.params import FinetuneParams
from slmconvert.finetune.records import ClusterRecords
from slmconvert.workspace import Workspace
from tests.artifacts import publish

SYSTEM = "You are the order desk of an online shop. Call lookup_order for every order question."
TOOLS = [{"type": "function", "function": {
    "name": "lookup_order", "description": "Look up an order by its id.",
    "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]
PHRASES = ["Where is my order {o}?", "order {o} status please", "Any news on order {o}?", "What happened to {o}?"]


def task_record(i: int, rng: random.Random | None = None) -> dict:
    """A curated-style record: the answer is a lookup_order call copying the id from the question."""
    rng = rng or random.Random(i)
    order = f"A-{rng.randint(10, 99)}"
    return {
        "call_id": f"sha256:{i:05d}",
        "status": "kept",
        "messages": [{"role": "system", "content": SYSTEM},
                   {"role": "user", "content": rng.choice(PHRASES).format(o=order)}],
        "output": {"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_{i}", "type": "function", "function": {"name": "lookup_order", "arguments": {"order_id": order}}}]},
        "tools": TOOLS,
        "response_format": None,
    }


def cluster_records(n_train: int = 24, n_validation: int = 4, cluster_id: int = 0) -> ClusterRecords:
    return ClusterRecords(
        cluster_id,
        train=[task_record(i) for i in range(n_train)],
        validation=[task_record(1000 + i) for i in range(n_validation)],
    )


def fast_params(**overrides) -> FinetuneParams:
    """Tiny-model settings: few steps, a high learning rate, fp32 (fastest for tiny shapes)."""
    values = dict(max_steps=6, learning_rate=1e-2, precision="fp32", validation_examples=4, batch_size=4,
                  early_stopping_patience=0, max_new_tokens=24)
    values.update(overrides)
    return FinetuneParams(**values)


@pytest.fixture(autouse=True)
def one_thread():
    """Two shared cores: one intra-op thread avoids OpenMP spin contention (10x faster here)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A 2-layer Llama with a BPE tokenizer trained on the task's own text (short sequences)."""
    from slmconvert.models.prompt import (
        PromptFormat,
        render_record_completion,
        render_record_prompt,
    )
    from slmconvert.models.tiny import create_tiny_model, train_tokenizer

    records = [task_record(i) for i in range(64)]
    probe = train_tokenizer()
    corpus = []
    for fmt in (PromptFormat("canonical"), PromptFormat("canonical", drop_system=True, drop_tools=True)):
        corpus += [render_record_prompt(r, probe, fmt) + render_record_completion(r, probe, fmt) for r in records]
    return create_tiny_model(tmp_path_factory.mktemp("tiny") / "model", corpus=corpus, hidden_size=64, vocab_size=400)


@pytest.fixture
def workspace(tmp_path, tiny_model):
    """curate + cluster + select artifacts: clusters 0 and 1 (learnable tool calls) chose the tiny
    model; cluster 2 got no model."""
    ws = Workspace(tmp_path / "work")
    rows, splits = [], []
    for cid in (0, 1, 2):
        for i in range(20):
            record = task_record(cid * 100 + i)
            rows.append({**record, "reason": None})
            split = "validation" if i < 3 else "test" if i < 5 else "train"
            splits.append({"call_id": record["call_id"], "cluster_id": cid, "split": split})
    curate = publish(ws, "curate", {"curated.parquet": rows})
    clusters = [{"id": c, "label": f"tool_call: lookup_order {c}", "output_type": "tool_call"} for c in (0, 1, 2)]
    cluster = publish(ws, "cluster", {"clusters.json": {"clusters": clusters}, "splits.parquet": splits},
                      inputs={"curate": {"stage": "curate", "version": curate.version}})
    chosen = {"model": str(tiny_model), "prompt_format": {"style": "canonical"}, "n_params": 60_000}
    selection = {"clusters": [
        {"cluster_id": 0, "label": "lookup 0", "output_type": "tool_call", "chosen": chosen, "reason": "best"},
        {"cluster_id": 1, "label": "lookup 1", "output_type": "tool_call", "chosen": chosen, "reason": "best"},
        {"cluster_id": 2, "label": "lookup 2", "output_type": "tool_call", "chosen": None, "reason": "no candidate passed"},
    ], "inputs": {"cluster": cluster.ref, "curate": curate.ref}}
    publish(ws, "select", {"selection.json": selection}, inputs={"cluster": {"stage": "cluster", "version": cluster.version}})
    return ws
