"""Held-out evaluation of each cluster's specialist on its validation and test samples (the evidence
of the cascade promotion, see iterate.cascade) and of its base model zero-shot (the baseline).

Samples are seeded and sized by finetune's budget plan within IterateParams' caps; every metric
carries its sample size and 95% interval. The specialist's samples are never cut by a timer; only
the base-model baseline is (it runs with what is left of the budget).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slmconvert.artifacts.adapters import Specialist
from slmconvert.artifacts.clusters import ClusterInfo
from slmconvert.evaluation import EvalExample, score_outputs
from slmconvert.evaluation.metrics import AGREEMENT_METRIC, aggregate, primary_metric
from slmconvert.iterate.cascade import ClusterCascade, can_still_pass, choose_signal, score_calls
from slmconvert.iterate.params import IterateParams
from slmconvert.models.prompt import PromptFormat, assistant_text, prompt_chars, record_output
from slmconvert.router.config import EscalationRules
from slmconvert.router.generator import Generation, Generator, base_format

CHARS_PER_TOKEN_FLOOR = 2.5  # conservative: JSON and ids tokenise worse than prose
TOKEN_MARGIN = 16
CHUNK_PROMPT_CHARS = 24_000  # ~6-8k prompt tokens per generation chunk: bounds the time between budget checks


def seeded_sample(records: Sequence[dict[str, Any]], k: int, seed: int, salt: str) -> list[dict[str, Any]]:
    """Up to k records, drawn reproducibly (sorted by call_id first, so input order does not matter)."""
    ordered = sorted(records, key=lambda r: str(r.get("call_id")))
    if len(ordered) <= k:
        return ordered
    return random.Random(f"{seed}:{salt}").sample(ordered, k)


def token_budget(records: Sequence[dict[str, Any]], cap: int) -> int:
    """Generation budget for a cluster: its longest logged answer (as a token estimate) plus a margin."""
    longest = max((len(assistant_text(record_output(r))) for r in records), default=0)
    return max(8, min(cap, int(longest / CHARS_PER_TOKEN_FLOOR) + TOKEN_MARGIN))


def chunks(records: list[dict[str, Any]], fmt: PromptFormat, max_calls: int,
           max_chars: int = CHUNK_PROMPT_CHARS) -> list[list[dict[str, Any]]]:
    """Consecutive groups of at most `max_calls` records and about `max_chars` of prompt (>= 1 record)."""
    out: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for record in records:
        chars = prompt_chars(record, fmt)
        if current and (len(current) >= max_calls or size + chars > max_chars):
            out.append(current)
            current, size = [], 0
        current.append(record)
        size += chars
    if current:
        out.append(current)
    return out


def timing(generations: Sequence[Generation]) -> dict[str, Any]:
    """Latency and throughput of a set of generations (wall time summed once per batch)."""
    if not generations:
        return {"calls": 0}
    batches: dict[str, float] = {}
    for i, g in enumerate(generations):
        batches[g.batch_id or f"single-{i}"] = g.seconds
    wall = sum(batches.values())
    tokens = sum(g.new_tokens for g in generations)
    return {
        "calls": len(generations),
        "cached": sum(1 for g in generations if g.cached),
        "wall_seconds": round(wall, 4),
        "calls_per_second": round(len(generations) / wall, 4) if wall > 0 else None,
        "tokens_per_second": round(tokens / wall, 2) if wall > 0 else None,
        "latency_ms_p50": round(statistics.median(g.latency for g in generations) * 1000, 2),
        "batch_size": max(g.batch_size for g in generations),
        "prompt_tokens_mean": round(statistics.fmean(g.prompt_tokens for g in generations), 1),
        "new_tokens_mean": round(statistics.fmean(g.new_tokens for g in generations), 1),
    }


@dataclass
class ClusterEvaluation:
    """One cluster's evaluation entry (evaluation.json) plus the per-call rows behind it."""

    entry: dict[str, Any]
    specialist_rows: list[dict[str, Any]] = field(default_factory=list)
    base_rows: list[dict[str, Any]] = field(default_factory=list)
    cascade: ClusterCascade | None = None


