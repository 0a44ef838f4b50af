"""Slow: the real SmolLM2-135M fine-tuned on one sample-log task cluster improves its validation metric.

Records come through the real stages (collect -> curate -> cluster) on the nightly Batch API logs
(intent routing, e-mail extraction, ticket summaries: ~460 calls), then the intent-routing cluster
is trained on a 24,000-token CPU budget (about 1.5 passes) and the base model is scored zero-shot on the same calls.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from slmconvert.config import resolve_params
from slmconvert.finetune.params import FinetuneParams
from slmconvert.finetune.records import load_cluster_records
from slmconvert.finetune.run import (
    ClusterJob,
    output_type_of,
    prepare_job,
    train_cluster,
    with_plan,
)
from slmconvert.stages.runner import execute
from slmconvert.workspace import Workspace

pytestmark = pytest.mark.slow

SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"
MODEL = "smollm2-135m-instruct"


def _stages(workspace: Workspace) -> None:
    quiet = {"console": Console(stderr=True), "quiet": True}
    execute("collect", workspace, resolve_params("collect"),
            extra={"paths": sorted(str(p) for p in SAMPLE_LOGS.glob("batch_*.jsonl.gz"))}, **quiet)
    execute("curate", workspace, resolve_params("curate"), **quiet)
    execute("cluster", workspace, resolve_params("cluster"), **quiet)


def test_smollm2_learns_an_intent_routing_cluster(tmp_path):
    if not list(SAMPLE_LOGS.glob("batch_*.jsonl.gz")):
        pytest.skip("sample_logs/ has no Batch API files")
    workspace = Workspace(tmp_path / "work")
    _stages(workspace)
    cluster, curate = workspace.artifact("cluster"), workspace.artifact("curate")
    from slmconvert.artifacts.clusters import load_clusters

    clusters = load_clusters(cluster)
    records = load_cluster_records(curate, cluster, [c.cluster_id for c in clusters])
    # intent routing: short text labels (the cluster whose completions are the shortest)
    def mean_completion(cid: int) -> float:
        texts = [(r["output"].get("content") or "") for r in records[cid].train]
        return sum(map(len, texts)) / max(1, len(texts))

    text_clusters = [c.cluster_id for c in clusters if output_type_of(records[c.cluster_id].train) == "text"]
    cid = min(text_clusters, key=mean_completion)
    job = ClusterJob(cid, MODEL, records[cid], output_type="text", hf_id="HuggingFaceTB/SmolLM2-135M-Instruct")
    # a slice of the logs (no test split to speak of), on the budget measured to learn this task
    params = FinetuneParams(device="cpu", baseline="measure", validation_examples=16)
    from slmconvert.models import load_tokenizer

    prepared = with_plan(job, prepare_job(job, params, "cpu", load_tokenizer(MODEL)), params, "cpu", token_budget=24_000)
    metrics = train_cluster(job, params, device="cpu", cache_root=tmp_path / "cache", out_dir=tmp_path / "out",
                            console=Console(stderr=True), quiet=True, prepared=prepared)
    validation = metrics["validation"]
    before, after = validation["before"]["value"], validation["after"]["value"]
    print(f"cluster {cid}: {validation['metric']} {before:.3f} -> {after:.3f}; "
          f"{metrics['training']['steps']} steps in {metrics['training']['seconds']} s, "
          f"{metrics['training']['loss_tokens_per_second']} loss tokens/s")
    assert metrics["prompt_format"]["drop_system"]  # the routing instructions are shared: distilled
    assert after > before + 0.2
    assert metrics["training"]["train_loss"] < metrics["training"]["first_train_loss"]
