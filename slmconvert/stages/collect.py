"""Stage 1, collect: LLM call logs (many formats) -> calls.parquet, rejects.jsonl, stats.json."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from slmconvert.collect.inputs import LOG_SUFFIXES, file_size, resolve_inputs, scan_inputs
from slmconvert.collect.parallel import auto_workers
from slmconvert.collect.params import CollectParams
from slmconvert.collect.pipeline import STATS_FILE, CollectOptions, collect
from slmconvert.collect.pricing import PriceTable
from slmconvert.collect.records import CALLS_FILE
from slmconvert.collect.rejects import REJECTS_FILE
from slmconvert.errors import BadInputError
from slmconvert.stages.base import StageContext, StageResult
from slmconvert.util.jsonio import read_json
from slmconvert.util.tables import iter_table
from slmconvert.workspace import Artifact, Workspace

NAME = "collect"
UPSTREAM: tuple[str, ...] = ()
Params = CollectParams
APPEND_FROM = "append_from"  # input role: the collect version whose calls this one carries (--append)
MB = 1 << 20
SKIPPED_SHOWN = 10
UNPRICED = "(not in the price table)"


def fingerprint_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """Inputs identified by path, size and mtime, so changed log files make a new version."""
    files = []
    for path in resolve_inputs(list(extra.get("paths") or [])):
        try:
            stat = path.stat()
        except OSError as exc:  # gone or unreadable: the run records it as a reject, it must not crash here
            files.append({"path": str(path.resolve()), "error": exc.strerror or type(exc).__name__})
            continue
        files.append({"path": str(path.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    return {"paths": list(extra.get("paths") or []), "files": files}


def _options(params: CollectParams) -> CollectOptions:
    return CollectOptions(
        prices=PriceTable.load(params.prices),
        dedupe=params.dedupe,
        max_line_bytes=int(params.max_line_mb * MB),
        batch_rows=params.batch_rows,
        workers=params.workers,
    )


def _nothing_collected(summary: dict[str, Any], where: str | None = None) -> BadInputError:
    files = ", ".join(f["file"] for f in summary["files"][:3])
    if not summary["rejects"]:
        return BadInputError(f"no LLM calls found: the inputs hold no records ({files})",
                             hint="check the paths; empty files and blank lines are skipped")
    reasons = "; ".join(
        f"{g['reason']} x{g['count']} (first at {g['examples'][0]['at']})" for g in summary["reject_reasons"][:3]
    )
    kept = f"every reject is in {where}/{REJECTS_FILE}; " if where else ""
    return BadInputError(f"no LLM calls found: all {summary['rejects']} input records were rejected: {reasons}",
                         hint=f"{kept}see the supported formats in the README; each reject names file:line and why")


def after_publish(workspace: Workspace, artifact: Artifact, params: CollectParams, inputs: dict[str, Artifact]) -> None:
    """A version whose every input record was rejected is kept (its rejects must be inspectable) but is
    bad input: exit 4, also when the same run is reused as unchanged."""
    del workspace, params, inputs
    if artifact.metrics.get("calls") == 0:
        summary = read_json(artifact.file(STATS_FILE))
        raise _nothing_collected(summary, str(artifact.path))


def run(ctx: StageContext) -> StageResult:
    """Read every input, normalise, deduplicate (and union with --append's version), write outputs."""
    inputs = scan_inputs(list(ctx.extra.get("paths") or []))
    files = inputs.files
    append_from = ctx.inputs.get(APPEND_FROM)
    carried = iter_table(append_from.file(CALLS_FILE)) if append_from is not None else None
    total = sum(file_size(p) for p in files)
    options = _options(ctx.params)
    workers = auto_workers(options.workers, total)
    started = time.perf_counter()
    with ctx.progress(f"Collecting {len(files)} file(s)", total=total) as advance:
        summary = collect([], ctx.out_dir, options, carried=carried, progress=advance, files=files,
                          skipped=inputs.skipped)
    seconds = time.perf_counter() - started
    if summary["calls"] == 0 and not summary["rejects"]:
        raise _nothing_collected(summary)  # nothing to inspect: publish nothing
    summary["append_from"] = append_from.ref if append_from is not None else None
    ctx.log(f"read {total / MB:.1f} MB in {seconds:.1f} s with {workers} process(es) "
            f"({summary['new_calls'] / max(seconds, 1e-9):,.0f} calls/s, {total / MB / max(seconds, 1e-9):.1f} MB/s)")
    if summary["rejects"]:
        ctx.log(f"[yellow]{summary['rejects']} rejected input record(s)[/yellow]: see {REJECTS_FILE}")
    metrics = {
        "calls": summary["calls"],
        "new_calls": summary["new_calls"],
        "rejects": summary["rejects"],
        "duplicates": summary["duplicates"],
        "files": len(summary["files"]),
        "prompt_tokens": summary["tokens"]["prompt"],
        "completion_tokens": summary["tokens"]["completion"],
        "cost_usd": summary["cost_usd"],
    }
    return StageResult(metrics=metrics, summary=summary)


def _render_skipped(summary: dict[str, Any], console: Console) -> None:
    """Paths passed over while expanding the inputs (README files, FIFOs, broken symlinks...), first few."""
    skipped = summary.get("skipped_files") or []
    total = summary.get("skipped_files_total", len(skipped))
    if not total:
        return
    console.print(f"[yellow]passed over {total:,} path(s)[/yellow] while expanding the inputs "
                  f"(log files end in {', '.join(LOG_SUFFIXES)}; all listed in stats.json, skipped_files):")
    for item in skipped[:SKIPPED_SHOWN]:
        console.print(f"  {escape(item['path'])}: {escape(item['reason'])}", highlight=False)
    if total > SKIPPED_SHOWN:
        console.print(f"  ... and {total - SKIPPED_SHOWN:,} more")


def console_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """What collect may show on a console or in --json: counts and our own words, no log value.

    collect runs before curate, so workload ids, tool and model names, and reject details (which
    may quote a record) are raw log data: they stay in stats.json (owner-only) and are counted
    here. Models are shown under the price-table entry they resolved to; unpriced ones are counted.
    Idempotent: a console summary passes through unchanged.
    """
    raw = ("by_workload", "by_tool", "by_model", "unknown_price_models", "reject_reasons")
    out = {k: v for k, v in summary.items() if k not in raw}
    out["reject_reasons"] = [{"reason": g["reason"], "count": g["count"],
                              "examples": [{"at": e["at"]} for e in g.get("examples", [])]}
                             for g in summary.get("reject_reasons", [])]
    out["workload_count"] = summary.get("workload_count", len(summary.get("by_workload", [])))
    out["tool_count"] = summary.get("tool_count", len(summary.get("by_tool", [])))
    out["by_model"] = _models_by_price_entry(summary.get("by_model", []))
    unpriced = summary.get("unknown_price_models")
    if unpriced is not None:  # a console summary has only the counts below
        out["unpriced_models"] = len(unpriced)
        out["unpriced_calls"] = sum(u["calls"] for u in unpriced)
    return out


def _models_by_price_entry(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Model rows merged by price-table entry; every unpriced name in one row that names none."""
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        if "priced_as" not in row and "models" not in row:
            continue  # a stats.json written before priced_as: its names are raw, show none
        name = row.get("priced_as") if "models" not in row else row["model"]
        key = name or UNPRICED
        into = merged.setdefault(key, {"model": key, "models": 0, "calls": 0, "prompt_tokens": 0,
                                       "completion_tokens": 0, "cost_usd": None})
        into["models"] += row.get("models", 1)
        for field in ("calls", "prompt_tokens", "completion_tokens"):
            into[field] += row[field]
        if row["cost_usd"] is not None:
            into["cost_usd"] = (into["cost_usd"] or 0.0) + row["cost_usd"]
    return sorted(merged.values(), key=lambda r: (r["model"] == UNPRICED, -r["calls"], r["model"]))


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4f}"


def render(summary: dict[str, Any], console: Console) -> None:
    """Human tables: per file, rejects by reason, calls by model, tokens and cost (console_summary's
    fields only: nothing read from a log record is printed)."""
    summary = console_summary(summary)
    files = Table(title="Input files", title_justify="left")
    for col in ("file", "formats", "records", "calls", "duplicates", "rejects"):
        files.add_column(col, justify="left" if col in ("file", "formats") else "right")
    for f in summary.get("files", []):
        formats = ", ".join(f"{k} {v}" for k, v in f["formats"].items())
        if not formats and f.get("batch_paired"):  # batch request lines: their calls count at the output file
            formats = f"openai_batch requests ({f['batch_paired']} paired)"
        records = f["lines"] - f["blank_lines"]
        files.add_row(f["file"], formats or "-", f"{records:,}", f"{f['calls']:,}", f"{f['duplicates']:,}", f"{f['rejects']:,}")
    console.print(files)
    _render_skipped(summary, console)

    if summary.get("reject_reasons"):
        rejects = Table(title=f"Rejected: {summary['rejects']:,} (see {REJECTS_FILE})", title_justify="left")
        rejects.add_column("reason")
        rejects.add_column("count", justify="right")
        rejects.add_column("first at")
        for group in summary["reject_reasons"]:
            first = ", ".join(e["at"] for e in group["examples"][:3])
            rejects.add_row(group["reason"], f"{group['count']:,}", first)
        console.print(rejects)

    models = Table(title="Calls by model (price-table entry)", title_justify="left")
    for col in ("model", "names", "calls", "prompt tokens", "completion tokens", "est. cost"):
        models.add_column(col, justify="left" if col == "model" else "right")
    for m in summary.get("by_model", []):
        models.add_row(m["model"], f"{m['models']:,}", f"{m['calls']:,}", f"{m['prompt_tokens']:,}",
                       f"{m['completion_tokens']:,}", _money(m["cost_usd"]))
    console.print(models)
    console.print(f"{summary.get('workload_count', 0):,} workload(s), {summary.get('tool_count', 0):,} tool name(s) "
                  f"(text answers counted as one); their names and counts are in {STATS_FILE} (raw log data, "
                  "not printed before curate)")

    tokens = summary.get("tokens", {})
    carried = f", {summary['carried_calls']:,} carried from {summary['append_from']}" if summary.get("append_from") else ""
    console.print(
        f"[bold]{summary.get('calls', 0):,} calls[/bold] ({summary.get('new_calls', 0):,} new{carried}); "
        f"{summary.get('duplicates', 0):,} duplicates removed; {summary.get('rejects', 0):,} rejected; "
        f"{summary.get('error_responses', 0):,} LLM error responses kept for curate"
    )
    console.print(
        f"tokens: {tokens.get('prompt', 0):,} prompt + {tokens.get('completion', 0):,} completion "
        f"({tokens.get('calls_without_usage', 0):,} calls without usage); estimated LLM cost "
        f"{_money(summary.get('cost_usd'))} over {summary.get('priced_calls', 0):,} priced calls"
    )
    if summary.get("unpriced_models"):
        console.print(f"[yellow]no price for {summary['unpriced_models']:,} model name(s)[/yellow] "
                      f"({summary['unpriced_calls']:,} calls): listed in {STATS_FILE}, unknown_price_models; "
                      "add them under collect.prices to estimate their cost")
