"""Stage `select`: per candidate cluster, gate and measure candidate SLMs, choose one -> selection.json."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from slmconvert.models.loading import model_identity
from slmconvert.select.data import build_tasks
from slmconvert.select.params import SelectParams
from slmconvert.stages.base import StageContext, StageResult
from slmconvert.util.jsonio import atomic_write_json

NAME = "select"
UPSTREAM = ("cluster", "curate")
Params = SelectParams


def run(ctx: StageContext) -> StageResult:
    """Evaluate every candidate on every candidate cluster's validation sample; write selection.json."""
    from slmconvert.select.engine import select_models  # torch/transformers load only when running

    params: SelectParams = ctx.params  # type: ignore[assignment]
    candidates = list(ctx.extra.get("candidates") or params.candidates)
    cluster = ctx.inputs["cluster"]
    curate = ctx.inputs["curate"]  # the version this cluster was built from (runner follows lineage)
    tasks, skipped = build_tasks(
        cluster, curate, sample_size=params.sample_size, few_shot=params.few_shot,
        context_sample=params.context_sample, include_non_candidates=params.include_non_candidates, seed=params.seed,
    )
    ctx.log(f"select: {len(tasks)} cluster(s) to match, {len(skipped)} skipped, candidates: {', '.join(candidates)}")
    selection = select_models(tasks, params, candidates, progress=ctx.progress, log=ctx.log,
                              budget=_budget(ctx, params))
    selection["inputs"] = {"cluster": cluster.ref, "curate": curate.ref}
    selection["skipped_clusters"] = skipped
    atomic_write_json(ctx.out_dir / "selection.json", selection)
    summary = summarize(selection)
    metrics = {
        "clusters_evaluated": len(selection["clusters"]),
        "clusters_chosen": sum(1 for c in selection["clusters"] if c["chosen"]),
        "clusters_skipped": len(skipped),
        "candidates": len(selection["candidates"]),
        "candidates_failed": sum(1 for c in selection["candidates"] if c["error"]),
    }
    return StageResult(metrics=metrics, summary=summary)


def _budget(ctx: StageContext, params: SelectParams) -> Any:
    """The compute gate's view of the budget: the run's deadline (else select.budget from now) less the
    time kept for iterate, the evidence a trained cluster needs, and each candidate's speed measured here."""
    from slmconvert.finetune.allocate import MIN_CALIBRATION_CALLS, Evidence
    from slmconvert.finetune.schedule import (
        ITERATE_RESERVE_MIN,
        ITERATE_RESERVE_SHARE,
        candidate_speed,
    )
    from slmconvert.select.engine import Budget
    from slmconvert.util.budget import stage_deadline
    from slmconvert.util.device import pick_device

    deadline = stage_deadline(params.budget, ctx.extra.get("deadline"))
    evidence = Evidence(**(ctx.extra.get("evidence") or {}))
    calls = (evidence.required(evidence.coverage) or 0) + MIN_CALIBRATION_CALLS

    # what is left as select starts: a candidate is not penalised for select's own probing and measuring
    # (finetune re-plans with what is really left then)
    at_start = deadline.left() - max(ITERATE_RESERVE_MIN, ITERATE_RESERVE_SHARE * deadline.left())
    speed = candidate_speed(ctx.workspace.cache_dir("throughput"), pick_device(params.device), ctx.log)
    return Budget(seconds_left=lambda: at_start, evidence_calls=calls, speed=speed)


def fingerprint_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """Candidates by identity: a local model dir changes the fingerprint when its files change. Not the
    deadline or iterate's evidence settings (the budget param is: what is left of it differs every run)."""
    out = {k: v for k, v in extra.items() if k not in ("deadline", "evidence")}
    if extra.get("candidates"):
        out["candidates"] = [{"name": name, "identity": model_identity(name)} for name in extra["candidates"]]
    return out


def summarize(selection: dict[str, Any]) -> dict[str, Any]:
    """selection.json without per-example rows (for --json and the tables)."""
    candidates = []
    for entry in selection["candidates"]:
        info = entry.get("info") or {}
        candidates.append({
            "model": entry["model"], "error": entry["error"], "license": info.get("license"),
            "n_params": info.get("n_params"), "context_length": info.get("context_length"),
            "native_tools": info.get("native_tools"),
            "prompt_style": (entry.get("prompt_format") or {}).get("style"),
            "load_seconds": entry.get("load_seconds"), "not_examined": entry.get("not_examined"),
        })
    clusters = []
    for cluster in selection["clusters"]:
        results = [{k: v for k, v in r.items() if k != "rows"} for r in cluster["results"]]
        clusters.append({**{k: v for k, v in cluster.items() if k not in ("results", "sample_ids", "few_shot_ids")},
                         "results": results})
    return {
        "device": selection["device"], "rule": selection["rule"], "candidates": candidates,
        "clusters": clusters, "skipped_clusters": selection.get("skipped_clusters", []),
    }


def _interval(summary: dict[str, Any] | None) -> str:
    if not summary or summary.get("value") is None:
        return "-"
    return f"{summary['value']:.2f} [{summary['low']:.2f}, {summary['high']:.2f}]"


def _gates_text(result: dict[str, Any]) -> str:
    if result.get("excluded"):
        return f"[red]✗ {result['excluded']}[/red]"
    if result.get("not_examined"):
        return f"[dim]not examined: {result['not_examined']}[/dim]"
    context = (result.get("gates") or {}).get("context", {})
    return f"[green]ok[/green] {context.get('required_tokens', '?')}/{context.get('context_length', '?')}"


def render(summary: dict[str, Any], console: Console) -> None:
    """One table per cluster: candidates, gates, primary metric with 95% CI, speed, memory, choice."""
    for cluster in summary.get("clusters", []):
        chosen = (cluster.get("chosen") or {}).get("model")
        sampled = max((((r.get("primary") or {}).get("n") or 0) for r in cluster["results"]), default=0)
        console.print(
            f"[bold]cluster {cluster['cluster_id']}[/bold] {cluster.get('label') or ''}\n"
            f"  {cluster['output_type']}, {sampled} of {cluster['n_validation']} validation calls, "
            f"primary metric {cluster['primary_metric']} (95% CI)",
            highlight=False,
        )
        table = Table(show_edge=False, pad_edge=False)
        table.add_column("model", no_wrap=True)
        table.add_column("gates p99/ctx")
        for column in ("primary", "parse rate", "s/call", "tok/s", "GiB"):
            table.add_column(column, justify="right", no_wrap=True)
        for result in cluster["results"]:
            timing = result.get("timing") or {}
            memory = ((result.get("gates") or {}).get("memory") or {}).get("required_bytes")
            mark = " [bold green]✓[/bold green]" if result["model"] == chosen else ""
            table.add_row(
                result["model"] + mark,
                _gates_text(result),
                _interval(result.get("primary")),
                _interval((result.get("metrics") or {}).get("parse_rate")),
                _num(timing.get("seconds_per_call"), ".2f"),
                _num(timing.get("tokens_per_second"), ".1f"),
                _num(memory / 2**30 if memory else None, ".2f"),
            )
        console.print(table)
        console.print(f"  chosen: [bold]{chosen or 'none'}[/bold] — {cluster['reason']}", highlight=False)
    for skip in summary.get("skipped_clusters", []):
        console.print(f"[dim]cluster {skip['cluster_id']} skipped: {skip['reason']}[/dim]", highlight=False)
    for entry in summary.get("candidates", []):
        if entry.get("error"):
            console.print(f"[yellow]{entry['model']}[/yellow]: {entry['error']}", highlight=False)


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
