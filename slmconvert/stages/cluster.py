"""Stage 3, cluster: curated calls -> task clusters, labels, splits, a 2-D map and the router seed."""

from __future__ import annotations

import shutil
import time
from typing import Any

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from slmconvert.artifacts.clusters import (
    ASSIGNMENTS_FILE,
    CLUSTERS_FILE,
    MAP_FILE,
    SEED_DIR,
    SPLITS_FILE,
)
from slmconvert.artifacts.curated import CURATED_FILE
from slmconvert.cluster.params import ClusterParams
from slmconvert.cluster.pipeline import ClusterRun, discover_tasks
from slmconvert.cluster.plot import draw_cluster_map
from slmconvert.errors import BadInputError
from slmconvert.stages.base import StageContext, StageResult
from slmconvert.util.jsonio import atomic_write_json
from slmconvert.util.tables import TableWriter, iter_table, write_table

NAME = "cluster"
UPSTREAM = ("curate",)
Params = ClusterParams
EXTEND_FROM = "extend_from"  # input role: the cluster version grown with new calls (weekly loop)

CLUSTERS_SCHEMA = "slmconvert.clusters/1"
TABLE_KEYS = ("id", "label", "size", "share_calls", "share_tokens", "share_cost", "output_type", "top_tools",
              "keywords", "candidate", "why_not")
# Only what signatures, statistics and splits read; prompt/completion would be decoded for nothing.
_COLUMNS = ["call_id", "status", "workload_id", "messages", "tools", "tool_choice", "response_format",
            "output", "usage", "cost_usd"]


def _kept_calls(ctx: StageContext) -> list[dict[str, Any]]:
    path = ctx.inputs["curate"].file(CURATED_FILE)
    present = set(pq.ParquetFile(path).schema_arrow.names)
    if not {"call_id", "messages"} <= present:
        raise BadInputError(f"{path} lacks call_id/messages columns", hint="rerun `slmconvert curate --force`")
    rows = iter_table(path, columns=[c for c in _COLUMNS if c in present])
    return [row for row in rows if row.get("status", "kept") == "kept"]


def _write_outputs(ctx: StageContext, records: list[dict], found: ClusterRun, params: ClusterParams) -> float:
    """All named outputs into ctx.out_dir; returns seconds spent drawing the map."""
    with TableWriter(ctx.out_dir / ASSIGNMENTS_FILE) as table:
        for record, label, prob in zip(records, found.call_labels, found.call_probabilities, strict=True):
            table.write({"call_id": record["call_id"], "cluster_id": int(label), "probability": round(float(prob), 6)})
    write_table(ctx.out_dir / SPLITS_FILE, found.splits)
    atomic_write_json(ctx.out_dir / CLUSTERS_FILE, {
        "schema": CLUSTERS_SCHEMA,
        "clusters": found.clusters,
        "noise": {"calls": found.totals["noise_calls"], "share": found.totals["noise_share"]},
        "totals": found.totals,
        "min_cluster_size": found.min_cluster_size,
        "distinct_signatures": len(found.sigs),
        "embedding_model": found.seed.embedder_id,
        "agreement": found.agreement,
        "why_no_clusters": found.why_no_clusters,
    })
    found.seed.save(ctx.out_dir / SEED_DIR)
    started = time.perf_counter()
    names = {c["id"]: c["label"] for c in found.clusters}
    draw_cluster_map(found.vectors, found.clustering.labels, found.sigs.counts, names, ctx.out_dir / MAP_FILE,
                     params.map_points, params.seed)
    return round(time.perf_counter() - started, 3)


def run(ctx: StageContext) -> StageResult:
    """Cluster the kept calls of curate's output and write every cluster artifact (or, with
    the `extend_from` input, grow that cluster version with the new calls: see cluster.extend)."""
    params: ClusterParams = ctx.params  # type: ignore[assignment]
    records = _kept_calls(ctx)
    if EXTEND_FROM in ctx.inputs:
        return _run_extend(ctx, records, ctx.inputs[EXTEND_FROM], params)
    ctx.log(f"clustering {len(records):,} kept calls")
    found = discover_tasks(records, params, cache_root=ctx.workspace.cache_dir("embeddings"), progress=ctx.progress,
                           log=ctx.log)
    found.timings["map"] = _write_outputs(ctx, records, found, params)
    if found.why_no_clusters:
        ctx.log(f"[yellow]no cluster found[/yellow]: {found.why_no_clusters}")
    candidates = [c["id"] for c in found.clusters if c["candidate"]]
    metrics = {
        "calls": len(records),
        "clusters": len(found.clusters),
        "candidates": len(candidates),
        "noise_share": found.totals["noise_share"],
        "distinct_signatures": len(found.sigs),
        "router_self_agreement": found.totals["router_self_agreement"],
    }
    if found.agreement:
        metrics["ari_vs_workload_tags"] = found.agreement["ari"]
    summary = {
        **metrics,
        "min_cluster_size": found.min_cluster_size,
        "embedding_cache_hits": found.cache_hits,
        "agreement": found.agreement,
        "timings": found.timings,
        "clusters_table": clusters_table(found.clusters),
        "why_no_clusters": found.why_no_clusters,
    }
    return StageResult(metrics=metrics, summary=summary)


