"""Stage `iterate`: specialists evaluated on held-out calls, clusters promoted, router built and
replayed, economics and the report (evaluation.json, predictions.parquet, router/, report.*,
history.json)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from slmconvert.iterate.params import IterateParams
from slmconvert.stages.base import StageContext, StageResult

NAME = "iterate"
UPSTREAM = ("finetune", "select", "cluster", "curate")
Params = IterateParams


def run(ctx: StageContext) -> StageResult:
    """See slmconvert.iterate.build."""
    from slmconvert.iterate.build import run as build

    return build(ctx)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _metric(summary: dict[str, Any] | None) -> str:
    if not summary or summary.get("value") is None:
        return "-"
    return f"{summary['value']:.2f} ({summary.get('low', 0):.2f}) n={summary.get('n')}"


def render(summary: dict[str, Any], console: Console) -> None:
    """Per-cluster decisions (reasons below the table), then the replay and economics headline."""
    table = Table(title="Primary metric on held-out calls: base model vs specialist (Wilson low)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("label", overflow="ellipsis", no_wrap=True, max_width=24)
    for col in ("base", "specialist (low)", "route", "escal."):
        table.add_column(col, no_wrap=True)
    for c in summary.get("clusters", []):
        route = "[green]SLM[/green]" if c.get("promoted") else "[yellow]LLM[/yellow]"
        base = c.get("base") or {}
        base_text = f"{base['value']:.2f} n={base.get('n')}" if base.get("value") is not None else "-"
        table.add_row(str(c["cluster_id"]), c.get("label") or "", base_text,
                      _metric(c.get("specialist")), route, _pct(c.get("escalation_rate")))
    console.print(table)
    for c in summary.get("clusters", []):
        console.print(f"  {c['cluster_id']}: {c.get('reason') or ''}", highlight=False)
    replay, economics = summary.get("replay", {}), summary.get("economics", {})
    console.print(
        f"replay on {replay.get('calls', 0)} held-out calls: {_pct(replay.get('share_routed_slm'))} routed to SLMs, "
        f"escalation {_pct(replay.get('escalation_rate'))}, served quality {_pct(replay.get('served_quality'))}"
    )
    console.print(
        f"moved to SLMs: {_pct(economics.get('share_calls_moved'))} of calls, "
        f"{_pct(economics.get('share_cost_moved'))} of LLM cost; projected cost cut {_pct(economics.get('cost_cut'))}"
    )
