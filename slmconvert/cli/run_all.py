"""`slmconvert run-all`: every stage in order, skipping what is unchanged.

No `from __future__ import annotations` here: the command helper reads option metadata from
the live annotations."""

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from slmconvert.cli.common import CommonOptions, command, print_json
from slmconvert.cli.safe import safe_tree


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def render_plan(steps: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="run-all --dry-run: what would run, and why", title_justify="left")
    for col in ("stage", "action", "why", "reuses"):
        table.add_column(col)
    for s in steps:
        colour = {"run": "yellow", "skip": "green"}.get(s["action"], "dim")
        table.add_row(s["stage"], f"[{colour}]{s['action']}[/{colour}]", s["reason"], s.get("reuse") or "")
    console.print(table)


def render_budget(budget: dict[str, Any], console: Console) -> None:
    """How the wall-clock budget would be split, and whether speeds are measured or still estimates."""
    from slmconvert.finetune.schedule import speed_key

    table = Table(title=f"budget {budget['budget']}: how it is split", title_justify="left")
    table.add_column("stage")
    table.add_column("share")
    for row in budget["stages"]:
        table.add_row(row["stage"], row["share"])
    console.print(table)
    for t in budget["throughput"]:
        name = speed_key(t["model"], t["lora_layers"]) if t.get("lora_layers") else t["model"]
        console.print(f"  {name} on {t['machine']}: {t['train_tokens_per_second']:.0f} training tok/s, "
                      f"{t['prefill_tokens_per_second']:.0f} prefill / {t['decode_tokens_per_second']:.0f} decode tok/s")
    console.print(budget["note"])


def _budget_plan(opts: CommonOptions, params: dict[str, Any], from_stage: str | None) -> dict[str, Any]:
    from slmconvert.finetune.probe import cached_probes
    from slmconvert.pipeline.budget import describe
    from slmconvert.util.device import pick_device

    cache = opts.workspace.root / ".cache" / "throughput"
    return describe(params["finetune"].budget, cached_probes(cache, pick_device(params["finetune"].device)),
                    from_stage)


def render_summary(summary: dict[str, Any], console: Console) -> None:
    table = Table(title="run-all", title_justify="left")
    for col in ("stage", "version", "", "seconds", "peak memory"):
        table.add_column(col)
    for s in summary["steps"]:
        peak = s.get("peak_rss_mb")
        table.add_row(s["stage"], s["version"], "unchanged" if s["skipped"] else "built", f"{s['seconds']:.1f}",
                      f"{peak / 1024:.1f} GB" if peak else "")
    console.print(table)
    console.print(
        f"[bold]{summary.get('clusters_found')} clusters found[/bold], {summary.get('candidates')} candidates, "
        f"[bold]{summary.get('promoted')} promoted[/bold]; {_pct(summary.get('share_calls_moved'))} of calls and "
        f"{_pct(summary.get('share_cost_moved'))} of LLM cost move to SLMs; projected cost cut "
        f"[bold]{_pct(summary.get('cost_cut'))}[/bold] (escalation {_pct(summary.get('escalation_rate'))})"
    )
    over = summary.get("over_budget_seconds") or 0
    console.print(f"report: {summary['report']}  ({summary['seconds']:.0f} s of a {summary.get('budget')} budget"
                  + (f", {over:.0f} s over" if over else "") + ")")


def register(app: typer.Typer) -> None:
    @command(app, "run-all", help="Run all six stages on call logs (unchanged stages are reused).")
    def run_all(
        opts: CommonOptions,
        paths: Annotated[list[str] | None, typer.Argument(help="Log files, directories or globs (for collect).")] = None,
        from_stage: Annotated[
            str | None, typer.Option("--from", help="Start at this stage; earlier stages keep their LATEST version.")
        ] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would run and why.")] = False,
        candidates: Annotated[
            list[str] | None, typer.Option("--candidate", help="Candidate SLM for select (repeatable; replaces select.candidates).")
        ] = None,
        budget: Annotated[
            str | None, typer.Option("--budget", help="Wall-clock budget of the whole run, e.g. 90s, 15m, 2h, 3h30m "
                                     "(default: finetune.budget, 15m).")
        ] = None,
    ) -> int:
        from slmconvert.config import resolve_all
        from slmconvert.pipeline.budget import apply_budget, run_budget
        from slmconvert.pipeline.run_all import plan, stage_extras
        from slmconvert.pipeline.run_all import run_all as run_pipeline
        from slmconvert.stages.runner import load_stage, parse_pins

        params = resolve_all(opts.config, opts.sets)
        params = apply_budget(params, run_budget(params, budget))
        extras = stage_extras(list(paths or []), candidates)
        pins = parse_pins(opts.inputs)
        if dry_run:
            steps = [s.to_dict() for s in plan(opts.workspace, params, extras, from_stage, opts.force, pins)]
            budget_plan = _budget_plan(opts, params, from_stage)
            if opts.json:
                print_json({"dry_run": True, "steps": steps, "budget": budget_plan})
            else:
                render_plan(safe_tree(steps), opts.console)
                render_budget(safe_tree(budget_plan), opts.console)
            return 0
        console = opts.console

        def show(stage: str, outcome: Any) -> None:
            if not opts.silent:
                load_stage(stage).render(safe_tree(outcome.summary), console)

        summary = run_pipeline(opts.workspace, params, extras, from_stage, opts.force,
                               console=console, quiet=opts.silent, verbose=opts.verbose, on_stage=show, pins=pins)
        if opts.json:
            print_json(summary)
        elif not opts.quiet:
            render_summary(safe_tree(summary), console)
        return 0
