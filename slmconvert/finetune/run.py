"""Training one cluster's specialist end to end: data -> plan -> (cached, resumable) training -> outputs.

Checkpoints live in a workspace cache directory keyed by model + exact training data + plan, so
a killed run resumes where its last checkpoint left off, and an unchanged cluster is not trained
again (e.g. when another cluster's data changed); the version directory only receives the result.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from slmconvert.artifacts.adapters import ADAPTER_DIR
from slmconvert.errors import SlmError
from slmconvert.finetune import data as fdata
from slmconvert.finetune.budget import (
    TrainPlan,
    default_max_length,
    make_plan,
    train_example_cap,
    validation_cap,
)
from slmconvert.finetune.memory import heap_slack_mb
from slmconvert.finetune.outputs import publish_cluster, write_merged
from slmconvert.finetune.params import FinetuneParams
from slmconvert.finetune.records import ClusterRecords, sample
from slmconvert.finetune.verbatim import verbatim_share
from slmconvert.models.prompt import PromptFormat
from slmconvert.util.jsonio import atomic_write_json, read_json, sha256_json
from slmconvert.util.memory import release_memory

FINAL = "final"
RESULT = "result.json"
BASELINE = "baseline.json"


class ClusterSkipped(SlmError):
    """A cluster that cannot be trained (too little data); the stage records the reason and goes on."""


@dataclass
class ClusterJob:
    """What the stage knows about one cluster to train."""

    cluster_id: int
    model: str
    records: ClusterRecords | None = None  # filled in once for all jobs (one pass over the curated data)
    label: str | None = None
    output_type: str | None = None
    prompt_style: str = "auto"
    n_params: int | None = None
    model_identity: str | None = None
    hf_id: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    baseline: dict[str, Any] | None = None  # select's zero-shot measurement of this model (Validator shape)
    baseline_skipped: str | None = None  # why select did not measure it (e.g. long prompts on a CPU)
    validation_ids: list[str] = field(default_factory=list)  # the calls select measured it on


@dataclass
class PreparedJob:
    """A job's data and plan, before any model is loaded."""

    fmt: PromptFormat
    base_fmt: PromptFormat
    train: fdata.PreparedSet
    validation: fdata.PreparedSet
    plan: TrainPlan
    stats: fdata.LengthStats
    data_hash: str
    key: str
    train_available: int
    output_type: str  # tool_call, json or text: select's, else the training records' dominant one
    verbatim_share: float  # of the training calls, the share a specialist is expected to answer exactly


def prepare_job(job: ClusterJob, params: FinetuneParams, device: str, tokenizer: Any) -> PreparedJob:
    """Prompt format (with context distillation), examples cut to the data's length limit, and the plan."""
    if job.records is None:
        raise ValueError(f"cluster {job.cluster_id}: records were not loaded")
    base_fmt = PromptFormat.for_tokenizer(tokenizer, job.prompt_style)
    fmt = fdata.distilled_format(job.records.train, base_fmt, params.context_distillation)
    train_records = sample(job.records.train, train_example_cap(params, device), params.seed)
    val_records = _validation_sample(
        job.records.validation, job.validation_ids, validation_cap(params, device), params.seed
    )
    if len(train_records) < params.min_train_examples:
        raise ClusterSkipped(
            f"{len(train_records)} training calls, fewer than min_train_examples="
            f"{params.min_train_examples}"
        )
    prompts, completions = fdata.render_pairs(train_records, tokenizer, fmt)
    prompt_ids, completion_ids = fdata.encode(tokenizer, prompts), fdata.encode(tokenizer, completions)
    context = _context_length(job.model)
    data_limit = fdata.choose_max_length(prompt_ids, completion_ids, params.length_percentile, context)
    max_length = default_max_length(params, device, data_limit)
    train = fdata.merge_turns(fdata.prepare(train_records, prompt_ids, completion_ids, max_length))
    validation = fdata.prepare_records(val_records, tokenizer, fmt, max_length)
    if len(train.examples) + train.merged < params.min_train_examples:
        raise ClusterSkipped(
            f"only {len(train.examples)} examples fit max_length={max_length} "
            f"({train.dropped} completions too long)"
        )
    stats = fdata.length_stats(prompt_ids, completion_ids)
    digest = fdata.data_hash({"train": train, "validation": validation}, fmt)
    output_type = job.output_type or output_type_of(train.records)
    plan, key = _plan_and_key(job, params, device, train, stats, digest, max_length, output_type)
    return PreparedJob(fmt, base_fmt, train, validation, plan, stats, digest, key, len(job.records.train),
                       output_type, verbatim_share(train_records))


