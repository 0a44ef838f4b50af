"""The documented choice rule, and readers of selection.json for finetune and iterate.

Rule (per cluster), among candidates that passed every gate and were evaluated:
1. quality first: take the best value of the cluster's primary metric;
2. every candidate within `quality_tolerance` of it counts as equally good (zero-shot scores on
   a small sample are noisy, and fine-tuning changes them anyway);
3. among those, the smallest model (fewest parameters: cheapest to tune and serve) wins, then
   the lowest measured seconds per call, then the name (deterministic).
When no candidate could be measured (long prompts on a CPU), the smallest one passing the gates wins.
Candidates are examined smallest first (`select.engine`), so where the smallest one passing every
gate is left unmeasured, larger ones are not examined for that cluster: they could not win it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from slmconvert.artifacts.selection import SELECTION_FILE
from slmconvert.models.prompt import PromptFormat
from slmconvert.util.jsonio import read_json
from slmconvert.workspace import Artifact

RULE = (
    "quality first: the best primary metric (zero-shot on the validation sample); candidates within "
    "quality_tolerance of it count as equal; among those the smallest model wins, then the fastest "
    "(seconds per call), then the name"
)


def choose(results: list[dict[str, Any]], tolerance: float) -> tuple[dict[str, Any] | None, str]:
    """The winning result entry (or None) and the reason in words."""
    measured = [r for r in results if r.get("excluded") is None and r.get("primary") is not None]
    unmeasured = [r for r in results if r.get("excluded") is None and r.get("unmeasured")]
    if not measured and unmeasured:
        winner = min(unmeasured, key=lambda r: (_size(r), r["model"]))
        return winner, f"smallest candidate passing the gates ({winner['unmeasured']})"
    if not measured:
        excluded = "; ".join(f"{r['model']}: {r.get('excluded') or 'not evaluated'}" for r in results)
        return None, f"no candidate passed the gates ({excluded})" if results else "no candidates"
    best = max(_quality(r) for r in measured)
    near = [r for r in measured if _quality(r) >= best - tolerance - 1e-12]
    winner = min(near, key=lambda r: (_size(r), _speed(r), r["model"]))
    metric = winner["primary_metric"]
    value = _quality(winner)
    if len(measured) == 1:
        return winner, f"only candidate passing the gates ({metric} {value:.3f})"
    if len(near) == 1:
        return winner, f"best {metric} ({value:.3f}; others below {best - tolerance:.3f})"
    others = ", ".join(r["model"] for r in near if r is not winner)
    return winner, (
        f"{metric} {value:.3f} within {tolerance:g} of the best ({best:.3f}); smaller or faster than {others}"
    )


def _quality(result: dict[str, Any]) -> float:
    value = (result.get("primary") or {}).get("value")
    return float(value) if value is not None else 0.0


def _size(result: dict[str, Any]) -> float:
    n = result.get("n_params")
    return float(n) if n else math.inf


def _speed(result: dict[str, Any]) -> float:
    value = (result.get("timing") or {}).get("seconds_per_call")
    return float(value) if value is not None else math.inf


@dataclass(frozen=True)
class Choice:
    """A cluster's chosen base model and the prompt format it was measured with."""

    cluster_id: int
    model: str
    prompt_format: PromptFormat
    output_type: str
    primary_metric: str
    baseline: dict[str, Any]  # the zero-shot metrics measured by select (name -> MetricSummary dict)
    max_new_tokens: int


def read_selection(artifact: Artifact) -> dict[str, Any]:
    """selection.json of a select version."""
    return read_json(artifact.file(SELECTION_FILE))


def chosen_models(selection: dict[str, Any]) -> dict[int, Choice]:
    """cluster id -> Choice, for every cluster where a model was chosen."""
    choices = {}
    for cluster in selection.get("clusters", []):
        chosen = cluster.get("chosen")
        if not chosen:
            continue
        cid = int(cluster["cluster_id"])
        choices[cid] = Choice(
            cluster_id=cid,
            model=chosen["model"],
            prompt_format=PromptFormat.from_dict(chosen["prompt_format"]),
            output_type=cluster["output_type"],
            primary_metric=cluster["primary_metric"],
            baseline=chosen.get("metrics", {}),
            max_new_tokens=int(chosen.get("max_new_tokens") or 0),
        )
    return choices
