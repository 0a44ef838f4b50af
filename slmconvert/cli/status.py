"""`slmconvert status`: every stage's versions, lineage and headline metrics."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from slmconvert.cli.common import CommonOptions, command, print_json
from slmconvert.cli.safe import safe_tree
from slmconvert.workspace import STAGES, Workspace


def stale_inputs(inputs: dict[str, str], latest: dict[str, str | None]) -> list[dict[str, str | None]]:
    """The upstream versions a version was built from that are no longer their stage's LATEST."""
    return [{"stage": stage, "version": version, "latest": latest.get(stage)}
            for stage, version in sorted(inputs.items()) if stage in latest and version != latest[stage]]


def workspace_status(workspace: Workspace) -> dict[str, Any]:
    """A JSON-able view of the workspace: per stage, its versions (newest last), LATEST, staleness, purges."""
    latest = {stage: workspace.latest_version(stage) for stage in STAGES}
    stages = {}
    for stage in STAGES:
        versions = []
        for a in workspace.versions(stage):
            inputs = {k: v.get("version") for k, v in a.manifest.get("inputs", {}).items()}
            versions.append({
                "version": a.version,
                "created_at": a.manifest.get("created_at"),
                "inputs": inputs,
                "metrics": a.metrics,
                "latest": a.version == latest[stage],
                "stale": stale_inputs(inputs, latest),
                "purged": a.purged,
            })
        stages[stage] = {"latest": latest[stage], "versions": versions}
    return {"workdir": str(workspace.root), "stages": stages}


def _notes(version: dict[str, Any]) -> str:
    """What a reader should know about a version: stale upstreams, purged raw files."""
    notes = [f"[yellow]stale:[/yellow] {s['stage']}@{s['version']} is not LATEST ({s['latest'] or 'none'})"
             for s in version["stale"]]
    if version["purged"]:
        notes.append(f"[dim]purged: {', '.join(version['purged'].get('files', []))}[/dim]")
    return "\n".join(notes)


def _short_metrics(metrics: dict[str, Any], limit: int = 4) -> str:
    items = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float, str))][:limit]
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in items)


def register(app: typer.Typer) -> None:
    @command(app, "status", help="Show each stage's versions, lineage and headline metrics.")
    def status(
        opts: CommonOptions,
        all_versions: bool = typer.Option(False, "--all", help="List every version, not only LATEST."),
    ) -> int:
        state = workspace_status(opts.workspace)
        if opts.json:
            print_json(state)
            return 0
        shown = safe_tree(state)
        table = Table(title=f"workspace {shown['workdir']}")
        for column in ("stage", "version", "inputs", "headline metrics", "notes"):
            table.add_column(column)
        for stage, info in shown["stages"].items():
            versions = info["versions"] if all_versions else [v for v in info["versions"] if v["latest"]]
            if not versions:
                table.add_row(stage, "[dim]not run[/dim]", "", "", "")
            for v in versions:
                inputs = ", ".join(f"{k}@{ver}" for k, ver in v["inputs"].items())
                marker = " [green](LATEST)[/green]" if v["latest"] and all_versions else ""
                table.add_row(stage, v["version"] + marker, inputs, _short_metrics(v["metrics"]), _notes(v))
        opts.console.print(table)
        return 0