def with_plan(job: ClusterJob, prepared: PreparedJob, params: FinetuneParams, device: str,
              token_budget: int | None = None) -> PreparedJob:
    """The prepared job with its plan (and cache key) made for these params and the tokens its share of
    the wall-clock budget buys."""
    plan, key = _plan_and_key(job, params, device, prepared.train, prepared.stats, prepared.data_hash,
                              prepared.plan.max_length, prepared.output_type, token_budget)
    return dataclasses.replace(prepared, plan=plan, key=key)


def _plan_and_key(job: ClusterJob, params: FinetuneParams, device: str, train: fdata.PreparedSet,
                  stats: fdata.LengthStats, data_hash: str, max_length: int, output_type: str,
                  token_budget: int | None = None) -> tuple[TrainPlan, str]:
    """The training plan for this data, and the cache key of model + data + plan."""
    plan = make_plan(
        params, device=device, n_params=job.n_params, n_train=len(train.examples),
        mean_length=train.mean_length, max_length=max_length,
        completion_max=stats.completion_max, varlen_attention=False, token_budget=token_budget,
        output_type=output_type,
    )
    plan_key = {k: v for k, v in plan.to_dict().items() if k != "padding_free"}  # speed only, same result
    return plan, sha256_json({"model": job.model_identity or job.model, "data": data_hash, "plan": plan_key})


def _validation_sample(
    records: list[dict[str, Any]], measured_ids: list[str], limit: int, seed: int
) -> list[dict[str, Any]]:
    """Validation calls: those select measured the base model on first (so 'before' and 'after'
    share calls), then a seeded sample of the rest."""
    measured = set(measured_ids)
    first = [r for r in records if r["call_id"] in measured][:limit]
    rest = [r for r in records if r["call_id"] not in measured]
    chosen = first + sample(rest, limit - len(first), seed)
    return sorted(chosen, key=lambda r: r["call_id"])


def _context_length(model: str) -> int | None:
    from slmconvert.models import model_info

    try:
        return model_info(model, inspect_tokenizer=False).context_length
    except SlmError:
        return None


def run_dir_for(cache_root: Path, job: ClusterJob, prepared: PreparedJob) -> Path:
    """The cache directory of this exact training run."""
    return cache_root / f"cluster-{job.cluster_id}-{prepared.key.removeprefix('sha256:')[:16]}"


def train_cluster(
    job: ClusterJob,
    params: FinetuneParams,
    *,
    device: str,
    cache_root: Path,
    out_dir: Path,
    console: Console,
    quiet: bool = False,
    prepared: PreparedJob | None = None,
    stop_at: float | None = None,
    world_size: int = 1,
) -> dict[str, Any]:
    """Train (or reuse) one cluster's adapter and write its outputs into out_dir; returns its metrics.
    `prepared` (from prepare_job, perhaps re-planned) saves preparing the data again; training stops
    at wall-clock time `stop_at` (the budget plan's guard) at the latest; `world_size` > 1 trains it
    data-parallel on that many local processes (one per GPU on CUDA; see finetune.data_parallel)."""
    if prepared is None:
        from slmconvert.models import load_tokenizer

        prepared = prepare_job(job, params, device, load_tokenizer(job.model))
    run_dir = run_dir_for(cache_root, job, prepared)
    final = run_dir / FINAL
    if params.reuse_cache and (final / RESULT).is_file():
        result = read_json(final / RESULT)
        result["metrics"]["reused_from_cache"] = True
        # the adapter is the same; the lineage is this run's (metrics.json and the model card say it)
        result["metrics"]["data"]["inputs"] = job.inputs
        result["metrics"]["label"] = job.label
        if not quiet:
            console.print(f"[dim]cluster {job.cluster_id}: unchanged data and plan, reusing the trained adapter[/dim]")
    elif world_size > 1:
        result = train_data_parallel(job, prepared, params, run_dir, world_size, quiet, stop_at)
    else:
        result = train_prepared(job, prepared, params, run_dir, console, quiet, stop_at)
    metrics = publish_cluster(final, out_dir, result["metrics"], prepared.fmt, result["log_history"])
    if params.merge:
        metrics["merged"] = write_merged(job.model, out_dir / ADAPTER_DIR, out_dir / "merged", device)
        atomic_write_json(out_dir / "metrics.json", metrics)
    return metrics


