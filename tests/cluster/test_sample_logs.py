"""The sample logs' tasks are recovered with the real embedding model (slow: embeds ~3,000 texts)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from sklearn.metrics import adjusted_rand_score

from slmconvert.cluster.assign import ClusterAssigner
from slmconvert.cluster.params import ClusterParams
from slmconvert.cluster.pipeline import discover_tasks
from slmconvert.cluster.signature import task_signature
from slmconvert.config import resolve_params
from slmconvert.stages.runner import execute
from slmconvert.util.tables import read_table
from slmconvert.workspace import Workspace

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
TRUTH = SAMPLES / "_truth.jsonl"

pytestmark = pytest.mark.slow


def _truth() -> dict[tuple[str, int], str]:
    table = {}
    for line in TRUTH.read_text().splitlines():
        row = json.loads(line)
        if row.get("task"):
            table[(row["file"], row["line"])] = row["task"]
            if row.get("output_file"):
                table[(row["output_file"], row["output_line"])] = row["task"]
    return table


def _step_task(call: dict, task: str | None) -> str | None:
    """The generator's task, and for a tool-using agent its step (an agent's steps are separate tasks)."""
    structure = task_signature(call).structure
    return f"{task}/{structure}" if task and structure.startswith("tools/") else task


@pytest.mark.skipif(not TRUTH.exists(), reason=f"{TRUTH} is missing: run sample_logs/generate.py first")
def test_sample_log_tasks_are_recovered_and_later_calls_assigned(tmp_path):
    workspace = Workspace(tmp_path / "work")
    files = sorted(str(p) for p in SAMPLES.glob("*.jsonl.gz"))
    collected = execute("collect", workspace, resolve_params("collect"), extra={"paths": files},
                        console=Console(stderr=True, quiet=True), quiet=True)
    calls = read_table(collected.artifact.path / "calls.parquet")
    truth = _truth()
    tasks = [_step_task(c, truth.get((Path(c["source"]["file"]).name, c["source"]["line"]))) for c in calls]
    known = [(c, t) for c, t in zip(calls, tasks, strict=True) if t and c.get("timestamp")]
    early = [(c, t) for c, t in known if c["timestamp"] < "2026-11-16"]
    late = [(c, t) for c, t in known if c["timestamp"] >= "2026-11-16"]
    found = discover_tasks([c for c, _ in early], ClusterParams(), cache_root=tmp_path / "cache")
    labels = [int(x) for x in found.call_labels]
    assert adjusted_rand_score([t for _, t in early], labels) > 0.9  # tags never used as features
    assert len(found.clusters) >= 6 and found.totals["noise_share"] < 0.05
    drafting = Counter(lab for (_, t), lab in zip(early, labels, strict=True) if t == "drafting").most_common(1)[0][0]
    assert not next(c for c in found.clusters if c["id"] == drafting)["candidate"]
    majority = defaultdict(Counter)
    for (_, task), label in zip(early, labels, strict=True):
        majority[task][label] += 1
    own = {task: counts.most_common(1)[0][0] for task, counts in majority.items()}
    found.seed.save(tmp_path / "seed")
    decisions = ClusterAssigner.load(tmp_path / "seed").assign([c for c, _ in late])
    right = np.mean([cid == own[t] for (_, t), (cid, _) in zip(late, decisions, strict=True)])
    assert right > 0.95, right