class Deadline:
    """A generation time budget shared by every cluster of one evaluation (None = unlimited)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds if seconds else None

    @property
    def passed(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end


def _summary(rows: list[dict[str, Any]], generations: list[Generation], seed: int) -> dict[str, Any]:
    metrics = aggregate(rows, seed=seed)
    return {"metrics": {k: m.to_dict() for k, m in metrics.items() if m.n > 0}, "n": len(rows),
            "timing": timing(generations)}


Stop = Callable[[list[dict[str, Any]], list[Generation]], bool]


def _measure(
    generator: Generator, model: str, adapter: Any, fmt: PromptFormat, records: list[dict[str, Any]],
    budget: int, kind: str, chunk: int | None, deadline: Deadline, progress: Callable[[int], None] | None,
    stop: Stop | None = None,
) -> tuple[list[dict[str, Any]], list[Generation], str | None]:
    """Generate and score in chunks (chunk None: in one piece, when nothing is checked between
    chunks); returns rows, generations and why it stopped early (if it did)."""
    rows: list[dict[str, Any]] = []
    generations: list[Generation] = []
    done = 0
    parts = chunks(records, fmt, chunk) if chunk else ([records] if records else [])
    for part in parts:
        if deadline.passed:
            if progress is not None:
                progress(len(records) - done)
            return rows, generations, f"evaluation time budget ({deadline.seconds:.0f} s) used up"
        made = generator.generate(model, adapter, fmt, part, budget, progress)
        scored, _, _ = score_outputs([EvalExample.from_record(r) for r in part], [g.text for g in made], fmt,
                                     output_type_hint=kind)
        rows += scored
        generations += made
        done += len(part)
        if stop is not None and done < len(records) and stop(rows, generations):
            if progress is not None:
                progress(len(records) - done)
            return rows, generations, ("decided early: even if every remaining test call were kept and agreed, "
                                       "no candidate threshold could reach the target")
    return rows, generations, None


def agreement_metric(override: str | None, rows: Sequence[dict[str, Any]]) -> str:
    """What a cluster is promoted on: the promotion_metric override where it applies to the cluster's
    answers (e.g. rouge_l on free text), else strict agreement."""
    if override and (not rows or any(r.get(override) is not None for r in rows)):
        return override
    return AGREEMENT_METRIC


def evaluate_cluster(
    info: ClusterInfo,
    specialist: Specialist | None,
    validation: list[dict[str, Any]],
    test: list[dict[str, Any]],
    test_available: int,
    generator: Generator,
    params: IterateParams,
    rules: EscalationRules,
    progress: Callable[[int], None] | None = None,
) -> ClusterEvaluation:
    """The specialist on its validation calls (signal and candidate thresholds), then on its whole test
    sample (the promotion check, see iterate.cascade). Neither is cut by a timer: the test sample
    stops early only once no candidate can pass whatever the remaining answers are."""
    kind = info.output_type
    metric = params.promotion_metric or AGREEMENT_METRIC
    entry: dict[str, Any] = {
        "cluster_id": info.cluster_id, "label": info.label, "output_type": kind, "size": info.size,
        "share_calls": info.share_calls, "candidate": info.candidate, "candidate_reason": info.why_not,
        "primary_metric": primary_metric(kind), "agreement_metric": metric, "test_calls_available": test_available,
        "model": None, "adapter": None, "prompt_format": None, "specialist": None, "base": None,
        "cascade": None, "skipped": None, "stopped_early": None,
    }
    result = ClusterEvaluation(entry)
    if specialist is None or not info.candidate or not test:
        return result
    fmt = PromptFormat.from_dict(specialist.prompt_format) if specialist.prompt_format else PromptFormat()
    budget = token_budget([*validation, *test], params.max_new_tokens)
    entry.update(model=specialist.model, prompt_format=fmt.to_dict(), max_new_tokens=budget,
                 finetune_version=specialist.finetune_version)
    chunk = params.chunk()
    no_timer = Deadline(None)
    # validation is measured in full, so in one piece: the generator batches its alike answers together
    # (the test sample goes in seeded chunks: it may stop early, and what it measured by then must be a
    # fair sample of the cluster's calls)
    val_rows, val_generations, _ = _measure(generator, specialist.model, specialist.adapter, fmt, validation,
                                            budget, kind, None, no_timer, progress)
    metric = entry["agreement_metric"] = agreement_metric(params.promotion_metric, val_rows)
    val_calls = score_calls(validation, val_rows, val_generations, fmt, rules, metric)
    signal, aurocs = choose_signal(val_calls, params.confidence_measure)
    cascade = ClusterCascade(val_calls, [], len(test), signal, aurocs, tuple(params.threshold_levels))
    chosen = cascade.candidates(params.promotion_target)

    def decided(rows: list[dict[str, Any]], generations: list[Generation]) -> bool:
        partial = score_calls(test, rows, generations, fmt, rules, metric)
        return params.stop_when_decided and not can_still_pass(partial, len(test), signal, chosen,
                                                               params.promotion_target)

    if params.stop_when_decided and not chosen:
        entry["stopped_early"] = "decided on validation: no confidence threshold keeps calls that agree often enough"
        rows, generations = [], []
        if progress is not None:
            progress(len(test))
    else:
        rows, generations, entry["stopped_early"] = _measure(
            generator, specialist.model, specialist.adapter, fmt, test, budget, kind, chunk, no_timer, progress,
            decided)
    cascade.test = score_calls(test, rows, generations, fmt, rules, metric)
    result.specialist_rows, result.cascade = rows, cascade
    if val_rows:
        entry["validation"] = _summary(val_rows, val_generations, params.seed)
    if rows:
        entry["specialist"] = _summary(rows, generations, params.seed)
    entry["cascade"] = cascade.to_dict(params.promotion_target)
    return result


def evaluate_base(
    result: ClusterEvaluation,
    specialist: Specialist,
    base: list[dict[str, Any]],
    generator: Generator,
    params: IterateParams,
    progress: Callable[[int], None] | None = None,
    deadline: Deadline | None = None,
) -> None:
    """The base model zero-shot (full prompt) on the first test calls: the side-by-side baseline."""
    entry = result.entry
    if not base or not entry.get("prompt_format"):
        return
    fmt = base_format(PromptFormat.from_dict(entry["prompt_format"]))
    longest = int(max(prompt_chars(r, fmt) for r in base) / CHARS_PER_TOKEN_FLOOR)
    if 0 < params.max_base_prompt_tokens < longest:
        entry["base_skipped"] = (
            f"base model not measured: full prompts up to ~{longest} tokens > max_base_prompt_tokens "
            f"{params.max_base_prompt_tokens}"
        )
        if progress is not None:
            progress(len(base))
        return
    rows, generations, stopped = _measure(generator, specialist.model, None, fmt, base, entry["max_new_tokens"],
                                          entry["output_type"], params.chunk(),
                                          deadline or Deadline(None), progress)
    result.base_rows = rows
    if rows:
        entry["base"] = {**_summary(rows, generations, params.seed), "stopped_early": stopped}
