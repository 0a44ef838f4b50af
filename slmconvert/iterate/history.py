"""history.json: one entry per iteration, carried forward from the previous iterate version.

It is what makes the weekly loop visible: escalation rate, agreement, share moved and cost cut
over time, with the drift measured and the actions taken at each step.
"""

from __future__ import annotations

from typing import Any

from slmconvert.util.jsonio import read_json
from slmconvert.workspace import Workspace

HISTORY_SCHEMA = "slmconvert.history/1"
HISTORY_FILE = "history.json"


def previous_history(workspace: Workspace) -> list[dict[str, Any]]:
    """The iterations recorded by the LATEST iterate version (empty before the first)."""
    if workspace.latest_version("iterate") is None:
        return []
    path = workspace.artifact("iterate").path / HISTORY_FILE
    if not path.is_file():
        return []
    data = read_json(path)
    return list(data.get("iterations", [])) if isinstance(data, dict) else []


def make_entry(
    version: str,
    inputs: dict[str, str],
    summary: dict[str, Any],
    weekly: dict[str, Any] | None = None,
    previous_versions: int = 0,
) -> dict[str, Any]:
    """One iteration's headline numbers (from the iterate summary) plus the weekly drift/actions.

    previous_versions: iterations recorded before this one (a non-weekly run after them is a rerun).
    """
    economics = summary.get("economics") or {}
    replay = summary.get("replay") or {}
    return {
        "version": version,
        "kind": "weekly" if weekly else "initial" if not previous_versions else "rerun",
        "inputs": dict(sorted(inputs.items())),
        "clusters": summary.get("clusters_found"),
        "promoted": summary.get("promoted", []),
        "escalation_rate": replay.get("escalation_rate"),
        "agreement": replay.get("agreement"),
        "served_quality": replay.get("served_quality"),
        "share_calls_moved": economics.get("share_calls_moved"),
        "share_cost_moved": economics.get("share_cost_moved"),
        "cost_cut": economics.get("cost_cut"),
        "per_cluster": {
            str(c["cluster_id"]): {
                "promoted": c.get("promoted"),
                "escalation_rate": c.get("escalation_rate"),
                "agreement": c.get("agreement"),
            }
            for c in summary.get("clusters", [])
        },
        "new_calls_escalation_rate": _value((((weekly or {}).get("drift") or {}).get("replay") or {}).get("escalation_rate")),
        "drift": (weekly or {}).get("drift"),
        "actions": (weekly or {}).get("actions"),
    }


def _value(summary: Any) -> float | None:
    return summary.get("value") if isinstance(summary, dict) else summary


def extend(previous: list[dict[str, Any]], entry: dict[str, Any]) -> dict[str, Any]:
    """The history document with `entry` appended (iterations numbered from 1)."""
    iterations = [dict(e) for e in previous if e.get("version") != entry["version"]]
    iterations.append({**entry, "iteration": len(iterations) + 1})
    return {"schema": HISTORY_SCHEMA, "iterations": iterations}
