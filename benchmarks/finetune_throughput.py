"""Fine-tuning benchmark: slmconvert's trainer (bf16 and forced fp32) vs the trainer of an earlier
commit and vs plain trl SFTTrainer + peft LoRA with their defaults, same cluster, same run.

Every trainer runs in its own subprocess (so each one's peak RSS is its own and an earlier commit's
code can be imported from a git worktree), one after another, on the same records of one cluster
of a workspace (collect + curate + cluster already run). Reported per trainer: tokens/s and
loss-bearing tokens/s of training-step time (wall and process CPU: the CPU clock is steadier on a
shared machine), the validation task metric at the end, the peak RSS of the process, and the
1-minute load average before and after. Ratios are ours / theirs within this one run.

`ours-bf16-recompute` is our trainer with `finetune.cache_frozen_layers` off: every pass runs the frozen
layers again. Against it, ours shows what keeping their output saves on passes after the first
(give --max-steps that cover several passes over --train-examples; the train losses should match).

The peer is `SFTTrainer` with SFTConfig's defaults (lr 2e-5, batch 8, gradient checkpointing...)
given the same examples as prompt/completion text with the full prompt, and the same LoRA layers;
its `max_length` is raised to the longest example (its default of 1,024 drops every long-prompt
example: `num_samples=0`). A trainer that fails is reported with its error; the others still are.

    git worktree add /tmp/base cb75140      # the trainer before the speed/memory work
    python benchmarks/finetune_throughput.py --workdir work --cluster 0 --max-steps 3 \\
        --baseline-src /tmp/base [--baseline-workdir basework] [--json out.json]

An earlier commit may not read today's artifacts (cb75140 does not read today's curated.parquet):
`--baseline-workdir` gives it a workspace that its own collect, curate and cluster made from the
same logs (`PYTHONPATH=/tmp/base python -m slmconvert collect sample_logs/ -w basework`, then
curate and cluster), and its cluster is the one holding most of our cluster's calls (by call_id,
collect's hash of the raw call, the same in both).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ROLES = ("ours-bf16", "ours-fp32", "base-bf16", "base-fp32", "peer", "ours-bf16-recompute")


def cpu_model() -> str:
    """The CPU's model name (every number in the report is only meaningful with it)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def load_job(workdir: Path, cluster_id: int | None, model: str) -> Any:
    """(ClusterJob, output type) for the requested cluster, else the largest one."""
    from slmconvert.finetune.records import load_cluster_records
    from slmconvert.finetune.run import ClusterJob, output_type_of
    from slmconvert.workspace import Workspace

    try:
        from slmconvert.artifacts.clusters import load_clusters
    except ImportError:  # older commits
        from slmconvert.iterate.upstream import load_clusters
    ws = Workspace(workdir)
    cluster = ws.artifact("cluster")
    curate = ws.artifact("curate")  # the benchmark workspace holds one version of each
    clusters = load_clusters(cluster)
    records = load_cluster_records(curate, cluster, [c.cluster_id for c in clusters])
    cid = cluster_id if cluster_id is not None else max(records, key=lambda k: len(records[k].train))
    return ClusterJob(cid, model, records[cid], output_type=output_type_of(records[cid].train))


def make_params(args: argparse.Namespace, precision: str, recompute: bool = False) -> Any:
    """FinetuneParams for this benchmark, keeping only the fields this commit's params know."""
    from slmconvert.finetune.params import FinetuneParams

    wanted = {
        "max_steps": args.max_steps, "early_stopping_patience": 0, "reuse_cache": False, "device": "cpu",
        "baseline": "off", "precision": precision, "max_train_examples": args.train_examples,
        "validation_examples": args.validation_examples, "cpu_min_test_calls": 0,
        "cache_frozen_layers": not recompute,
    }
    return FinetuneParams(**{k: v for k, v in wanted.items() if k in FinetuneParams.model_fields})


def run_trainer(args: argparse.Namespace, precision: str, work: Path, recompute: bool = False) -> dict[str, Any]:
    """slmconvert's trainer (of whichever commit is imported) on the cluster."""
    from rich.console import Console

    from slmconvert.finetune.run import prepare_job, train_prepared
    from slmconvert.models import load_tokenizer

    job = load_job(args.workdir, args.cluster, args.model)
    params = make_params(args, precision, recompute)
    prepared = prepare_job(job, params, "cpu", load_tokenizer(job.model))
    prepared.plan.eval_every_steps = args.max_steps
    result = train_prepared(job, prepared, params, work, Console(stderr=True), quiet=True)
    metrics = result["metrics"]
    return {"training": metrics["training"], "plan": metrics["plan"],
            "metric": (metrics["validation"].get("after") or {}).get("value"),
            "train_examples": len(prepared.train.examples)}