@dataclass
class TrainingTask:
    """One planned cluster's training as a worker receives it (finetune engine=ray)."""

    job: ClusterJob
    prepared: PreparedJob
    params: FinetuneParams
    device: str
    cache_root: Path
    out_dir: Path
    stop_window: tuple[float, float]  # seconds it may take once started, and the time it must stop by


def train_task(task: TrainingTask) -> dict[str, Any]:
    """train_cluster for one task, quietly, in the worker that runs it (the driver reports the results);
    its stop time counts from when the worker starts it, not from when it was queued."""
    seconds, latest = task.stop_window
    return train_cluster(task.job, task.params, device=task.device, cache_root=task.cache_root, out_dir=task.out_dir,
                         console=Console(quiet=True), quiet=True, prepared=task.prepared,
                         stop_at=min(time.time() + seconds, latest))


def train_data_parallel(
    job: ClusterJob, prepared: PreparedJob, params: FinetuneParams, run_dir: Path, world_size: int, quiet: bool,
    stop_at: float | None = None,
) -> dict[str, Any]:
    """train_prepared on `world_size` local processes, each taking 1/world of every batch (NCCL, one GPU
    each, on CUDA; gloo CPU processes otherwise); rank 0 leaves the result in run_dir/final."""
    from slmconvert.finetune.data_parallel import free_port, launch, split_plan, visible_gpus

    split = dataclasses.replace(prepared, plan=split_plan(prepared.plan, world_size))
    gpus = visible_gpus() if prepared.plan.device == "cuda" else []
    if prepared.plan.device == "cuda" and len(gpus) < world_size:
        raise SlmError(f"data-parallel training on {world_size} GPUs, but {len(gpus)} are visible")
    launch(_data_parallel_rank, (world_size, free_port(), job, split, params, run_dir, quiet, stop_at), world_size, gpus)
    for scratch in run_dir.glob("rank-*"):
        shutil.rmtree(scratch, ignore_errors=True)
    return read_json(run_dir / FINAL / RESULT)


def _data_parallel_rank(rank: int, world_size: int, port: int, job: ClusterJob, prepared: PreparedJob,
                        params: FinetuneParams, run_dir: Path, quiet: bool, stop_at: float | None) -> None:
    """One rank of train_data_parallel (a spawned process): joins the group, trains, leaves it."""
    from slmconvert.finetune.data_parallel import joined

    with joined(rank, world_size, port, cuda=prepared.plan.device == "cuda"):
        train_prepared(job, prepared, params, run_dir, Console(quiet=quiet or rank > 0), quiet or rank > 0, stop_at)


def train_prepared(
    job: ClusterJob, prepared: PreparedJob, params: FinetuneParams, run_dir: Path, console: Console, quiet: bool,
    stop_at: float | None = None,
) -> dict[str, Any]:
    """Run (or resume) training in run_dir and leave the best adapter + result in run_dir/final."""
    import datasets
    import transformers

    from slmconvert.util.device import configure_threads

    configure_threads()  # one intra-op pool of physical-core size, whatever an earlier stage left
    datasets.disable_progress_bars()
    verbosity = transformers.utils.logging.get_verbosity()
    transformers.utils.logging.set_verbosity_error()  # the progress bar and metrics.json say what matters
    try:
        return _train(job, prepared, params, run_dir, console, quiet, stop_at)
    finally:
        transformers.utils.logging.set_verbosity(verbosity)


