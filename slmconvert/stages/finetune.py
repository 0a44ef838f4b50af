"""Stage `finetune`: a LoRA/QLoRA adapter per selected cluster -> `<cluster_id>/adapter/` + card + metrics.

Besides the per-cluster directories (see slmconvert.finetune.outputs), `finetune.json` indexes
what was trained, reused or skipped and why.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

from slmconvert.artifacts.adapters import INDEX_FILE
from slmconvert.errors import UsageError
from slmconvert.finetune.params import FinetuneParams
from slmconvert.models.loading import model_identity
from slmconvert.stages.base import StageContext, StageResult
from slmconvert.util.jsonio import atomic_write_json, read_json

NAME = "finetune"
UPSTREAM = ("select", "cluster", "curate")
Params = FinetuneParams


def run(ctx: StageContext) -> StageResult:
    """Train every selected cluster (or those in ctx.extra["clusters"]) and index the results."""
    from slmconvert.finetune.data_parallel import world_size
    from slmconvert.finetune.records import load_cluster_records
    from slmconvert.finetune.run import train_cluster
    from slmconvert.finetune.schedule import value_shares

    params: FinetuneParams = ctx.params  # type: ignore[assignment]
    selection = read_json(ctx.inputs["select"].file("selection.json"))
    cluster = ctx.inputs["cluster"]
    curate = ctx.inputs["curate"]  # the version this cluster was built from (runner follows lineage)
    inputs = {"select": ctx.inputs["select"].ref, "cluster": cluster.ref, "curate": curate.ref}
    jobs, unselected = plan_jobs(selection, params, ctx.extra.get("clusters"), inputs)
    params, device, lanes = _training_side(ctx, params)
    records = load_cluster_records(curate, cluster, [job.cluster_id for job in jobs])
    prepared, unfit = prepare_jobs(jobs, records, params, device)
    shares = value_shares(read_json(cluster.file("clusters.json")))
    schedule = _schedule(ctx, prepared, params, device, shares, lanes)
    to_train, left_out = _planned(prepared, schedule, params, device)
    ctx.log(f"finetune: {len(to_train)} cluster(s) to train on {device}"
            + (f", {len(unselected + unfit + left_out)} skipped" if unselected + unfit + left_out else ""))
    for s in unfit + left_out:
        ctx.log(f"[yellow]finetune: skipped cluster {s['cluster_id']}: {s['reason']}[/yellow]")
    world = world_size(params.data_parallel, params.engine, device)
    if world > 1 and to_train:
        ctx.log(f"finetune: each cluster trains data-parallel on {world} processes"
                + (" (one per GPU)" if device == "cuda" else ""))
    cache_root = ctx.workspace.cache_dir("finetune")
    results: list[dict[str, Any]] = []
    trained: list[dict[str, Any]] = []
    started = time.perf_counter()
    if params.engine == "ray" and to_train:
        trained = _train_on_ray(ctx, to_train, schedule, params, device, cache_root, lanes)
        results, to_train = [_row(m) for m in trained], []
    while to_train:
        job, prep = to_train.pop(0)
        metrics = train_cluster(
            job, params, device=device, cache_root=cache_root, out_dir=ctx.out_dir / str(job.cluster_id),
            console=ctx.console, quiet=ctx.quiet, prepared=prep, stop_at=schedule.stop_at(job.cluster_id),
            world_size=world,
        )
        results.append(_row(metrics))
        trained.append(metrics)
        if to_train or left_out:
            schedule, to_train, left_out = _replanned(ctx, schedule, prepared, trained, params, device, shares)
    skipped = unselected + unfit + left_out
    results.sort(key=lambda r: r["cluster_id"])
    summary = {"device": device, "engine": params.engine, "data_parallel": world, "clusters": results, "skipped": sorted(skipped, key=lambda s: s["cluster_id"]),
               "seconds": round(time.perf_counter() - started, 2), "budget": schedule.to_dict()}
    atomic_write_json(ctx.out_dir / INDEX_FILE, summary)
    improvements = [r["improvement"] for r in results if r.get("improvement") is not None]
    return StageResult(
        metrics={
            "clusters_trained": len(results),
            "clusters_reused": sum(1 for r in results if r["reused_from_cache"]),
            "clusters_skipped": len(skipped),
            "mean_improvement": round(sum(improvements) / len(improvements), 4) if improvements else None,
            "seconds": summary["seconds"],
            "budget": params.budget,
            "budget_plan": {k: v for k, v in summary["budget"].items() if k != "throughput"},
        },
        summary=summary,
    )


def plan_jobs(
    selection: dict[str, Any], params: FinetuneParams, wanted: list[int] | None, inputs: dict[str, str]
) -> tuple[list[Any], list[dict[str, Any]]]:
    """One ClusterJob per cluster to train (select's chosen model, or params.base_model), plus the
    clusters left out with the reason."""
    from slmconvert.finetune.run import ClusterJob

    entries = {int(c["cluster_id"]): c for c in selection.get("clusters", [])}
    if wanted:
        unknown = sorted(set(int(c) for c in wanted) - set(entries))
        if unknown:
            raise UsageError(
                f"cluster(s) {', '.join(map(str, unknown))} are not in the selection",
                hint=f"clusters with a selection: {', '.join(map(str, sorted(entries))) or 'none'}",
            )
    ids = sorted(int(c) for c in wanted) if wanted else sorted(entries)
    jobs, skipped = [], []
    for cid in ids:
        entry = entries[cid]
        chosen = entry.get("chosen") or {}
        model = params.base_model or chosen.get("model")
        if not model:
            skipped.append({"cluster_id": cid, "reason": f"no model chosen by select: {entry.get('reason')}"})
            continue
        style = params.prompt_style
        if style == "auto" and not params.base_model:
            style = (chosen.get("prompt_format") or {}).get("style", "auto")
        same_model = not params.base_model or params.base_model == chosen.get("model")
        jobs.append(ClusterJob(
            cluster_id=cid, model=model,
            label=entry.get("label"), output_type=entry.get("output_type"), prompt_style=style,
            n_params=chosen.get("n_params") if same_model else None,
            model_identity=model_identity(model), hf_id=_hf_id(model), inputs=inputs,
            baseline=_select_baseline(entry) if same_model else None,
            baseline_skipped=chosen.get("unmeasured") if same_model else None,
            validation_ids=list(entry.get("sample_ids") or []) if entry.get("sample_split") == "validation" else [],
        ))
    return jobs, skipped


def prepare_jobs(jobs: list[Any], records: dict[int, Any], params: FinetuneParams,
                 device: str) -> tuple[list[tuple[Any, Any]], list[dict[str, Any]]]:
    """(job, prepared) for every job whose data can be trained on, and the others with the reason."""
    from slmconvert.finetune.run import ClusterSkipped, prepare_job
    from slmconvert.models import load_tokenizer

    tokenizers: dict[str, Any] = {}
    ready, unfit = [], []
    for job in jobs:
        job.records = records[job.cluster_id]
        if job.model not in tokenizers:
            tokenizers[job.model] = load_tokenizer(job.model)
        try:
            ready.append((job, prepare_job(job, params, device, tokenizers[job.model])))
        except ClusterSkipped as exc:
            unfit.append({"cluster_id": job.cluster_id, "reason": exc.message})
    return ready, unfit


def _training_side(ctx: StageContext, params: FinetuneParams) -> tuple[FinetuneParams, str, Any]:
    """(params, device, lanes) of the processes that will train: this one (local engine, lanes None),
    or a Ray cluster's training tasks, whose device and precision a task on one of its lanes reports
    (a driver without a GPU plans for the GPUs of its workers)."""
    from slmconvert.finetune.budget import device_here

    if params.engine != "ray":
        return params, device_here(params)[0], None
    from functools import partial

    from slmconvert.engine.base import EngineSpec
    from slmconvert.finetune.distributed import on_a_lane, training_lanes

    spec = EngineSpec.of(params)
    lanes = training_lanes(spec, ctx.log, gpus=params.device != "cpu")
    device, precision = on_a_lane(partial(device_here, params), lanes, spec, ctx.log)
    ctx.log(f"finetune: {lanes.count} training lane(s) on Ray ({lanes.cpus} CPU"
            + (f", {lanes.gpus:g} GPU" if lanes.gpus else "") + f" each), training on {device} in {precision}")
    return params.model_copy(update={"precision": precision}), device, lanes


def _schedule(ctx: StageContext, prepared: list[tuple[Any, Any]], params: FinetuneParams, device: str,
              shares: dict[int, float], lanes: Any = None) -> Any:
    """The budget plan: the deadline run-all handed down (else this run's own budget from now), the
    evidence iterate will need (run-all passes iterate's settings), speeds probed where training runs
    (here, or in a task on a Ray lane), and as many clusters training at once as there are lanes."""
    from slmconvert.finetune.allocate import Evidence
    from slmconvert.finetune.schedule import default_probe, make_schedule
    from slmconvert.util.budget import stage_deadline

    deadline = stage_deadline(params.budget, ctx.extra.get("deadline"))
    evidence = Evidence(**(ctx.extra.get("evidence") or {}))
    probe = ctx.extra.get("probe") or default_probe(ctx.workspace.cache_dir("throughput"), params, device)
    if lanes is not None:
        probe = _probe_on_a_lane(probe, lanes, params, ctx.log)
    schedule = make_schedule(prepared, params, device, deadline, shares, evidence, probe,
                             lanes=lanes.count if lanes else 1)
    where = "on a Ray lane" if lanes else "here"
    for key, speed in schedule.throughput.items():
        ctx.log(f"finetune: {key} {where} ({speed.source}): {speed.train_tokens_per_second:.0f} training tok/s, "
                f"{speed.prefill_tokens_per_second:.0f} prefill / {speed.decode_tokens_per_second:.0f} decode tok/s")
    ctx.log(f"finetune: budget {params.budget}: {schedule.plan.seconds:.0f} s to plan, "
            f"{schedule.plan.planned_seconds:.0f} s planned (training + evidence)")
    return schedule


def _probe_on_a_lane(probe: Any, lanes: Any, params: FinetuneParams, log: Any) -> Any:
    """`probe` run in a Ray task holding one lane's resources, given the job without its records."""
    import dataclasses
    from functools import partial

    from slmconvert.engine.base import EngineSpec
    from slmconvert.finetune.distributed import on_a_lane

    def on_lane(model: str, job: Any, lora_layers: float) -> Any:
        slim = dataclasses.replace(job, records=None)
        return on_a_lane(partial(probe, model, slim, lora_layers), lanes, EngineSpec.of(params), log)

    return on_lane


def _replanned(ctx: StageContext, schedule: Any, prepared: list[tuple[Any, Any]], trained: list[dict[str, Any]],
               params: FinetuneParams, device: str,
               shares: dict[int, float]) -> tuple[Any, list[tuple[Any, Any]], list[dict[str, Any]]]:
    """(schedule, clusters still to train, clusters left out) planned again at the measured training speed."""
    from slmconvert.finetune.schedule import replan, trained_tokens_per_second

    done = {m["cluster_id"] for m in trained}
    remaining = [(job, prep) for job, prep in prepared if job.cluster_id not in done]
    measured = trained_tokens_per_second(trained, {key: t.replay_cost for key, t in schedule.throughput.items()})
    schedule = replan(schedule, done, remaining, measured, params, device, shares)
    to_train, left_out = _planned(remaining, schedule, params, device)
    rates = ", ".join(f"{key} {rate:.0f} tok/s" for key, rate in measured.items())
    ctx.log(f"finetune: trained here at {rates or 'no measured rate'}; re-planned {len(to_train)} cluster(s) "
            f"of {len(remaining)} left")
    return schedule, to_train, left_out


def _train_on_ray(ctx: StageContext, to_train: list[tuple[Any, Any]], schedule: Any, params: FinetuneParams,
                  device: str, cache_root: Any, lanes: Any) -> list[dict[str, Any]]:
    """engine=ray: every planned cluster as a Ray task holding one lane (a GPU, or a node where there
    are none), as many at once as there are lanes. Each stops at its planned seconds after its task
    starts (and before iterate's evidence time), so a queued one keeps its time."""
    from slmconvert.engine.base import EngineSpec
    from slmconvert.finetune.distributed import train_clusters_in_parallel
    from slmconvert.finetune.run import TrainingTask, train_task

    tasks = [TrainingTask(job, prep, params, device, cache_root, ctx.out_dir / str(job.cluster_id),
                          schedule.stop_window(job.cluster_id)) for job, prep in to_train]
    ctx.log(f"finetune: training {len(tasks)} cluster(s) in Ray tasks, {min(len(tasks), lanes.count)} at once")
    return train_clusters_in_parallel(train_task, tasks, lanes=lanes, spec=EngineSpec.of(params), log=ctx.log)


def _planned(prepared: list[tuple[Any, Any]], schedule: Any, params: FinetuneParams,
             device: str) -> tuple[list[tuple[Any, Any]], list[dict[str, Any]]]:
    """(job, re-planned job) pairs to train in plan order, and the clusters the plan leaves out, with why."""
    from slmconvert.finetune.run import with_plan

    by_id = {job.cluster_id: (job, prep) for job, prep in prepared}
    chosen, left_out = [], []
    for entry in schedule.plan.entries:
        if entry.cluster_id not in by_id:  # trained already (a re-plan keeps its entry)
            continue
        job, prep = by_id[entry.cluster_id]
        if entry.trained:
            chosen.append((job, with_plan(job, prep, params, device, token_budget=entry.train_tokens)))
        else:
            left_out.append({"cluster_id": entry.cluster_id, "reason": entry.reason})
    return chosen, left_out


def _select_baseline(entry: dict[str, Any]) -> dict[str, Any] | None:
    """select's zero-shot measurement of its chosen model, in the shape validation results take."""
    primary = (entry.get("chosen") or {}).get("primary")
    if not primary or primary.get("value") is None:
        return None
    return {"metric": entry.get("primary_metric"), "value": primary["value"],
            "interval": [primary.get("low"), primary.get("high")], "n": primary.get("n"), "source": "select"}


def _hf_id(name: str) -> str | None:
    from slmconvert.errors import SlmError
    from slmconvert.models import resolve_model

    try:
        resolved = resolve_model(name)
    except SlmError:
        return None
    if resolved.spec and resolved.spec.hf_id:
        return resolved.spec.hf_id
    return resolved.ref if resolved.kind == "hf" else None


def fingerprint_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """The cluster filter, normalised (order and duplicates do not matter). The deadline, probe and
    iterate's evidence settings are not part of it: the budget param is (what is left of it differs
    every run; a stricter target later makes iterate evaluate more, not finetune retrain)."""
    out = {k: v for k, v in extra.items() if k not in ("deadline", "probe", "evidence")}
    if extra.get("clusters"):
        out["clusters"] = sorted({int(c) for c in extra["clusters"]})
    return out


def _row(metrics: dict[str, Any]) -> dict[str, Any]:
    """One summary row per trained cluster (the table and --json)."""
    plan, data, training, validation = (metrics[k] for k in ("plan", "data", "training", "validation"))
    before, after = validation.get("before") or {}, validation.get("after") or {}
    return {
        "cluster_id": metrics["cluster_id"],
        "label": metrics.get("label"),
        "base_model": metrics["base_model"]["name"],
        "method": plan["method"],
        "precision": plan["precision"],
        "examples": data["train_used"],
        "epochs": training["epochs"],
        "steps": training["steps"],
        "train_loss": training["train_loss"],
        "eval_loss": training["best_eval_loss"],
        "metric": validation["metric"],
        "before": before.get("value"),
        "after": after.get("value"),
        "improvement": validation.get("improvement"),
        "seconds": training["seconds"],
        "tokens_per_second": training["tokens_per_second"],
        "loss_tokens_per_second": training["loss_tokens_per_second"],
        "adapter_bytes": metrics["adapter"]["bytes"],
        "prompt_format": metrics["prompt_format"],
        "reused_from_cache": metrics.get("reused_from_cache", False),
        "path": str(metrics["cluster_id"]),
    }


def _num(value: Any, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


def render(summary: dict[str, Any], console: Console) -> None:
    """Per cluster: base model, method, examples, epochs, losses, metric before -> after, time, speed, size."""
    table = Table(title=f"Specialists (device {summary.get('device', '?')})", title_justify="left")
    for col in ("id", "label", "base model", "method", "examples", "epochs", "train/val loss", "metric",
                "before → after", "time", "tok/s", "adapter"):
        table.add_column(col, overflow="fold", no_wrap=col == "metric")
    for r in summary.get("clusters", []):
        fmt = r.get("prompt_format") or {}
        distilled = "+cd" if fmt.get("drop_system") or fmt.get("drop_tools") or fmt.get("drop_system_lines") else ""
        table.add_row(
            str(r["cluster_id"]), (r.get("label") or "")[:40], r["base_model"], f"{r['method']} {r['precision']}{distilled}",
            str(r["examples"]), _num(r["epochs"], ".2g"), f"{_num(r['train_loss'])}/{_num(r['eval_loss'])}",
            r["metric"], f"{_num(r['before'])} → {_num(r['after'])}",
            "cached" if r.get("reused_from_cache") else f"{r['seconds']:.0f}s",
            _num(r["tokens_per_second"], ".0f"), f"{r['adapter_bytes'] / 1e6:.1f} MB",
        )
    console.print(table)
    for s in summary.get("skipped", []):
        console.print(f"[yellow]skipped cluster {s['cluster_id']}[/yellow]: {s['reason']}")
