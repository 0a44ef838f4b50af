"""Held-out evaluation of each cluster's specialist (and its base model zero-shot) and the
calibration of its confidence threshold on validation calls.

Samples are seeded and capped per device (see IterateParams); every metric carries its sample
size and 95% interval, so a small CPU sample shows up as a wide interval, not a confident number.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slmconvert.evaluation import EvalExample, score_outputs
from slmconvert.evaluation.metrics import aggregate, primary_metric
from slmconvert.evaluation.stats import wilson_interval
from slmconvert.iterate.params import IterateParams
from slmconvert.iterate.upstream import ClusterInfo, Specialist
from slmconvert.models.prompt import PromptFormat, assistant_text, record_output
from slmconvert.router import escalation
from slmconvert.router.confidence import calibrate_threshold, confidence
from slmconvert.router.config import EscalationRules
from slmconvert.router.generator import Generation, Generator, base_format
from slmconvert.util.device import pick_device

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


def prompt_chars(record: dict[str, Any], fmt: PromptFormat) -> int:
    """Rough size of a record's rendered prompt (what prefill costs), without a tokenizer."""
    messages = record.get("prompt") or record.get("messages") or []
    size = sum(len(str(m.get("content") or "")) + len(str(m.get("tool_calls") or "")) for m in messages
               if not (fmt.drop_system and m.get("role") in ("system", "developer")))
    if not fmt.drop_tools:
        size += len(str(record.get("tools") or "")) + len(str(record.get("response_format") or ""))
    return size


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
        "latency_ms_p50": round(statistics.median(g.seconds for g in generations) * 1000, 2),
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


