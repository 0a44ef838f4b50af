"""report.html: one self-contained page (inline CSS and SVG, the cluster map as a data URI, no
scripts, no network) rendered from the same dict that is saved as report.json."""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from slmconvert.report import plots

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2933;background:#f7f9fb}
main{max-width:1280px;margin:0 auto;padding:24px}
.scroll{overflow-x:auto}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:32px 0 8px;border-bottom:1px solid #d9e2ec;padding-bottom:4px}
.sub{color:#627d98;font-size:.9em}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #d9e2ec;border-radius:8px;padding:10px 14px;min-width:140px}
.card b{display:block;font-size:1.4em}.card span{color:#627d98;font-size:.85em}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.8em}
th,td{border:1px solid #e4e7eb;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f4f8}td.num{text-align:right;white-space:nowrap}
.yes{color:#1e7b46;font-weight:600}.no{color:#8a4b08}
figure{margin:12px 0;background:#fff;border:1px solid #d9e2ec;border-radius:8px;padding:8px}
figure svg,figure img{max-width:100%;height:auto}
figcaption{color:#627d98;font-size:.85em}
.note{color:#52606d;font-size:.85em}
tr.why td{border-top:none;color:#52606d;font-size:.95em;padding-top:0}
"""


def _pct(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{float(value) * 100:.{digits}f}%"


def _num(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


def _usd(value: Any) -> str:
    return "–" if value is None else f"${float(value):,.4f}"


def _interval(summary: dict[str, Any] | None) -> str:
    if not summary or summary.get("value") is None:
        return "–"
    return f"{summary['value']:.3f} [{_num(summary.get('low'))}–{_num(summary.get('high'))}] n={summary.get('n', 0)}"


def _rate(summary: Any) -> str:
    if isinstance(summary, dict):
        return f"{_pct(summary.get('value'))} (n={summary.get('n', 0)})" if summary.get("value") is not None else "–"
    return _pct(summary)


def _figure(svg: str | None, caption: str) -> str:
    if not svg:
        return f'<p class="note">{escape(caption)}: nothing to plot yet.</p>'
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _cards(headline: dict[str, Any]) -> str:
    items = [
        (str(headline.get("clusters_found", "–")), "task clusters found"),
        (f"{len(headline.get('promoted', []))} / {headline.get('candidates', '–')}", "clusters promoted / candidates"),
        (_pct(headline.get("share_calls_moved")), "of calls served by SLMs"),
        (_pct(headline.get("share_cost_moved")), "of LLM cost moved"),
        (_pct(headline.get("cost_cut")), "projected cost cut"),
        (_rate(headline.get("escalation_rate")), "escalation rate (held-out replay)"),
        (_rate(headline.get("served_quality")), "served quality vs the LLM"),
    ]
    body = "".join(f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for v, k in items)
    return f'<div class="cards">{body}</div>'


def _cluster_table(clusters: list[dict[str, Any]]) -> str:
    head = ("cluster", "label", "output", "calls", "base model", "base zero-shot", "specialist (all test calls)",
            "route", "signal (AUROC)", "threshold", "coverage (cost)", "agreement kept", "escalation",
            "latency SLM (batch) / LLM")
    rows = []
    for c in clusters:
        decision = '<span class="yes">SLM</span>' if c.get("promoted") else '<span class="no">LLM</span>'
        cells = [
            escape(str(c["cluster_id"])),
            escape(c.get("label") or ""),
            escape(c.get("output_type") or ""),
            f"{c.get('calls', '–')}<br>{_pct(c.get('share_calls'))}",
            escape(str(c.get("model") or "–")),
            escape(_interval(c.get("base"))),
            escape(_interval(c.get("specialist"))),
            decision,
            escape(f"{c.get('signal') or '–'} ({_num(c.get('signal_auroc'), 2)})"),
            _num(c.get("confidence_threshold")) if c.get("promoted") else "–",
            escape(f"{_pct(c.get('coverage'))} ({_pct(c.get('cost_share_kept'))})"),
            escape(_interval(c.get("kept_agreement"))),
            escape(_rate(c.get("escalation_rate"))),
            f"{_num(c.get('slm_latency_ms'), 0)}"
            + (f" (b={c['slm_batch_size']})" if c.get("slm_batch_size") else "")
            + f" / {_num(c.get('llm_latency_ms'), 0)} ms",
        ]
        numeric = {3, 5, 6, 9, 10, 11, 12, 13}
        rows.append("<tr>" + "".join(f'<td class="num">{v}</td>' if i in numeric else f"<td>{v}</td>"
                                      for i, v in enumerate(cells)) + "</tr>")
        why = f"{c.get('primary_metric') or 'no metric'}: {c.get('reason') or ''}"
        rows.append(f'<tr class="why"><td></td><td colspan="{len(head) - 1}">{escape(why)}</td></tr>')
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f'<div class="scroll"><table><tr>{header}</tr>{"".join(rows)}</table></div>'


def _economics_table(economics: dict[str, Any]) -> str:
    prices = economics.get("prices") or {}
    rows = [
        ("calls in the logs", economics.get("total_calls")),
        ("calls with a known LLM cost", economics.get("cost_known_calls")),
        ("LLM cost of the logged traffic", _usd(economics.get("llm_cost_usd"))),
        ("SLM serving cost of the promoted clusters", _usd(economics.get("slm_cost_usd"))),
        ("LLM cost of escalated calls", _usd(economics.get("escalated_llm_cost_usd"))),
        ("cost after the router", _usd(economics.get("cost_after_usd"))),
        ("projected cost cut", _pct(economics.get("cost_cut"))),
        ("SLM price per 1M prompt / generated tokens",
         f"${prices.get('slm_input_per_1m', 0):.3f} / ${prices.get('slm_output_per_1m', 0):.3f}"),
    ]
    body = "".join(f"<tr><th>{escape(k)}</th><td class=\"num\">{escape(str(v if v is not None else '–'))}</td></tr>"
                   for k, v in rows)
    return f"<table>{body}</table>"


def _history_table(history: list[dict[str, Any]]) -> str:
    head = ("#", "version", "kind", "clusters", "promoted clusters", "escalation", "served by SLMs", "cost cut", "drift / actions")
    rows = []
    for h in history:
        drift = h.get("drift") or {}
        actions = h.get("actions") or {}
        notes = []
        if drift.get("new_calls") is not None:
            notes.append(f"{drift['new_calls']} new calls, {_pct(drift.get('ood_share'))} outside clusters")
        if actions.get("recluster"):
            notes.append("re-clustered")
        if actions.get("retrain"):
            notes.append("retrained " + ", ".join(str(k) for k in actions["retrain"]))
        rows.append("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in (
            h.get("iteration"), h.get("version"), h.get("kind"), h.get("clusters"),
            ", ".join(str(p) for p in h.get("promoted") or []) or "none",
            _rate(h.get("escalation_rate")), _pct(h.get("share_calls_moved")), _pct(h.get("cost_cut")),
            "; ".join(notes) or "–",
        )) + "</tr>")
    header = "".join(f"<th>{escape(x)}</th>" for x in head)
    return f'<div class="scroll"><table><tr>{header}</tr>{"".join(rows)}</table></div>'


def _drift(drift: dict[str, Any] | None) -> str:
    if not drift:
        return '<p class="note">First iteration: no new logs compared yet.</p>'
    lines = [
        f"{drift.get('new_calls')} new calls; {_pct(drift.get('ood_share'))} outside every cluster "
        f"(baseline {_pct(drift.get('baseline_ood_share'))}); cluster mix moved {_pct(drift.get('mix_shift'))}.",
    ]
    lines += [f"Re-cluster: {r}" for r in drift.get("recluster_reasons") or []]
    lines += [f"Retrain cluster {k}: {v}" for k, v in (drift.get("retrain") or {}).items()]
    return "<ul>" + "".join(f"<li>{escape(x)}</li>" for x in lines) + "</ul>"


def render_html(report: dict[str, Any], cluster_map_png: bytes | None = None) -> str:
    """The whole page."""
    settings = report.get("settings") or {}
    target = float(settings.get("promotion_target", 0.9))
    clusters = report.get("clusters") or []
    economics = report.get("economics") or {}
    history = report.get("history") or []
    lineage = ", ".join(f"{k}@{v}" for k, v in sorted((report.get("lineage") or {}).items()))
    if cluster_map_png:
        data = base64.b64encode(cluster_map_png).decode("ascii")
        cluster_map = (f'<figure><img alt="cluster map" src="data:image/png;base64,{data}">'
                       "<figcaption>Task clusters found in the logs (from the cluster stage).</figcaption></figure>")
    else:
        cluster_map = '<p class="note">The cluster stage wrote no map image.</p>'
    method = report.get("method") or []
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>slmconvert report {escape(str(report.get('version', '')))}</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>Which calls can small models take over?</h1>",
        f'<p class="sub">iterate {escape(str(report.get("version", "")))} · generated {escape(str(report.get("generated_at", "")))}'
        f" · {escape(lineage)}</p>",
        _cards(report.get("headline") or {}),
        "<h2>Task clusters</h2>", cluster_map,
        "<h2>Per-cluster quality and decisions</h2>",
        _figure(plots.metric_intervals(clusters, target),
                "Primary metric per cluster on the held-out test split: base model zero-shot vs fine-tuned specialist."),
        _cluster_table(clusters),
        "<h2>What moves, and what it saves</h2>",
        _figure(plots.share_moved(economics), "Share of calls, tokens and estimated cost served by SLMs after escalation."),
        _economics_table(economics),
        "<h2>Cost against quality</h2>",
        _figure(plots.cascade_curves(clusters, target),
                "Per cluster, over confidence thresholds on its held-out test calls: share of calls (solid) and of "
                "LLM cost (dotted) the SLM keeps against the agreement of the kept calls; the dot is the threshold "
                "chosen on validation and confirmed on test."),
        _figure(plots.cost_quality(report.get("cost_quality_curve") or [], target),
                "Projected cost cut and quality (agreement with the LLM over all calls) for each promotion target, every cluster re-decided."),
        "<h2>Over time</h2>",
        _figure(plots.escalation_over_time(history), "Escalation rate and share of calls served by SLMs per iteration."),
        _history_table(history),
        "<h2>Drift on the newest logs</h2>", _drift(report.get("drift")),
        "<h2>How these numbers were measured</h2>",
        "<ul>" + "".join(f'<li class="note">{escape(m)}</li>' for m in method) + "</ul>",
        "</main></body></html>",
    ]
    return "\n".join(parts)
