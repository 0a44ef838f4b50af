"""Stage `curate`: collect's calls -> curated.parquet (scrubbed, filtered, SFT-shaped) + audit.json."""

from __future__ import annotations

import contextlib
import gc
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from slmconvert.artifacts.curated import CURATED_FILE
from slmconvert.curate.params import CurateParams
from slmconvert.curate.recall import describe, recall_lowering_settings
from slmconvert.stages.base import StageContext, StageResult
from slmconvert.util.jsonio import atomic_write_json
from slmconvert.util.tables import TableWriter, count_rows, iter_table
from slmconvert.workspace import Artifact, Workspace

NAME = "curate"
UPSTREAM = ("collect",)
Params = CurateParams

FIELD_LABELS = {
    "system": "system messages", "user": "user messages", "assistant": "assistant history",
    "tool": "tool results", "tool_arguments": "tool-call arguments", "output": "assistant outputs",
    "metadata": "metadata", "identifiers": "ids, names and tags", "tool_schemas": "tool schemas",
}


def run(ctx: StageContext) -> StageResult:
    """Scrub and filter every call of collect@input; every input call_id appears once in the output."""
    from slmconvert.curate.pipeline import (  # spaCy/Presidio load only when running
        JSON_COLUMNS,
        Curator,
    )
    from slmconvert.curate.spanstore import open_store

    calls = ctx.inputs["collect"].file("calls.parquet")
    total = count_rows(calls)
    lowering = recall_lowering_settings(ctx.params)
    if lowering:
        ctx.log(f"[yellow]curate: these settings make scrubbing find less than the defaults (see audit.json "
                f"recall_lowering_settings): {escape(describe(lowering))}[/yellow]")
    ctx.log(f"curate: loading Presidio with spaCy pipeline {ctx.params.spacy_model}")
    secret = ctx.workspace.secret_key("curate")
    store = open_store(ctx.workspace.cache_dir("curate-spans"), ctx.params, secret) if ctx.params.span_store else None
    with _helpers(ctx.params, total) as helpers:
        curator = Curator(ctx.params, secret, store=store, log=ctx.log, helpers=helpers)
        gc.freeze()  # spaCy/Presidio objects live all run: keep the collector from rescanning them per chunk
        try:
            with ctx.progress("scrubbing calls", total) as advance, \
                    TableWriter(ctx.out_dir / CURATED_FILE, json_columns=JSON_COLUMNS) as writer:
                for row in curator.curate(iter_table(calls), advance, total, source=calls):
                    writer.write(row)
        finally:
            if store is not None:
                store.close()
    summary = curator.summary()
    if store is not None and store.failed:
        summary["span_store_error"] = store.failed
        ctx.log(f"[yellow]curate: the span store was dropped ({store.failed}); every text was analysed[/yellow]")
    if summary["scrub_errors"]:
        ctx.log(f"[yellow]curate: {summary['scrub_errors']:,} calls could not be scrubbed and were filtered "
                f"(scrub_error); first error: {escape(summary['first_scrub_error'] or '')}[/yellow]")
    atomic_write_json(ctx.out_dir / "audit.json", summary)
    metrics = {key: summary[key] for key in ("records", "kept", "filtered", "entities_total", "records_per_second")}
    return StageResult(metrics=metrics, summary=summary)


def _helpers(params: CurateParams, calls: int) -> Any:
    """Helper processes sharing the analysis (curate.helpers), as a context; none for the Ray engine,
    which spreads chunks over its own workers, or for fewer calls than a chunk."""
    from slmconvert.curate.helpers import AnalysisHelpers, analysis_processes

    count = analysis_processes(params) - 1
    if params.engine != "local" or count < 1 or calls < params.chunk_records:
        return contextlib.nullcontext(None)
    return AnalysisHelpers(params, count)


def after_publish(workspace: Workspace, artifact: Artifact, params: CurateParams, inputs: dict[str, Artifact]) -> None:
    """curate.drop_raw: the collect version just curated loses its raw calls (collect.retention)."""
    if params.drop_raw:
        from slmconvert.collect.retention import purge_raw

        purge_raw(workspace, inputs["collect"], artifact)


def render(summary: dict[str, Any], console: Console) -> None:
    """Audit tables: entities per type and per field, filtered calls per reason, throughput."""
    entities = Table(title="Entities scrubbed", show_edge=False)
    entities.add_column("type")
    entities.add_column("count", justify="right")
    for entity, n in sorted(summary.get("entities_by_type", {}).items(), key=lambda kv: -kv[1]):
        entities.add_row(entity, f"{n:,}")
    entities.add_row("[bold]total[/bold]", f"[bold]{summary.get('entities_total', 0):,}[/bold]")
    console.print(entities)

    fields = Table(title="Entities by field", show_edge=False)
    fields.add_column("field")
    fields.add_column("count", justify="right")
    for kind, n in sorted(summary.get("entities_by_field", {}).items(), key=lambda kv: -kv[1]):
        fields.add_row(FIELD_LABELS.get(kind, kind), f"{n:,}")
    console.print(fields)

    filtered = Table(title="Calls", show_edge=False)
    filtered.add_column("outcome")
    filtered.add_column("calls", justify="right")
    filtered.add_row("kept", f"{summary.get('kept', 0):,}")
    for reason, n in sorted(summary.get("filtered_by_reason", {}).items(), key=lambda kv: -kv[1]):
        filtered.add_row(f"filtered: {reason}", f"{n:,}")
    console.print(filtered)

    analyzer = summary.get("analyzer", {})
    rate = summary.get("records_per_second")
    console.print(
        f"{summary.get('records', 0):,} calls in {summary.get('seconds', 0):.1f} s"
        + (f" ({rate:,.1f} calls/s)" if rate else "")
        + f"; {analyzer.get('texts', 0):,} distinct texts, {analyzer.get('cache_hits', 0):,} cache hits, "
        f"{analyzer.get('store_hits', 0):,} analysed in earlier runs, {analyzer.get('ner', 0):,} through NER"
    )
