"""Fine-tuning benchmark: slmconvert's specialist trainer vs plain trl SFTTrainer, same data, model, run.

Timings are taken on the wall clock and on the process CPU clock (with --threads 1 the latter is
the compute spent, steady even when other jobs share the machine); the 1-minute load average at
the start and end of each phase is recorded too.

Measures, for one cluster of a workspace (collect + curate + cluster already run, e.g. by
`slmconvert run-all sample_logs/ --workdir work`):
  - loss-bearing (completion) tokens per second of training-step time, and all tokens per second;
  - the validation task metric (evaluation harness) every --eval-every steps, and the training
    time each trainer needs to first reach the same metric.
The peer is `SFTTrainer` with its defaults (SFTConfig(): lr 2e-5, batch 8, gradient checkpointing,
bf16, max_length 1024, completion-only loss) given the same examples as prompt/completion text with
the full prompt, and the same LoRA adapter configuration. Both trainers only add metering (token
counts, step time) and the task metric at evaluations (InstrumentedSFTTrainer).

With CUDA and --qlora-model (a 1-4B model in the local HF cache), it also trains that model with
QLoRA for a few steps and reports tokens/s.

    python benchmarks/finetune_throughput.py --workdir work [--cluster 3] [--max-steps 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def pick_cluster(clusters: list[Any], sizes: dict[int, int], wanted: int | None) -> int:
    """The requested cluster, else the largest tool-call cluster (else the largest one)."""
    if wanted is not None:
        return wanted
    kinds = {c.cluster_id: c.output_type for c in clusters}
    return max(sizes, key=lambda cid: (kinds.get(cid) == "tool_call", sizes[cid]))


def curve(history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """(step, train wall seconds, train CPU seconds, metric) at each evaluation."""
    return [
        {"step": e["step"], "train_seconds": e.get("eval_train_seconds", 0.0),
         "train_cpu_seconds": e.get("eval_train_cpu_seconds", 0.0), "metric": e["eval_task_metric"]}
        for e in history if "eval_task_metric" in e
    ]


def time_to_reach(points: list[dict[str, float]], target: float, clock: str = "train_seconds") -> float | None:
    """Training seconds (wall or CPU) at the first evaluation whose metric reaches target."""
    return next((p[clock] for p in points if p["metric"] >= target - 1e-9), None)


def per_cpu_second(training: dict[str, Any], key: str) -> float:
    seconds = training.get("train_step_cpu_seconds") or 0.0
    return round(training[key] / seconds, 1) if seconds else 0.0


def run_ours(job: Any, params: Any, device: str, tokenizer: Any, eval_every: int, workdir: Path) -> dict[str, Any]:
    from rich.console import Console

    from slmconvert.finetune.run import prepare_job, train_prepared

    prepared = prepare_job(job, params, device, tokenizer)
    prepared.plan.eval_every_steps = eval_every
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    result = train_prepared(job, prepared, params, workdir / "ours", Console(stderr=True), quiet=False)
    metrics = result["metrics"]
    return {
        "prepared": prepared,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "training": metrics["training"],
        "baseline": metrics["validation"]["before"],
        "curve": curve(result["log_history"]),
        "prompt_format": metrics["prompt_format"],
        "plan": metrics["plan"],
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def run_peer(job: Any, prepared: Any, device: str, max_steps: int, eval_every: int, workdir: Path) -> dict[str, Any]:
    """Plain SFTTrainer (defaults) on the same examples, rendered with the full prompt."""
    import datasets
    from transformers import PrinterCallback
    from trl import SFTConfig

    from slmconvert.evaluation import EvalExample
    from slmconvert.finetune.data import render_pairs
    from slmconvert.finetune.modeling import lora_config
    from slmconvert.finetune.trainer import InstrumentedSFTTrainer, Validator
    from slmconvert.models import load_model

    loaded = load_model(job.model, device=device, dtype="float32")
    fmt = prepared.base_fmt

    def texts(records: list[dict[str, Any]]) -> Any:
        prompts, completions = render_pairs(records, loaded.tokenizer, fmt)
        return datasets.Dataset.from_list([{"prompt": p, "completion": c} for p, c in zip(prompts, completions, strict=True)])

    args = SFTConfig(
        output_dir=str(workdir / "peer"), max_steps=max_steps, eval_strategy="steps", eval_steps=eval_every,
        save_strategy="no", report_to="none", disable_tqdm=True, logging_steps=1, use_cpu=device == "cpu",
    )
    plan = prepared.plan
    validator = Validator([EvalExample.from_record(r) for r in prepared.validation.records], fmt, job.output_type,
                          plan.max_new_tokens, 8, plan.seed)
    trainer = InstrumentedSFTTrainer(
        model=loaded.model, args=args, train_dataset=texts(prepared.train.records),
        eval_dataset=texts(prepared.validation.records), processing_class=loaded.tokenizer,
        peft_config=lora_config(plan, loaded.model), validator=validator,
    )
    trainer.remove_callback(PrinterCallback)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    trainer.train()
    return {
        "wall_seconds": round(time.perf_counter() - started, 1),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "training": trainer.meter.to_dict() | {"steps": trainer.state.global_step},
        "curve": curve(trainer.state.log_history),
        "config": {"learning_rate": args.learning_rate, "batch_size": args.per_device_train_batch_size,
                   "gradient_checkpointing": args.gradient_checkpointing, "bf16": args.bf16,
                   "max_length": args.max_length, "lr_scheduler": str(args.lr_scheduler_type)},
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def compare(ours: dict[str, Any], peer: dict[str, Any], baseline: float) -> dict[str, Any]:
    """Throughput ratios and the training time each needs to reach the same metric, on the wall
    clock and on the process CPU clock (steadier when other jobs share the CPU)."""
    o, p = ours["training"], peer["training"]
    best_ours = max([pt["metric"] for pt in ours["curve"]] or [baseline])
    best_peer = max([pt["metric"] for pt in peer["curve"]] or [baseline])
    out: dict[str, Any] = {
        "loss_tokens_per_second_ratio": _ratio(o["loss_tokens_per_second"], p["loss_tokens_per_second"]),
        "tokens_per_second_ratio": _ratio(o["tokens_per_second"], p["tokens_per_second"]),
        "loss_tokens_per_cpu_second_ratio": _ratio(per_cpu_second(o, "loss_tokens"), per_cpu_second(p, "loss_tokens")),
        "best_metric": {"ours": best_ours, "peer": best_peer, "baseline": baseline},
    }
    peer_improved = best_peer > baseline
    if not peer_improved and best_ours <= baseline:
        out["time_to_metric"] = {"note": f"neither trainer beat the zero-shot metric {baseline:.3f}"}
        return out
    target = min(best_ours, best_peer) if peer_improved else best_ours
    timing: dict[str, Any] = {"target": target}
    for clock in ("train_seconds", "train_cpu_seconds"):
        t_ours, t_peer = time_to_reach(ours["curve"], target, clock), time_to_reach(peer["curve"], target, clock)
        timing[clock] = {"ours": t_ours, "peer": t_peer, "speedup": _ratio(t_peer, t_ours)}
        if not peer_improved:  # a lower bound: the peer's whole training time did not get there
            total = p["train_step_seconds" if clock == "train_seconds" else "train_step_cpu_seconds"]
            timing[clock]["speedup_lower_bound"] = _ratio(total, t_ours)
    if not peer_improved:
        timing["note"] = f"the peer never beat the zero-shot metric {baseline:.3f} within its {p.get('steps')} steps"
    out["time_to_metric"] = timing
    return out


def run_qlora(job: Any, params: Any, model: str, steps: int, workdir: Path) -> dict[str, Any]:
    """QLoRA tokens/s of a 1-4B model on CUDA (our trainer, a few steps, no validation)."""
    import torch
    from rich.console import Console

    from slmconvert.finetune.run import prepare_job, train_prepared
    from slmconvert.models import load_tokenizer

    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device"}
    job = dataclasses.replace(job, model=model, n_params=None, prompt_style="auto")
    params = params.model_copy(update={"method": "qlora", "max_steps": steps, "validation_examples": 0,
                                       "max_train_examples": None, "baseline": "off"})
    prepared = prepare_job(job, params, "cuda", load_tokenizer(model))
    result = train_prepared(job, prepared, params, workdir / "qlora", Console(stderr=True), quiet=False)
    training = result["metrics"]["training"]
    return {"model": model, "gpu": torch.cuda.get_device_name(0), "plan": result["metrics"]["plan"],
            "tokens_per_second": training["tokens_per_second"],
            "loss_tokens_per_second": training["loss_tokens_per_second"], "steps": training["steps"],
            "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True, type=Path, help="workspace with curate + cluster artifacts")
    parser.add_argument("--cluster", type=int, default=None, help="cluster id (default: largest tool-call cluster)")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--max-steps", type=int, default=36)
    parser.add_argument("--eval-every", type=int, default=6)
    parser.add_argument("--train-examples", type=int, default=48)
    parser.add_argument("--validation-examples", type=int, default=12)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--qlora-model", default=None, help="CUDA only: a 1-4B model for QLoRA tokens/s")
    parser.add_argument("--qlora-steps", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)

    import torch

    from slmconvert.finetune.params import FinetuneParams
    from slmconvert.finetune.records import load_cluster_records
    from slmconvert.finetune.run import ClusterJob, output_type_of
    from slmconvert.artifacts.clusters import load_clusters
    from slmconvert.models import load_tokenizer
    from slmconvert.util.device import pick_device
    from slmconvert.workspace import Workspace

    if args.threads:
        torch.set_num_threads(args.threads)
    ws = Workspace(args.workdir)
    cluster = ws.artifact("cluster")
    curate = ws.artifact("curate", cluster.manifest["inputs"]["curate"]["version"])  # the curate it was built on
    clusters = load_clusters(cluster)
    records = load_cluster_records(curate, cluster, [c.cluster_id for c in clusters])
    cid = pick_cluster(clusters, {k: len(v.train) for k, v in records.items()}, args.cluster)
    device = pick_device(args.device)
    params = FinetuneParams(
        max_steps=args.max_steps, early_stopping_patience=0, reuse_cache=False, device=device, baseline="measure",
        max_train_examples=args.train_examples, validation_examples=args.validation_examples,
    )
    kind = output_type_of(records[cid].train)
    job = ClusterJob(cid, args.model, records[cid], output_type=kind)
    tokenizer = load_tokenizer(args.model)
    with tempfile.TemporaryDirectory(prefix="ft-bench-") as tmp:
        work = Path(tmp)
        print(f"cluster {cid} ({kind}): {len(records[cid].train)} train calls; model {args.model} on {device}",
              file=sys.stderr)
        ours = run_ours(job, params, device, tokenizer, args.eval_every, work)
        prepared = ours.pop("prepared")
        peer = run_peer(job, prepared, device, args.max_steps, args.eval_every, work)
        baseline = (ours["baseline"] or {}).get("value", 0.0)
        result = {
            "cluster_id": cid, "output_type": kind, "model": args.model, "device": device,
            "threads": torch.get_num_threads(), "train_examples": len(prepared.train.examples),
            "validation_examples": len(prepared.validation.examples),
            "ours": ours, "peer": peer, "comparison": compare(ours, peer, baseline),
        }
        if args.qlora_model:
            result["qlora"] = run_qlora(job, params, args.qlora_model, args.qlora_steps, work)
    text = json.dumps(result, indent=2, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