def run_peer(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Plain SFTTrainer (defaults, max_length raised to fit) on the same examples, full prompts."""
    import datasets
    from transformers import PrinterCallback
    from trl import SFTConfig

    from slmconvert.evaluation import EvalExample
    from slmconvert.finetune.data import render_pairs
    from slmconvert.finetune.modeling import lora_config
    from slmconvert.finetune.run import prepare_job
    from slmconvert.finetune.trainer import InstrumentedSFTTrainer, Validator
    from slmconvert.models import load_model

    job = load_job(args.workdir, args.cluster, args.model)
    loaded = load_model(job.model, device="cpu", dtype="float32")
    prepared = prepare_job(job, make_params(args, "fp32"), "cpu", loaded.tokenizer)
    fmt = prepared.base_fmt

    def texts(records: list[dict[str, Any]]) -> tuple[Any, int]:
        prompts, completions = render_pairs(records, loaded.tokenizer, fmt)
        longest = max(len(loaded.tokenizer(p + c)["input_ids"]) for p, c in zip(prompts, completions, strict=True))
        rows = [{"prompt": p, "completion": c} for p, c in zip(prompts, completions, strict=True)]
        return datasets.Dataset.from_list(rows), longest

    train, longest = texts(prepared.train.records)
    validation, _ = texts(prepared.validation.records)
    defaults = SFTConfig(output_dir=str(work / "defaults"), use_cpu=True)
    max_length = max(defaults.max_length or 0, longest + 8)
    config = SFTConfig(output_dir=str(work / "peer"), max_steps=args.max_steps, eval_strategy="steps",
                       eval_steps=args.max_steps, save_strategy="no", report_to="none", disable_tqdm=True,
                       logging_steps=1, use_cpu=True, max_length=max_length)
    plan = prepared.plan
    validator = Validator([EvalExample.from_record(r) for r in prepared.validation.records], fmt, job.output_type,
                          plan.max_new_tokens, 8, plan.seed)
    trainer = InstrumentedSFTTrainer(model=loaded.model, args=config, train_dataset=train, eval_dataset=validation,
                                     processing_class=loaded.tokenizer, peft_config=lora_config(plan, loaded.model),
                                     validator=validator)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    evals = [e for e in trainer.state.log_history if "eval_task_metric" in e]
    return {"training": trainer.meter.to_dict() | {"steps": trainer.state.global_step},
            "metric": evals[-1]["eval_task_metric"] if evals else None,
            "config": {"learning_rate": config.learning_rate, "batch_size": config.per_device_train_batch_size,
                       "gradient_checkpointing": config.gradient_checkpointing, "bf16": config.bf16,
                       "max_length": max_length, "default_max_length": defaults.max_length}}


def child(args: argparse.Namespace) -> int:
    """Run one role in this process and print its JSON result."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ft-bench-") as tmp:
        try:
            if args.role == "peer":
                out = run_peer(args, Path(tmp))
            else:
                if args.role.startswith("ours"):  # as every slmconvert command does, before torch computes
                    from slmconvert.util.memory import bound_onednn_cache

                    bound_onednn_cache()
                out = run_trainer(args, args.role.split("-")[1], Path(tmp), recompute=args.role.endswith("-recompute"))
        except Exception as exc:  # the report says which trainer could not train and why
            out = {"failed": f"{type(exc).__name__}: {exc}"[:500], "traceback": traceback.format_exc()[-1500:]}
    import torch

    out.update({"peak_rss_mb": peak_rss_mb(), "wall_seconds": round(time.perf_counter() - started, 1),
                "threads": torch.get_num_threads(),
                "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]})
    print("RESULT " + json.dumps(out, default=str))
    return 0


def cluster_members(workdir: Path) -> dict[int, set[str]]:
    """call_ids per cluster id, from the workspace's latest cluster version (read without slmconvert)."""
    import pyarrow.parquet as pq

    version = (workdir / "cluster" / "LATEST").read_text().strip()
    table = pq.read_table(workdir / "cluster" / version / "assignments.parquet", columns=["call_id", "cluster_id"])
    members: dict[int, set[str]] = {}
    for call_id, cid in zip(table.column("call_id").to_pylist(), table.column("cluster_id").to_pylist(), strict=True):
        members.setdefault(int(cid), set()).add(call_id)
    return members


def matching_cluster(ours: dict[int, set[str]], theirs: dict[int, set[str]], cluster: int | None) -> tuple[int, float]:
    """The baseline's cluster holding most calls of our `cluster` (default: our largest), and the share held."""
    cid = cluster if cluster is not None else max((c for c in ours if c >= 0), key=lambda c: len(ours[c]))
    best = max((c for c in theirs if c >= 0), key=lambda c: len(theirs[c] & ours[cid]))
    return best, round(len(theirs[best] & ours[cid]) / max(1, len(ours[cid] | theirs[best])), 3)


def spawn(args: argparse.Namespace, role: str) -> dict[str, Any]:
    """Run a role in a subprocess (the earlier commit's roles import its source tree and, when
    given, read the baseline workspace)."""
    baseline = role.startswith("base")
    src = args.baseline_src if baseline else ROOT
    workdir, cluster = (args.baseline_workdir, args.baseline_cluster) if baseline and args.baseline_workdir else (
        args.workdir, args.cluster)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--role", role, "--src", str(src),
               "--workdir", str(workdir), "--model", args.model, "--max-steps", str(args.max_steps),
               "--train-examples", str(args.train_examples), "--validation-examples", str(args.validation_examples)]
    if cluster is not None:
        command += ["--cluster", str(cluster)]
    print(f"running {role} ...", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(src)})
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        return {"failed": f"exit {done.returncode}", "stderr": done.stderr[-1500:]}
    return json.loads(lines[-1].removeprefix("RESULT "))


