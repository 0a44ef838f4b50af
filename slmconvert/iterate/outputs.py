"""Writing the iterate version's files: evaluation.json, predictions.parquet, report.json/html,
history.json, and the stage summary/metrics."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from slmconvert.iterate.economics import Traffic
from slmconvert.iterate.history import HISTORY_FILE
from slmconvert.iterate.params import IterateParams
from slmconvert.report import render_html
from slmconvert.report.data import build_report
from slmconvert.router.replay import ReplayResult
from slmconvert.util.jsonio import atomic_write_json, atomic_write_text
from slmconvert.util.tables import write_table

EVALUATION_SCHEMA = "slmconvert.evaluation/1"


def _primary(entry: dict[str, Any], key: str) -> dict[str, Any] | None:
    block = entry.get(key) or {}
    metric = entry.get("agreement_metric") or entry.get("primary_metric") or ""
    return (block.get("metrics") or {}).get(metric)


def summary(entries: list[dict[str, Any]], overall: dict[str, Any], economics: dict[str, Any], device: str,
            generator: Any, seconds: float) -> dict[str, Any]:
    """The stage summary (printed by --json and rendered as tables)."""
    return {
        "clusters_found": len(entries),
        "candidates": sum(1 for e in entries if e.get("candidate")),
        "promoted": [e["cluster_id"] for e in entries if e["promotion"]["promoted"]],
        "clusters": [{
            "cluster_id": e["cluster_id"], "label": e["label"], "output_type": e["output_type"],
            "size": e.get("size"), "candidate": e.get("candidate"), "model": e.get("model"),
            "primary_metric": e.get("primary_metric"),
            "specialist": _primary(e, "specialist"), "base": _primary(e, "base"),
            "promoted": e["promotion"]["promoted"], "reason": e["promotion"]["reason"],
            "agreement_metric": e.get("agreement_metric"),
            "escalation_rate": ((e.get("routed") or {}).get("escalation_rate") or {}).get("value"),
            "agreement": ((e.get("routed") or {}).get("agreement") or {}).get("value"),
            **_cascade_summary(e.get("cascade")),
        } for e in entries],
        "replay": {
            "calls": overall.get("calls"),
            "share_routed_slm": overall.get("share_routed_slm"),
            "escalation_rate": (overall.get("escalation_rate") or {}).get("value"),
            "agreement": (overall.get("agreement") or {}).get("value"),
            "served_quality": (overall.get("served_quality") or {}).get("value"),
            "misrouted_share": overall.get("misrouted_share"),
        },
        "economics": {k: economics.get(k) for k in (
            "total_calls", "share_calls_moved", "share_tokens_moved", "share_cost_moved", "cost_cut",
            "llm_cost_usd", "cost_after_usd")},
        "device": device,
        "generation": {"generated": getattr(generator, "generated", None), "reused": getattr(generator, "hits", None)},
        "seconds": round(seconds, 2),
        "report": "report.html",
    }


def _cascade_summary(cascade: dict[str, Any] | None) -> dict[str, Any]:
    c = cascade or {}
    kept = c.get("agreement") or {}
    return {"signal": c.get("signal"), "signal_auroc": c.get("signal_auroc"),
            "confidence_threshold": c.get("threshold"), "coverage": c.get("coverage"),
            "kept_agreement": {k: kept.get(k) for k in ("value", "low", "n")} if kept else None}


def metrics(summary_: dict[str, Any]) -> dict[str, Any]:
    """Headline numbers for the manifest."""
    economics, replay = summary_["economics"], summary_["replay"]
    return {
        "clusters": summary_["clusters_found"],
        "candidates": summary_["candidates"],
        "promoted": len(summary_["promoted"]),
        "share_calls_moved": economics.get("share_calls_moved"),
        "share_cost_moved": economics.get("share_cost_moved"),
        "cost_cut": economics.get("cost_cut"),
        "escalation_rate": replay.get("escalation_rate"),
        "served_quality": replay.get("served_quality"),
    }


def _prediction_rows(result: ReplayResult, base_rows: dict[int, list[dict[str, Any]]],
                     workspace_root: Path) -> list[dict[str, Any]]:
    base_by_call = {r["example_id"]: r for rows in base_rows.values() for r in rows}
    out = []
    for row in result.rows:
        base = base_by_call.get(row["call_id"])
        metric = row.get("primary_metric")
        adapter = row.get("adapter")
        out.append({
            "call_id": row["call_id"],
            "cluster_id": int(row["cluster_id"]),
            "assigned_cluster": int(row["assigned_cluster"]),
            "assign_confidence": float(row["assign_confidence"]),
            "model": row.get("model") or "llm",
            "adapter": os.path.relpath(adapter, workspace_root) if adapter else None,
            "route": row["route"],
            "final_route": row["final_route"],
            "slm_output": row.get("slm_output"),
            "escalated": bool(row["escalated"]),
            "escalation": row.get("escalation"),
            "escalation_detail": row.get("escalation_detail"),
            "slm_confidence": row.get("slm_confidence"),
            "primary_metric": metric,
            "agreement": row.get("agreement"),
            "metrics": row.get("metrics") or {},
            "base_output": base["prediction"] if base else None,
            "base_agreement": base.get(metric) if base and metric else None,
            "slm_latency_ms": row.get("slm_latency_ms"),
            "slm_prompt_tokens": row.get("slm_prompt_tokens"),
            "slm_new_tokens": row.get("slm_new_tokens"),
        })
    return out


METHOD = (
    "Quality is strict agreement with the LLM's logged output (the reference): the same tool calls (names, "
    "arguments after JSON canonicalisation, parallel calls in any order), the same JSON after "
    "canonicalisation, the same text after trimming; every number carries its sample size and a 95% "
    "interval (Wilson for rates, bootstrap for mean scores).",
    "Per-call routing (a cascade): on each trained cluster's validation calls the confidence signal with the "
    "best AUROC against agreement is chosen, and candidate thresholds (the lowest keeping validation calls "
    "that agree at each level of threshold_levels, and rungs keeping 70/80/90% of them where those agree at "
    "the lowest level); on the held-out test calls the candidates are tested strictest first, from the first "
    "that validation judges at least even odds to pass, each only after every stricter one passed (a fixed "
    "sequence set on validation), and the "
    "loosest one whose kept calls have a Wilson lower bound (95%) at or above the promotion target is the "
    "cluster's threshold; coverage is the share of test calls it keeps. Rule "
    "violations (parse error, unknown tool, schema error) always escalate. Thresholds are never chosen on "
    "test calls; the cost-quality curve over thresholds is shown for information only.",
    "Non-candidate clusters (open-ended, mixed or too small) stay on the LLM.",
    "Escalation rates and served quality come from replaying the held-out test calls through the router "
    "(cluster assignment, SLM answer, serve-time checks); escalated calls are answered by the LLM.",
    "Cost: logged LLM cost per call (collect's price table) against the SLM serving price per token shown "
    "above; every call of a promoted cluster is first tried on the SLM, escalated calls also pay the LLM; "
    "only the share the SLM keeps (by calls, and by logged cost of the kept test calls) counts as moved.",
)


def write_all(out_dir: Path, *, version: str, lineage: dict[str, str], entries: list[dict[str, Any]],
              replay_result: ReplayResult, base_rows: dict[int, list[dict[str, Any]]],
              test: dict[int, list[dict[str, Any]]], economics: dict[str, Any], curve: list[dict[str, Any]],
              history: dict[str, Any], params: IterateParams, device: str, traffic: dict[Any, Traffic],
              cluster_map_png: bytes | None, weekly: dict[str, Any] | None, summary: dict[str, Any],
              workspace_root: Path) -> None:
    """Every output file of the version."""
    atomic_write_json(out_dir / "evaluation.json", {
        "schema": EVALUATION_SCHEMA, "device": device, "promotion_target": params.promotion_target,
        "clusters": entries, "replay": replay_result.overall,
        "test_sample": {str(cid): len(rows) for cid, rows in sorted(test.items())},
        "threshold_levels": params.threshold_levels,
    })
    write_table(out_dir / "predictions.parquet", _prediction_rows(replay_result, base_rows, workspace_root),
                json_columns=("slm_output", "metrics", "base_output"))
    atomic_write_json(out_dir / HISTORY_FILE, history)
    settings = {
        "promotion_target": params.promotion_target,
        "promotion_metric": params.promotion_metric or "primary metric per output type",
        "threshold_levels": params.threshold_levels,
        "confidence_measure": params.confidence_measure,
        "slm_input_price_per_1m": params.slm_input_price_per_1m,
        "slm_output_price_per_1m": params.slm_output_price_per_1m,
        "device": device,
        "max_test_calls": params.cap("test"),
        "max_base_calls": params.cap("base"),
        "max_calibration_calls": params.cap("calibration"),
        "budget": params.budget,
    }
    llm_latency = {k: t.median_latency_ms for k, t in traffic.items() if isinstance(k, int)}
    report = build_report(
        version=version, lineage=lineage, entries=entries, replay_overall=replay_result.overall,
        economics=economics, curve=curve, history=history["iterations"], settings=settings,
        llm_latency=llm_latency, drift=(weekly or {}).get("drift"), method=list(METHOD),
        timing={"seconds": summary["seconds"], "generation": summary["generation"]},
    )
    atomic_write_json(out_dir / "report.json", report)
    atomic_write_text(out_dir / "report.html", render_html(report, cluster_map_png))
