"""`slmconvert status`: every stage's versions, lineage and headline metrics."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from slmconvert.cli.common import CommonOptions, command, print_json
from slmconvert.workspace import STAGES, Workspace


def workspace_status(workspace: Workspace) -> dict[str, Any]:
    """A JSON-able view of the workspace: per stage, its versions (newest last) and LATEST."""
    stages = {}
    for stage in STAGES:
        latest = workspace.latest_version(stage)
        stages[stage] = {
            "latest": latest,
            "versions": [
                {
                    "version": a.version,
                    "created_at": a.manifest.get("created_at"),
                    "inputs": {k: v.get("version") for k, v in a.manifest.get("inputs", {}).items()},
                    "metrics": a.metrics,
                    "latest": a.version == latest,
                }
                for a in workspace.versions(stage)
            ],
        }
    return {"workdir": str(workspace.root), "stages": stages}


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
        table = Table(title=f"workspace {state['workdir']}")
        for column in ("stage", "version", "inputs", "headline metrics"):
            table.add_column(column)
        for stage, info in state["stages"].items():
            versions = info["versions"] if all_versions else [v for v in info["versions"] if v["latest"]]
            if not versions:
                table.add_row(stage, "[dim]not run[/dim]", "", "")
            for v in versions:
                inputs = ", ".join(f"{k}@{ver}" for k, ver in v["inputs"].items())
                marker = " [green](LATEST)[/green]" if v["latest"] and all_versions else ""
                table.add_row(stage, v["version"] + marker, inputs, _short_metrics(v["metrics"]))
        opts.console.print(table)
        return 0