def _train(
    job: ClusterJob, prepared: PreparedJob, params: FinetuneParams, run_dir: Path, console: Console, quiet: bool,
    stop_at: float | None = None,
) -> dict[str, Any]:
    import datasets
    from transformers import EarlyStoppingCallback, PrinterCallback
    from transformers.trainer_utils import get_last_checkpoint

    from slmconvert.evaluation import EvalExample
    from slmconvert.finetune.data_parallel import ranks, summed
    from slmconvert.finetune.modeling import has_varlen_attention, load_for_training, lora_config
    from slmconvert.finetune.progress import RichProgress
    from slmconvert.finetune.trainer import SpecialistTrainer, TokenMeter, Validator, sft_config

    plan = prepared.plan
    group = ranks()
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    loaded = load_for_training(job.model, plan)
    plan.padding_free = has_varlen_attention(loaded.model)
    output_type = prepared.output_type
    eval_examples = [EvalExample.from_record(r) for r in prepared.validation.records]
    gen_batch = 8 if plan.device == "cpu" else 32
    baseline = job.baseline if params.baseline == "select" else None
    measure = group.main and (params.baseline == "measure" or (params.baseline == "select" and not job.baseline_skipped))
    if baseline is None and measure:
        baseline = _measure_baseline(run_dir, loaded, eval_examples, prepared.base_fmt, output_type, plan, gen_batch)
    meter = TokenMeter()
    validator = (
        Validator(eval_examples, prepared.fmt, output_type, plan.max_new_tokens, gen_batch, plan.seed,
                  prompts=fdata.prompt_texts(prepared.validation, loaded.tokenizer, prepared.fmt))
        if eval_examples else None
    )
    callbacks: list[Any] = [RichProgress(console, f"cluster {job.cluster_id}", meter, quiet)]
    if validator is not None and plan.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=plan.early_stopping_patience))
    if stop_at is not None:
        from slmconvert.finetune.schedule import stop_callback

        callbacks.append(stop_callback(stop_at, validate=validator is not None))
    trainer = SpecialistTrainer(
        model=loaded.model,
        # data-parallel ranks other than 0 keep their checkpoints aside; all resume from rank 0's
        args=sft_config(plan, run_dir if group.main else run_dir / f"rank-{group.rank}", validate=validator is not None),
        train_dataset=datasets.Dataset.from_list([e.to_row() for e in prepared.train.examples]),
        eval_dataset=(
            datasets.Dataset.from_list([e.to_row() for e in prepared.validation.examples]) if validator else None
        ),
        processing_class=loaded.tokenizer,
        peft_config=lora_config(plan, loaded.model),
        callbacks=callbacks,
        validator=validator,
        lengths=[len(e.input_ids) for e in prepared.train.examples],
        pass_tokens=plan.pass_tokens,
        trim_slack_mb=heap_slack_mb(plan.lora_layers),
        cache_frozen_layers=plan.cache_frozen_layers,
        meter=meter,
    )
    trainer.remove_callback(PrinterCallback)  # it prints every log dict to stdout
    resume = get_last_checkpoint(str(run_dir))
    output = trainer.train(resume_from_checkpoint=resume)
    if group.world > 1:  # every rank's tokens (and a barrier: all have loaded the best checkpoint)
        meter.tokens, meter.loss_tokens, meter.padded_tokens, meter.replayed_tokens = map(
            int, summed([meter.tokens, meter.loss_tokens, meter.padded_tokens, meter.replayed_tokens]))
    result = _result(job, prepared, trainer, output, meter, baseline, output_type, resume, started)
    result["metrics"]["training"]["data_parallel"] = group.world
    if group.main:
        _finish(run_dir, trainer, result, base_model=job.hf_id or job.model)
    del trainer, loaded
    release_memory()
    return result


def output_type_of(records: list[dict[str, Any]]) -> str:
    """The dominant output type (tool_call, json, text) of the records' reference outputs."""
    from slmconvert.evaluation import output_type
    from slmconvert.evaluation.metrics import dominant_output_type
    from slmconvert.models.prompt import record_output

    return dominant_output_type([output_type(record_output(r), r.get("response_format")) for r in records])


