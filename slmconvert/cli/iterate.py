"""`slmconvert iterate`: evaluate, promote, route and report; with `--logs NEW`, the weekly loop.

No `from __future__ import annotations` here: the command helper reads option metadata from
the live annotations."""

from typing import Annotated, Any

import typer
from rich.console import Console

from slmconvert.cli.common import CommonOptions, command, print_json, run_stage_command
from slmconvert.cli.safe import safe_tree


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def render_weekly(summary: dict[str, Any], console: Console) -> None:
    d, actions = summary["drift"] or {}, summary["actions"]
    if d:
        console.print(
            f"weekly: {d.get('new_calls')} new calls, {_pct(d.get('ood_share'))} outside every cluster "
            f"(baseline {_pct(d.get('baseline_ood_share'))}), cluster mix moved {_pct(d.get('mix_shift'))}"
        )
    for reason in d.get("recluster_reasons") or []:
        console.print(f"  re-cluster: {reason}")
    for cid, reason in (actions.get("retrain") or {}).items():
        console.print(f"  retrain cluster {cid}: {reason}")
    for note in actions.get("notes") or []:
        console.print(f"  note: {note}")
    m = summary.get("metrics") or {}
    console.print(f"iterate {summary['iterate_version']}: {m.get('promoted')} promoted, "
                  f"{_pct(m.get('share_calls_moved'))} of calls to SLMs, cost cut {_pct(m.get('cost_cut'))}; "
                  f"report: {summary['report']}")


def register(app: typer.Typer) -> None:
    @command(app, "iterate", help="Evaluate specialists on held-out calls, promote clusters, build the router and "
             "report; with --logs, run the weekly loop on new logs.")
    def iterate(
        opts: CommonOptions,
        logs: Annotated[
            list[str] | None,
            typer.Option("--logs", help="New call logs (files, dirs, globs; repeatable): append, curate, measure "
                         "drift, re-cluster/retrain as needed, and write a new version."),
        ] = None,
        budget: Annotated[
            str | None,
            typer.Option("--budget", help="Wall-clock budget (e.g. 90s, 15m, 2h; default iterate.budget); with "
                         "--logs, of the whole weekly loop."),
        ] = None,
    ) -> int:
        if not logs:
            run_stage_command("iterate", opts, flags={"budget": budget} if budget else None)
            return 0
        from slmconvert.config import resolve_all
        from slmconvert.pipeline.budget import apply_budget
        from slmconvert.pipeline.weekly import weekly
        from slmconvert.stages.runner import parse_pins

        params = resolve_all(opts.config, opts.sets)
        if budget:
            params = apply_budget(params, budget)
        summary = weekly(opts.workspace, list(logs), params, console=opts.console, quiet=opts.silent,
                         verbose=opts.verbose, force=opts.force, pins=parse_pins(opts.inputs))
        if opts.json:
            print_json(summary)
        elif not opts.quiet:
            render_weekly(safe_tree(summary), opts.console)
        return 0
