"""A workspace whose upstream artifacts (curate, cluster, select, finetune) are written by hand,
so the iterate stage can be tested without running the other stages or any model."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from slmconvert.models.prompt import assistant_text, record_output
from slmconvert.router.generator import Generation
from slmconvert.util.jsonio import atomic_write_json, pretty_json
from slmconvert.util.tables import write_table
from slmconvert.workspace import Workspace
from tests.router.fakes import LOOKUP_TOOL

FORMAT = {"schema": "slmconvert.prompt_format/1", "style": "canonical", "drop_system": False, "drop_tools": False}
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc000000301010018dd8db00000000049454e44ae426082"
)


def _publish(ws: Workspace, stage: str, version: str, inputs: dict[str, str], write) -> Path:
    path = ws.stage_dir(stage) / version
    path.mkdir(parents=True)
    write(path)
    manifest = {"stage": stage, "version": version, "params": {}, "metrics": {},
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                "inputs": {k: {"stage": k, "version": v, "manifest_hash": "sha256:0"} for k, v in inputs.items()}}
    (path / "manifest.json").write_text(pretty_json(manifest))
    ws.set_latest(stage, version)
    return path


def tool_row(i: int) -> dict[str, Any]:
    order = f"A-{1000 + i}"
    call = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c0", "type": "function", "function": {"name": "lookup_order", "arguments": {"order_id": order}}}]}
    prompt = [{"role": "system", "content": "You are a support agent."},
              {"role": "user", "content": f"where is order {order}?"}]
    return {"call_id": f"t{i:03d}", "status": "kept", "reason": None, "messages": prompt,
            "tools": [LOOKUP_TOOL], "output": call,
            "usage": {"prompt_tokens": 200, "completion_tokens": 20}, "cost_usd": 0.002, "latency_ms": 900.0}


def text_row(i: int) -> dict[str, Any]:
    answer = {"role": "assistant", "content": f"Dear customer, here is a long, careful plan number {i}...", "tool_calls": None}
    prompt = [{"role": "user", "content": f"draft a plan for launch {i}"}]
    return {"call_id": f"x{i:03d}", "status": "kept", "reason": None, "messages": prompt,
            "tools": [], "output": answer,
            "usage": {"prompt_tokens": 500, "completion_tokens": 400}, "cost_usd": 0.02, "latency_ms": 4000.0}


def build(root: Path, n_tool: int = 60, n_text: int = 30) -> Workspace:
    """curate/cluster/select/finetune versions for a tool-call cluster 0 and an open-ended cluster 1."""
    ws = Workspace(root)
    rows = [tool_row(i) for i in range(n_tool)] + [text_row(i) for i in range(n_text)]
    noise = tool_row(999) | {"call_id": "noise"}
    filtered = tool_row(998) | {"call_id": "filtered", "status": "filtered", "reason": "error_response"}
    rows += [noise, filtered]
    _publish(ws, "curate", "v-curate", {}, lambda p: write_table(p / "curated.parquet", rows))

    def split(i: int) -> str:
        return "test" if i % 4 == 0 else "validation" if i % 4 == 1 else "train"

    splits = ([{"call_id": f"t{i:03d}", "cluster_id": 0, "split": split(i)} for i in range(n_tool)]
              + [{"call_id": f"x{i:03d}", "cluster_id": 1, "split": split(i)} for i in range(n_text)])
    clusters = {"clusters": [
        {"id": 0, "label": "tool_call: lookup_order", "size": n_tool, "output_type": "tool_call", "candidate": True,
         "why_not": [], "share_calls": n_tool / len(rows)},
        {"id": 1, "label": "text: plan, draft", "size": n_text, "output_type": "text", "candidate": False,
         "why_not": ["open-ended free text (mean 400 completion tokens)"], "share_calls": n_text / len(rows)},
    ]}

    def write_cluster(p: Path) -> None:
        atomic_write_json(p / "clusters.json", clusters)
        write_table(p / "splits.parquet", splits)
        write_table(p / "assignments.parquet",
                    [{"call_id": s["call_id"], "cluster_id": s["cluster_id"], "probability": 1.0} for s in splits]
                    + [{"call_id": "noise", "cluster_id": -1, "probability": 0.0}])
        (p / "router_seed").mkdir()
        atomic_write_json(p / "router_seed" / "config.json", {"schema": "test-seed"})
        (p / "router_seed" / "arrays.safetensors").write_bytes(b"not used by the fake assigner")
        (p / "map.png").write_bytes(PIXEL)

    _publish(ws, "cluster", "v-cluster", {"curate": "v-curate"}, write_cluster)
    selection = {"clusters": [{"cluster_id": 0, "output_type": "tool_call",
                               "primary_metric": "function_name_and_args_accuracy",
                               "chosen": {"model": "tiny-model", "prompt_format": FORMAT}}]}
    _publish(ws, "select", "v-select", {"cluster": "v-cluster", "curate": "v-curate"},
             lambda p: atomic_write_json(p / "selection.json", selection))

    def write_finetune(p: Path) -> None:
        adapter = p / "0" / "adapter"
        adapter.mkdir(parents=True)
        atomic_write_json(adapter / "adapter_config.json", {"r": 8, "base_model_name_or_path": "/some/cache/path"})
        (adapter / "adapter_model.safetensors").write_bytes(b"weights")
        atomic_write_json(p / "0" / "prompt_format.json", FORMAT)
        atomic_write_json(p / "0" / "metrics.json", {"base_model": {"name": "tiny-model", "hf_id": None}})
        atomic_write_json(p / "finetune.json", {"clusters": [0], "skipped": []})

    _publish(ws, "finetune", "v-finetune", {"select": "v-select", "cluster": "v-cluster", "curate": "v-curate"},
             write_finetune)
    return ws


class TableAssigner:
    """Assigns by a call_id -> cluster table (unknown calls are -1)."""

    def __init__(self, table: dict[str, int]) -> None:
        self.table = table

    def assign(self, records: list[dict]) -> list[tuple[int, float]]:
        return [(self.table.get(r["call_id"], -1), 0.9 if r["call_id"] in self.table else 0.0) for r in records]


class ReferenceGenerator:
    """Answers with the logged reference (a perfect specialist), except for the call ids in `wrong`;
    the base model (adapter None) always answers in prose. `logprobs` gives some calls another
    per-token log-probability (the confidence the cascade sees)."""

    def __init__(self, wrong: set[str] | None = None, logprob: float = -0.1,
                 logprobs: dict[str, float] | None = None) -> None:
        self.wrong = wrong or set()
        self.logprob = logprob
        self.logprobs = logprobs or {}
        self.calls = 0

    def generate(self, model, adapter, fmt, records, max_new_tokens, progress=None):
        self.calls += len(records)
        out = []
        for r in records:
            if adapter is None:
                text = "I will look into that order for you."
            elif r["call_id"] in self.wrong:
                text = '<tool_call>{"name": "lookup_order", "arguments": {"order_id": "A-0"}}</tool_call>'
            else:
                text = assistant_text(record_output(r))
            lp = self.logprobs.get(r["call_id"], self.logprob)
            out.append(Generation(text, [lp] * 4, [len(text) // 4 * k for k in (1, 2, 3)] + [len(text)],
                                  prompt_tokens=50, new_tokens=4, seconds=0.2, batch_size=1, batch_id=r["call_id"]))
        if progress:
            progress(len(records))
        return out
