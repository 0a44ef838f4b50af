"""history.json: one entry per iteration, carried forward from the previous iteration.

The previous iteration is a declared input of iterate (role `history_from`, found by
`stages/iterate.derived_inputs`): the newest iterate version built on other upstream versions. A rerun on the same upstreams therefore
extends the same history and has the same fingerprint (it is reused), while new data, clusters or
adapters make a new iteration.

It is what makes the weekly loop visible: escalation rate, agreement, share moved and cost cut
over time, with the drift measured and the actions taken at each step.
"""

from __future__ import annotations

from typing import Any

from slmconvert.util.jsonio import read_json
from slmconvert.workspace import Artifact

HISTORY_SCHEMA = "slmconvert.history/1"
HISTORY_FILE = "history.json"
HISTORY_ROLE = "history_from"


def previous_history(previous: Artifact | None) -> list[dict[str, Any]]:
    """The iterations recorded by the previous iteration (empty without one)."""
    path = previous.path / HISTORY_FILE if previous is not None else None
    if path is None or not path.is_file():
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