class Deadline:
    """A generation time budget shared by every cluster of one evaluation (None = unlimited)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds if seconds else None

    @property
    def passed(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end


def can_still_reach(scores: Sequence[float], n_max: int, target: float) -> bool:
    """Whether perfect answers on the remaining calls could still lift the Wilson lower bound to target."""
    if n_max <= 0:
        return False
    best = min(1.0, (sum(scores) + max(0, n_max - len(scores))) / n_max)
    return wilson_interval(best * n_max, n_max)[0] >= target


def _summary(rows: list[dict[str, Any]], generations: list[Generation], seed: int) -> dict[str, Any]:
    metrics = aggregate(rows, seed=seed)
    return {"metrics": {k: m.to_dict() for k, m in metrics.items() if m.n > 0}, "n": len(rows),
            "timing": timing(generations)}


def _measure(
    generator: Generator, model: str, adapter: Any, fmt: PromptFormat, records: list[dict[str, Any]],
    budget: int, kind: str, chunk: int, deadline: Deadline, progress: Callable[[int], None] | None,
    stop: Callable[[list[dict[str, Any]]], bool] | None = None,
) -> tuple[list[dict[str, Any]], list[Generation], str | None]:
    """Generate and score in chunks; returns rows, generations and why it stopped early (if it did)."""
    rows: list[dict[str, Any]] = []
    generations: list[Generation] = []
    done = 0
    for part in chunks(records, fmt, chunk):
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
        if stop is not None and done < len(records) and stop(rows):
            if progress is not None:
                progress(len(records) - done)
            return rows, generations, "decided early: even perfect answers on the rest could not reach the target"
    return rows, generations, None


def evaluate_cluster(
    info: ClusterInfo,
    specialist: Specialist | None,
    test: list[dict[str, Any]],
    test_available: int,
    base_n: int,
    generator: Generator,
    params: IterateParams,
    progress: Callable[[int], None] | None = None,
    deadline: Deadline | None = None,
) -> ClusterEvaluation:
    """Specialist and base model on the cluster's test sample (the base on its first `base_n` calls)."""
    deadline = deadline or Deadline(None)
    kind = info.output_type
    metric = params.promotion_metric or primary_metric(kind)
    entry: dict[str, Any] = {
        "cluster_id": info.cluster_id, "label": info.label, "output_type": kind, "size": info.size,
        "share_calls": info.share_calls, "candidate": info.candidate, "candidate_reason": info.why_not,
        "primary_metric": metric, "test_calls_available": test_available, "model": None, "adapter": None,
        "prompt_format": None, "specialist": None, "base": None, "calibration": None, "skipped": None,
        "stopped_early": None,
    }
    result = ClusterEvaluation(entry)
    if specialist is None or not info.candidate or not test:
        return result
    if deadline.passed:
        entry["skipped"] = f"not evaluated: the evaluation time budget ({deadline.seconds:.0f} s) was used up"
        if progress is not None:
            progress(len(test) + base_n)
        return result
    fmt = PromptFormat.from_dict(specialist.prompt_format) if specialist.prompt_format else PromptFormat()
    budget = token_budget(test, params.max_new_tokens)
    entry.update(model=specialist.model, prompt_format=fmt.to_dict(), max_new_tokens=budget,
                 finetune_version=specialist.finetune_version)

    def hopeless(rows: list[dict[str, Any]]) -> bool:
        values = [float(r[metric]) for r in rows if r.get(metric) is not None]
        return params.stop_when_decided and not can_still_reach(values, len(test), params.promotion_target)

    chunk = params.chunk(pick_device(params.device))
    rows, generations, stopped = _measure(generator, specialist.model, specialist.adapter, fmt, test, budget, kind,
                                          chunk, deadline, progress, hopeless)
    result.specialist_rows = rows
    entry["stopped_early"] = stopped
    if rows:
        entry["specialist"] = _summary(rows, generations, params.seed)
    if base_n:
        evaluate_base(result, specialist, test[:base_n], generator, params, progress, deadline)
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
    device = pick_device(params.device)
    longest = int(max(prompt_chars(r, fmt) for r in base) / CHARS_PER_TOKEN_FLOOR)
    if device == "cpu" and 0 < params.max_base_prompt_tokens_cpu < longest:
        entry["base_skipped"] = (
            f"base model not measured: full prompts up to ~{longest} tokens > max_base_prompt_tokens_cpu "
            f"{params.max_base_prompt_tokens_cpu}"
        )
        if progress is not None:
            progress(len(base))
        return
    rows, generations, stopped = _measure(generator, specialist.model, None, fmt, base, entry["max_new_tokens"],
                                          entry["output_type"], params.chunk(device),
                                          deadline or Deadline(None), progress)
    result.base_rows = rows
    if rows:
        entry["base"] = {**_summary(rows, generations, params.seed), "stopped_early": stopped}


def calibrate(
    entry: dict[str, Any],
    specialist: Specialist,
    validation: list[dict[str, Any]],
    generator: Generator,
    rules: EscalationRules,
    target: float,
    progress: Callable[[int], None] | None = None,
    deadline: Deadline | None = None,
    chunk: int = 8,
) -> dict[str, Any]:
    """Confidence threshold from the specialist's answers on validation calls (see router.confidence)."""
    if not validation or rules.confidence_measure == "none":
        return {"threshold": None, "n": 0, "why": "no validation calls" if not validation else "confidence off"}
    from slmconvert.models.prompt import parse_completion

    fmt = PromptFormat.from_dict(entry["prompt_format"])
    rows, generations, stopped = _measure(generator, specialist.model, specialist.adapter, fmt, validation,
                                          entry["max_new_tokens"], entry["output_type"], chunk,
                                          deadline or Deadline(None), progress)
    scores, agreement, rule_escalated = [], [], 0
    for record, g, row in zip(validation, generations, rows, strict=False):
        parsed = parse_completion(g.text, fmt)
        if escalation.rule_violation(parsed, record, rules) is not None:
            rule_escalated += 1
            continue
        scores.append(confidence(g.text, g.logprobs, g.ends, rules.confidence_measure, bool(parsed.tool_calls)))
        agreement.append(float(row.get(entry["primary_metric"]) or 0.0))
    result = calibrate_threshold(scores, agreement, target)
    return {**result, "validation_calls": len(generations), "rule_escalated": rule_escalated,
            "measure": rules.confidence_measure, "stopped_early": stopped}