def _measure_baseline(
    run_dir: Path, loaded: Any, examples: list[Any], fmt: PromptFormat, output_type: str, plan: TrainPlan,
    batch_size: int,
) -> dict[str, Any] | None:
    """The base model's zero-shot validation metric with the full prompt (cached with the run)."""
    path = run_dir / BASELINE
    if path.is_file():
        return read_json(path)
    if not examples:
        return None
    from slmconvert.finetune.trainer import Validator

    validator = Validator(examples, fmt, output_type, plan.max_new_tokens, batch_size, plan.seed)
    summary = {**validator(loaded.model, loaded.tokenizer), "source": "measured"}
    atomic_write_json(path, summary)
    return summary


def _result(
    job: ClusterJob, prepared: PreparedJob, trainer: Any, output: Any, meter: Any, baseline: dict[str, Any] | None,
    output_type: str, resume: str | None, started: float,
) -> dict[str, Any]:
    """metrics.json content from the finished trainer."""
    state = trainer.state
    history = list(state.log_history)
    best_step = _checkpoint_step(state.best_model_checkpoint) or state.global_step
    evals = {e["step"]: e for e in history if "eval_loss" in e}
    best = evals.get(best_step, {})
    after = None
    if "eval_task_metric" in best:
        after = {
            "value": best["eval_task_metric"], "interval": [best.get("eval_task_metric_low"), best.get("eval_task_metric_high")],
            "n": best.get("eval_task_metric_n"),
        }
    train_losses = [e["loss"] for e in history if "loss" in e]
    plan = prepared.plan
    from slmconvert.evaluation import primary_metric

    metrics = {
        "cluster_id": job.cluster_id,
        "label": job.label,
        "output_type": output_type,
        "base_model": {"name": job.model, "hf_id": job.hf_id, "n_params": job.n_params},
        "prompt_format": prepared.fmt.to_dict(),
        "context_distillation": fdata.distilled_context(job.records.train, prepared.fmt),
        "plan": plan.to_dict(),
        "data": {
            "data_hash": prepared.data_hash,
            "inputs": job.inputs,
            "train_available": prepared.train_available,
            "train_used": len(prepared.train.examples) + prepared.train.merged,
            "train_turns_merged": prepared.train.merged,
            "validation_used": len(prepared.validation.examples),
            "dropped": prepared.train.dropped,
            "truncated": prepared.train.truncated,
            "validation_dropped": prepared.validation.dropped,
            "train_tokens": prepared.train.total_tokens,
            "train_loss_tokens": prepared.train.loss_tokens,
            "length_stats": prepared.stats.to_dict(),
        },
        "training": {
            "steps": state.global_step,
            "epochs": round(state.epoch or 0.0, 3),
            "best_step": best_step,
            "early_stopped": state.global_step < plan.max_steps,
            "resumed_from_step": _checkpoint_step(resume),
            "train_loss": train_losses[-1] if train_losses else None,
            "first_train_loss": train_losses[0] if train_losses else None,
            "mean_train_loss": round(output.training_loss, 5) if output.training_loss is not None else None,
            "best_eval_loss": best.get("eval_loss"),
            "seconds": round(time.perf_counter() - started, 2),
            "validation_seconds": round(sum(e.get("eval_task_metric_seconds", 0.0) for e in evals.values()), 2),
            **meter.to_dict(),
            "frozen_layers": trainer.frozen.to_dict() if trainer.frozen is not None else None,
        },
        "validation": {
            "metric": primary_metric(output_type),
            "before": baseline,
            "after": after,
            "improvement": (after["value"] - baseline["value"]) if after and baseline else None,
        },
        "reused_from_cache": False,
    }
    return {"metrics": metrics, "log_history": history}


def _checkpoint_step(path: str | None) -> int | None:
    if not path:
        return None
    tail = Path(path).name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _finish(run_dir: Path, trainer: Any, result: dict[str, Any], base_model: str) -> None:
    """Save the best adapter + result as run_dir/final (atomically), then drop the checkpoints.

    The adapter names its base model by HF id / alias rather than the local cache path it was loaded from.
    """
    tmp = run_dir / f".{FINAL}-tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.model.save_pretrained(str(tmp / ADAPTER_DIR), safe_serialization=True)
    config_path = tmp / ADAPTER_DIR / "adapter_config.json"
    atomic_write_json(config_path, {**read_json(config_path), "base_model_name_or_path": base_model})
    atomic_write_json(tmp / RESULT, result)
    final = run_dir / FINAL
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for checkpoint in run_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)