def ratio(a: dict[str, Any], b: dict[str, Any], key: str) -> float | None:
    x, y = (a.get("training") or {}).get(key), (b.get("training") or {}).get(key)
    return round(x / y, 2) if x and y else None


def per_cpu_second(result: dict[str, Any]) -> float | None:
    training = result.get("training") or {}
    seconds = training.get("train_step_cpu_seconds")
    return round(training["tokens"] / seconds, 1) if seconds else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True, type=Path, help="workspace with curate + cluster artifacts")
    parser.add_argument("--cluster", type=int, default=None, help="cluster id (default: the largest)")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--max-steps", type=int, default=3)
    parser.add_argument("--train-examples", type=int, default=48)
    parser.add_argument("--validation-examples", type=int, default=2)
    parser.add_argument("--baseline-src", type=Path, default=None, help="source tree of the earlier commit")
    parser.add_argument("--baseline-workdir", type=Path, default=None,
                        help="workspace the earlier commit's own stages made from the same logs")
    parser.add_argument("--roles", default=",".join(ROLES), help=f"comma-separated subset of {', '.join(ROLES)}")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--role", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--src", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.child:
        sys.path.insert(0, str(args.src))
        return child(args)

    roles = [r for r in args.roles.split(",") if r in ROLES and (args.baseline_src or not r.startswith("base"))]
    args.baseline_cluster, overlap = None, None
    if args.baseline_workdir:
        args.baseline_cluster, overlap = matching_cluster(cluster_members(args.workdir),
                                                          cluster_members(args.baseline_workdir), args.cluster)
    results = {role: spawn(args, role) for role in roles}
    comparison: dict[str, Any] = {}
    for ours, theirs in (("ours-bf16", "base-bf16"), ("ours-fp32", "base-fp32"), ("ours-bf16", "peer"),
                         ("ours-fp32", "peer"), ("ours-bf16", "ours-bf16-recompute")):
        if ours in results and theirs in results:
            comparison[f"{ours}/{theirs}"] = {
                key: ratio(results[ours], results[theirs], key) for key in ("tokens_per_second", "loss_tokens_per_second")
            } | {"peak_rss_mb": [results[ours].get("peak_rss_mb"), results[theirs].get("peak_rss_mb")],
                 "train_loss": [(results[r].get("training") or {}).get("train_loss") for r in (ours, theirs)]}
    report = {
        "cpu": cpu_model(), "logical_cpus": os.cpu_count(), "workdir": str(args.workdir), "cluster": args.cluster,
        "model": args.model, "max_steps": args.max_steps,
        "baseline_workdir": str(args.baseline_workdir) if args.baseline_workdir else None,
        "baseline_cluster": {"id": args.baseline_cluster, "shared_calls_jaccard": overlap},
        "note": "ratios from one run; other processes may share this machine (see each load_average)",
        "tokens_per_cpu_second": {role: per_cpu_second(r) for role, r in results.items()},
        "results": results, "comparison": comparison,
    }
    text = json.dumps(report, indent=2, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
