"""Sharing one CPU training budget among clusters.

On a CPU a run can afford a few tens of thousands of training tokens per cluster, not every
cluster. Clusters are trained in order of calls moved per training token (cluster size / mean
tokens of an example): a large cluster of short examples moves the most traffic for the least
compute, and is also the cheapest to evaluate. Each takes what its plan needs from
`cpu_total_train_tokens`; the last one may take a smaller plan, and clusters the total no longer
covers are not trained, with the reason. On a GPU every cluster is trained.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from slmconvert.finetune.params import FinetuneParams

MIN_SHARE = 0.5  # a cluster needs at least this share of its plan's tokens to be worth training


def planned_tokens(plan: Any, mean_length: float) -> int:
    """Tokens (prompt + completion, all steps) a plan trains on."""
    return int(plan.max_steps * plan.batch_size * mean_length)


def calls_per_token(size: int, mean_length: float) -> float:
    """Calls a cluster moves per token of one pass over an example: the training order's key."""
    return size / max(1.0, mean_length)


def share_budget(
    items: Sequence[tuple[Any, Any]],
    params: FinetuneParams,
    device: str,
    replan: Callable[[Any, Any, int], Any],
) -> tuple[list[tuple[Any, Any]], list[dict[str, Any]]]:
    """(job, prepared) pairs to train, in training order, and the clusters left out with the reason.

    `replan(job, prepared, tokens)` re-plans a job for a smaller per-cluster token budget.
    """
    if device != "cpu" or not params.cpu_total_train_tokens:
        return list(items), []
    ordered = sorted(items, key=lambda item: (-calls_per_token(_size(item[0]), item[1].train.mean_length),
                                              item[0].cluster_id))
    remaining = params.cpu_total_train_tokens
    chosen: list[tuple[Any, Any]] = []
    left_out: list[dict[str, Any]] = []
    for job, prepared in ordered:
        need = planned_tokens(prepared.plan, prepared.train.mean_length)
        if need > remaining and remaining >= max(MIN_SHARE * need, 1000):
            prepared = replan(job, prepared, remaining)
            need = planned_tokens(prepared.plan, prepared.train.mean_length)
        if need > remaining:
            left_out.append({"cluster_id": job.cluster_id, "reason": (
                f"CPU training budget spent: {remaining:,} of finetune.cpu_total_train_tokens="
                f"{params.cpu_total_train_tokens:,} left, its plan needs {need:,} (clusters that move more calls "
                "per training token went first; raise the budget or train on a GPU)")})
            continue
        remaining -= need
        chosen.append((job, prepared))
    return chosen, left_out


def _size(job: Any) -> int:
    records = job.records
    return len(records.train) + len(records.validation) + len(records.test)
