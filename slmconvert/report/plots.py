"""The report's figures as inline SVG text (matplotlib, Agg canvas; no files, no network fonts)."""

from __future__ import annotations

import io
from typing import Any

PROMOTED = "#2a9d5c"
STAYS = "#9aa5b1"
BASE = "#e07b39"
SPECIALIST = "#3b6fb6"


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _svg(fig: Any) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "slmconvert"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.find("<svg"):]


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def metric_intervals(clusters: list[dict[str, Any]], target: float) -> str | None:
    """Per cluster: primary metric of the base model zero-shot and of the specialist, with 95% intervals."""
    rows = [c for c in clusters if (c.get("specialist") or {}).get("value") is not None
            or (c.get("base") or {}).get("value") is not None]
    if not rows:
        return None
    fig = _figure(8.5, 0.55 * len(rows) + 1.4)
    ax = fig.add_subplot(1, 1, 1)
    for y, cluster in enumerate(rows):
        for offset, key, color, name in ((-0.15, "base", BASE, "base model, zero-shot"),
                                         (0.15, "specialist", SPECIALIST, "fine-tuned specialist")):
            m = cluster.get(key) or {}
            if m.get("value") is None:
                continue
            low = m["value"] if m.get("low") is None else m["low"]
            high = m["value"] if m.get("high") is None else m["high"]
            # max(0, ...): a Wilson bound at 0 or 1 can overshoot the value by a rounding error
            xerr = [[max(0.0, m["value"] - low)], [max(0.0, high - m["value"])]]
            ax.errorbar(m["value"], y + offset, xerr=xerr, fmt="o",
                        color=color, capsize=3, label=name if y == 0 else None)
    ax.axvline(target, color="#c0392b", linestyle="--", linewidth=1, label=f"promotion target {target:.2f}")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{c['cluster_id']}: {_short(c.get('label', ''), 40)} ({c.get('primary_metric') or '-'})"
                        for c in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("primary metric against the LLM's logged output (95% interval)")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


def share_moved(economics: dict[str, Any]) -> str | None:
    """Share of calls, tokens and estimated cost that move to SLMs vs stay on the LLM."""
    items = [("calls", economics.get("share_calls_moved")), ("tokens", economics.get("share_tokens_moved")),
             ("cost", economics.get("share_cost_moved"))]
    items = [(name, value) for name, value in items if value is not None]
    if not items:
        return None
    fig = _figure(8.5, 0.5 * len(items) + 1.1)
    ax = fig.add_subplot(1, 1, 1)
    for y, (_, value) in enumerate(items):
        ax.barh(y, value, color=PROMOTED, label="moved to SLMs" if y == 0 else None)
        ax.barh(y, 1 - value, left=value, color=STAYS, label="stays on the LLM" if y == 0 else None)
        ax.text(min(value, 0.9) + 0.01, y, f"{value:.1%}", va="center", fontsize=9)
    ax.set_yticks(range(len(items)))
    ax.set_yticklabels([name for name, _ in items])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(_percent())
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, fontsize=8, frameon=False)
    return _svg(fig)


def escalation_over_time(history: list[dict[str, Any]]) -> str | None:
    """Escalation rate and share of calls moved at each iteration."""
    points = [h for h in history if h.get("escalation_rate") is not None or h.get("share_calls_moved") is not None]
    if not points:
        return None
    fig = _figure(8.5, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    xs = [h.get("iteration", i + 1) for i, h in enumerate(points)]
    esc = [(h.get("escalation_rate") or {}).get("value") if isinstance(h.get("escalation_rate"), dict)
           else h.get("escalation_rate") for h in points]
    moved = [h.get("share_calls_moved") for h in points]
    live = [h.get("new_calls_escalation_rate") for h in points]
    ax.plot(xs, [v if v is not None else float("nan") for v in esc], "o-", color=BASE,
            label="escalation rate (held-out test calls)")
    if any(v is not None for v in live):
        ax.plot(xs, [v if v is not None else float("nan") for v in live], "^--", color="#b83280",
                label="escalation rate (that week's new calls)")
    ax.plot(xs, [v if v is not None else float("nan") for v in moved], "s-", color=PROMOTED,
            label="share of calls served by SLMs")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"#{x}\n{(h.get('version') or '')[:8]}" for x, h in zip(xs, points, strict=True)], fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.yaxis.set_major_formatter(_percent())
    ax.set_xlabel("iteration")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return _svg(fig)


def cost_quality(curve: list[dict[str, Any]], target: float) -> str | None:
    """Projected cost cut and quality against the promotion threshold."""
    points = [p for p in curve if p.get("cost_cut") is not None]
    if not points:
        return None
    fig = _figure(8.5, 3.4)
    ax = fig.add_subplot(1, 1, 1)
    xs = [p["threshold"] for p in points]
    ax.plot(xs, [p["cost_cut"] for p in points], color=PROMOTED, label="projected cost cut")
    ax.plot(xs, [p["quality_vs_llm"] for p in points], color=SPECIALIST, label="quality vs the LLM (all calls)")
    ax.plot(xs, [p["share_calls_moved"] for p in points], color=STAYS, linestyle=":", label="share of calls moved")
    ax.axvline(target, color="#c0392b", linestyle="--", linewidth=1, label=f"chosen target {target:.2f}")
    ax.set_xlabel("promotion target (Wilson lower bound of the agreement of the kept calls)")
    ax.set_ylim(-0.02, 1.02)
    ax.yaxis.set_major_formatter(_percent())
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="center left")
    return _svg(fig)


def cascade_curves(clusters: list[dict[str, Any]], target: float) -> str | None:
    """Per cluster: coverage (and cost share) kept against agreement of the kept calls, over thresholds."""
    rows = [c for c in clusters if c.get("cost_quality_curve")]
    if not rows:
        return None
    fig = _figure(8.5, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    colors = ("#3b6fb6", "#2a9d5c", "#e07b39", "#b83280", "#7b61ff", "#8a4b08")
    for i, cluster in enumerate(rows):
        color = colors[i % len(colors)]
        points = [p for p in cluster["cost_quality_curve"] if p.get("agreement") is not None]
        name = f"{cluster['cluster_id']}: {_short(cluster.get('label') or '', 28)}"
        ax.plot([p["coverage"] for p in points], [p["agreement"] for p in points], "-", color=color, label=name)
        ax.plot([p["cost_share"] for p in points], [p["agreement"] for p in points], ":", color=color)
        kept = cluster.get("kept_agreement") or {}
        if cluster.get("promoted") and kept.get("value") is not None:
            ax.plot([cluster.get("coverage")], [kept["value"]], "o", color=color)
    ax.axhline(target, color="#c0392b", linestyle="--", linewidth=1, label=f"promotion target {target:.2f}")
    ax.set_xlabel("share of the cluster's calls (solid) / LLM cost (dotted) kept by the SLM")
    ax.set_ylabel("agreement of the kept calls")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.xaxis.set_major_formatter(_percent())
    ax.yaxis.set_major_formatter(_percent())
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    return _svg(fig)


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)