def _run_extend(ctx: StageContext, records: list[dict], previous: Any, params: ClusterParams) -> StageResult:
    """The previous version's clusters, grown with the calls it never saw."""
    from slmconvert.cluster.extend import extend
    from slmconvert.cluster.pipeline import make_embedder

    ctx.log(f"extending {previous.ref} with the calls it has not seen ({len(records):,} kept calls in all)")
    grown = extend(records, previous, params, make_embedder(params))
    write_table(ctx.out_dir / ASSIGNMENTS_FILE, grown.assignments)
    write_table(ctx.out_dir / SPLITS_FILE, grown.splits)
    atomic_write_json(ctx.out_dir / CLUSTERS_FILE, grown.document)
    shutil.copytree(previous.path / SEED_DIR, ctx.out_dir / SEED_DIR)
    if (previous.path / MAP_FILE).is_file():
        shutil.copy2(previous.path / MAP_FILE, ctx.out_dir / MAP_FILE)
    clusters = grown.document.get("clusters", [])
    metrics = {
        "calls": len(records),
        "clusters": len(clusters),
        "candidates": sum(1 for c in clusters if c.get("candidate")),
        "noise_share": grown.document["noise"]["share"],
        "new_calls": grown.new_calls,
        "new_calls_assigned": grown.new_assigned,
    }
    summary = {**metrics, "extended_from": previous.ref, "clusters_table": clusters_table(clusters)}
    return StageResult(metrics=metrics, summary=summary)


def clusters_table(clusters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-cluster columns the summary (and the table) show."""
    return [{k: c.get(k) for k in TABLE_KEYS} for c in clusters]


def render(summary: dict[str, Any], console: Console) -> None:
    """The clusters table, then noise share, tag agreement and where the time went."""
    table = Table(title=f"Task clusters ({summary.get('calls', 0):,} calls)")
    table.add_column("id", justify="right")
    table.add_column("label", max_width=60, overflow="ellipsis", no_wrap=True)
    for column in ("calls", "% calls", "% tokens", "% cost"):
        table.add_column(column, justify="right")
    table.add_column("output")
    table.add_column("candidate", max_width=40, overflow="fold")
    for c in summary.get("clusters_table", []):
        reasons = "; ".join(r.split(" (")[0] for r in c["why_not"])
        verdict = "[green]yes[/green]" if c["candidate"] else f"[yellow]no[/yellow]: {reasons}"
        table.add_row(str(c["id"]), c["label"], f"{c['size']:,}", f"{c['share_calls']:.1%}",
                      f"{c['share_tokens']:.1%}", f"{c['share_cost']:.1%}", c["output_type"], verdict)
    console.print(table)
    if summary.get("extended_from"):
        console.print(f"extended {summary['extended_from']}: {summary.get('new_calls', 0):,} new calls, "
                      f"{summary.get('new_calls_assigned', 0):,} assigned to its clusters; noise (left on the LLM) "
                      f"{summary.get('noise_share', 0):.1%}")
        return
    line = (f"noise (left on the LLM): {summary.get('noise_share', 0):.1%} · "
            f"{summary.get('candidates', 0)} of {summary.get('clusters', 0)} clusters are conversion candidates · "
            f"{summary.get('distinct_signatures', 0):,} distinct signatures (min cluster size "
            f"{summary.get('min_cluster_size')} calls)")
    console.print(line)
    if summary.get("why_no_clusters"):
        console.print(f"[yellow]no cluster found[/yellow]: {summary['why_no_clusters']}")
    agreement = summary.get("agreement")
    if agreement:
        console.print(f"agreement with workload tags: ARI {agreement['ari']:.3f} over {agreement['tagged_calls']:,} "
                      f"tagged calls ({agreement['tags']} tags; tags are not used as a feature)")
    timings = summary.get("timings") or {}
    if timings:
        console.print("[dim]time: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()) + "[/dim]")
