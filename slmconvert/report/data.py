"""report.json: the numbers the HTML report shows, in one JSON document (same numbers, no plots)."""

from __future__ import annotations

import datetime as dt
from typing import Any

REPORT_SCHEMA = "slmconvert.report/1"


def _primary(summary: dict[str, Any] | None, metric: str | None) -> dict[str, Any] | None:
    if not summary or not metric:
        return None
    m = (summary.get("metrics") or {}).get(metric)
    return {**m, "timing": summary.get("timing")} if m else None


def cascade_columns(cascade: dict[str, Any]) -> dict[str, Any]:
    """The cascade decision of one cluster as report columns (see iterate.cascade)."""
    return {
        "signal": cascade.get("signal"),
        "signal_auroc": cascade.get("signal_auroc"),
        "auroc": cascade.get("auroc"),
        "confidence_threshold": cascade.get("threshold"),
        "coverage": cascade.get("coverage"),
        "cost_share_kept": cascade.get("cost_share"),
        "kept_agreement": cascade.get("agreement"),
        "validation_calls": cascade.get("validation_calls"),
        "test_calls": cascade.get("test_calls"),
        "threshold_candidates": [
            {"threshold": c.get("threshold"), "level": c.get("level"), "tested": c.get("tested", True),
             "passed": c.get("passed"),
             "coverage": (c.get("test") or {}).get("coverage"),
             "agreement": ((c.get("test") or {}).get("agreement") or {}).get("value"),
             "low": ((c.get("test") or {}).get("agreement") or {}).get("low")}
            for c in cascade.get("candidates") or []],
        "cost_quality_curve": cascade.get("curve") or [],
    }


def cluster_rows(entries: list[dict[str, Any]], llm_latency: dict[int, float | None]) -> list[dict[str, Any]]:
    """One flat row per cluster for the report tables and plots."""
    rows = []
    for e in entries:
        metric = e.get("agreement_metric") or e.get("primary_metric")
        cascade = e.get("cascade") or {}
        promotion = e.get("promotion") or {}
        routed = e.get("routed") or {}
        specialist = e.get("specialist") or {}
        rows.append({
            "cluster_id": e["cluster_id"],
            "label": e.get("label"),
            "output_type": e.get("output_type"),
            "calls": e.get("size"),
            "share_calls": e.get("share_calls"),
            "candidate": e.get("candidate"),
            "why_not": e.get("candidate_reason"),
            "model": e.get("model"),
            "primary_metric": metric,
            "base": _primary(e.get("base"), metric),
            "specialist": _primary(specialist, metric),
            "promoted": bool(promotion.get("promoted")),
            "reason": promotion.get("reason"),
            "escalation_rate": routed.get("escalation_rate") or cascade.get("escalation_rate"),
            "escalations": routed.get("escalations") or cascade.get("escalations"),
            "agreement": routed.get("agreement"),
            "served_quality": routed.get("served_quality"),
            **cascade_columns(cascade),
            "slm_latency_ms": (specialist.get("timing") or {}).get("latency_ms_p50"),
            "slm_batch_size": (specialist.get("timing") or {}).get("batch_size"),
            "llm_latency_ms": llm_latency.get(e["cluster_id"]),
        })
    return rows


def build_report(
    *,
    version: str,
    lineage: dict[str, str],
    entries: list[dict[str, Any]],
    replay_overall: dict[str, Any],
    economics: dict[str, Any],
    curve: list[dict[str, Any]],
    history: list[dict[str, Any]],
    settings: dict[str, Any],
    llm_latency: dict[int, float | None],
    drift: dict[str, Any] | None = None,
    method: list[str] | None = None,
    timing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report document (also rendered to HTML by `render_html`)."""
    clusters = cluster_rows(entries, llm_latency)
    promoted = [c["cluster_id"] for c in clusters if c["promoted"]]
    return {
        "schema": REPORT_SCHEMA,
        "version": version,
        "generated_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lineage": dict(sorted(lineage.items())),
        "headline": {
            "clusters_found": len(clusters),
            "candidates": sum(1 for c in clusters if c["candidate"]),
            "promoted": promoted,
            "share_calls_moved": economics.get("share_calls_moved"),
            "share_tokens_moved": economics.get("share_tokens_moved"),
            "share_cost_moved": economics.get("share_cost_moved"),
            "cost_cut": economics.get("cost_cut"),
            "llm_cost_usd": economics.get("llm_cost_usd"),
            "cost_after_usd": economics.get("cost_after_usd"),
            "escalation_rate": replay_overall.get("escalation_rate"),
            "served_quality": replay_overall.get("served_quality"),
            "agreement": replay_overall.get("agreement"),
        },
        "settings": settings,
        "clusters": clusters,
        "replay": replay_overall,
        "economics": economics,
        "cost_quality_curve": curve,
        "history": history,
        "drift": drift,
        "method": method or [],
        "timing": timing or {},
    }
