"""Measure every candidate model on every cluster task, then choose per cluster.

Each candidate is loaded once and evaluated on all clusters whose gates it passes; gates are
computed with the candidate's own tokenizer and prompt format (prompt lengths differ per model).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from slmconvert.engine.base import make_engine
from slmconvert.errors import ConfigError, SlmError
from slmconvert.evaluation.engine_generation import generate_on_engine
from slmconvert.evaluation.generation import GenerationRun, generate
from slmconvert.evaluation.harness import EvaluationResult, evaluate, evaluation_of
from slmconvert.evaluation.metrics import primary_metric
from slmconvert.finetune.allocate import MIN_EXAMPLE_PASSES
from slmconvert.finetune.data import distilled_format
from slmconvert.finetune.params import FinetuneParams
from slmconvert.models.embedder import Embedder, SentenceEmbedder
from slmconvert.models.info import ModelInfo, model_info
from slmconvert.models.loading import load_model, load_tokenizer, resolve_dtype
from slmconvert.models.prompt import PromptFormat, render_completion, render_prompt
from slmconvert.models.registry import ResolvedModel, resolve_model
from slmconvert.select.choose import RULE, choose
from slmconvert.select.data import ClusterTask, with_few_shot
from slmconvert.select.gates import (
    Work,
    available_memory,
    compute_gate,
    context_gate,
    licence_gate,
    memory_gate,
    memory_need,
    percentile_99,
    zero_shot_skip,
)
from slmconvert.select.params import SelectParams
from slmconvert.util.device import pick_device
from slmconvert.util.memory import release_memory

Progress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]
SCHEMA = "slmconvert.selection/1"
_ROW_DROP = ("text", "token_logprobs")
NOT_EXAMINED = (
    "a smaller candidate passed every gate of every cluster and the budget left it unmeasured zero-shot: the smallest "
    "passing candidate is chosen, so this one is not probed, converted or tokenized"
)
SOLE_CANDIDATE = (
    "the only candidate passing the compute gate: nothing to compare, so not measured zero-shot "
    "(iterate measures the base model beside its specialist; select.measure_single=true measures it here)"
)
ZERO_SHOT_SHARE = 0.05  # select's zero-shot measurements together may take at most this share of what is left
# (0.2 spent 120 s of a 15-minute run on the sample logs, where every measured cluster still chose the smaller
# model: 8 prompts rarely decide; training does)
LEAST_PROMPT_TOKENS = 64  # the smallest cluster work imaginable, for the gate before a tokenizer is loaded
LEAST_NEW_TOKENS = 8


@dataclass
class Budget:
    """What select knows of the run's budget: seconds left (a clock), the evidence calls a trained
    cluster needs, and each candidate's measured speed (None: not measured)."""

    seconds_left: Callable[[], float]
    evidence_calls: int
    speed: Callable[[ResolvedModel], Any]
    zero_shot_share: float = ZERO_SHOT_SHARE  # of what is left, for one measurement (set per run)


def trained_format(members: list[Any], fmt: PromptFormat) -> PromptFormat:
    """The prompt format finetune trains and evaluates a specialist of these calls with (its context
    distillation, finetune.data.distilled_format): the gates price training and evidence with it."""
    records = [{"messages": ex.messages, "tools": ex.tools, "response_format": getattr(ex, "response_format", None)}
               for ex in members]
    return distilled_format(records, fmt, FinetuneParams().context_distillation)


def cluster_work(prompt_tokens: list[int], new_tokens: list[int], evidence_calls: int,
                 max_length: int | None = None) -> Work:
    """The least a cluster asks: MIN_EXAMPLE_PASSES examples of its mean length (cut to finetune's
    max_length, as training cuts them) trained, and its evidence answered on whole prompts."""
    prompt = sum(prompt_tokens) / max(1, len(prompt_tokens))
    new = sum(new_tokens) / max(1, len(new_tokens))
    example = sum(min(p + new, max_length or p + new) for p in prompt_tokens) / max(1, len(prompt_tokens))
    return Work(MIN_EXAMPLE_PASSES * example, evidence_calls, prompt, new)


def select_models(
    tasks: list[ClusterTask],
    params: SelectParams,
    candidates: list[str],
    *,
    progress: Progress,
    log: Callable[[str], None],
    budget: Budget | None = None,
) -> dict[str, Any]:
    """The selection document: every candidate's facts, gates and measurements, and the choices
    (`budget`: gate on measured throughput against what is left; None = no compute gate)."""
    resolved = [resolve_model(name) for name in dict.fromkeys(candidates)]  # unknown names fail early
    if not resolved:
        raise ConfigError("no candidate models given", hint="pass --candidate NAME or set select.candidates")
    device = pick_device(params.device)
    # 256 tokens: the model's own limit, so long answers are compared whole
    embedder = SentenceEmbedder(max_seq_length=256) if params.text_cosine else None
    entries, results = [], {task.cluster_id: [] for task in tasks}
    if budget is not None:  # the measurements share ZERO_SHOT_SHARE of what is left
        budget.zero_shot_share = ZERO_SHOT_SHARE / max(1, len(resolved) * len(tasks))
    gates = _LazyGates(budget)
    decided: dict[int, str] = {}  # cluster id -> the smaller candidate that decided it unmeasured
    order = smallest_first(resolved)
    for index, (candidate, size) in enumerate(order):
        rivals = [max(1.0, (bigger or size or 1) / (size or 1)) for _, bigger in order[index + 1:]]
        open_tasks = [t for t in tasks if t.cluster_id not in decided]
        if tasks and not open_tasks:
            entry, measured = {**_blank_entry(candidate), "not_examined": NOT_EXAMINED}, {}
            log(f"select: {candidate.name} not examined: {NOT_EXAMINED}")
        else:
            others = [c for c in resolved if c is not candidate]
            entry, measured = _measure(candidate, open_tasks, params, device, embedder, progress, log,
                                       gates.gate(candidate), gates.sole_reason(others, params.measure_single),
                                       gates.speed(candidate), budget, rivals)
        for task in tasks:
            if task.cluster_id in decided:
                measured[task.cluster_id] = _not_examined(candidate.name, decided[task.cluster_id])
            elif _decides(measured[task.cluster_id]):
                decided[task.cluster_id] = candidate.name
        entries.append(entry)
        for cid, result in measured.items():
            results[cid].append(result)
    if tasks and all(e["error"] for e in entries):
        raise ConfigError(
            "no candidate model could be loaded: " + "; ".join(f"{e['model']}: {e['error']}" for e in entries),
            hint="see `slmconvert models list` for what is installed",
        )
    clusters = []
    for task in tasks:
        winner, reason = choose(results[task.cluster_id], params.quality_tolerance)
        kind = task.cluster.get("output_type") or "text"
        clusters.append({
            "cluster_id": task.cluster_id,
            "label": task.cluster.get("label"),
            "output_type": kind,
            "primary_metric": primary_metric(kind),
            "n_validation": task.n_validation,
            "sample_split": task.sample_split,
            "sample_ids": [ex.example_id for ex in task.sample],
            "few_shot_ids": [ex.example_id for ex in task.shots_pool],
            "results": results[task.cluster_id],
            "chosen": _chosen(winner),
            "reason": reason,
        })
    return {"schema": SCHEMA, "rule": RULE, "device": device, "candidates": entries, "clusters": clusters}


class _LazyGates:
    """Each candidate's measured speed and compute gate, probed only when first asked for (a candidate
    that is never examined is never probed, nor converted into the model cache)."""

    def __init__(self, budget: Budget | None) -> None:
        self.budget = budget
        self._speeds: dict[str, Any] = {}
        self._gates: dict[str, dict[str, Any]] = {}

    def speed(self, candidate: ResolvedModel) -> Any:
        if candidate.name not in self._speeds:
            self._speeds[candidate.name] = self.budget.speed(candidate) if self.budget else None
        return self._speeds[candidate.name]

    def gate(self, candidate: ResolvedModel) -> dict[str, Any]:
        if candidate.name not in self._gates:
            self._gates[candidate.name] = _compute_gate(self.speed(candidate), self.budget)
        return self._gates[candidate.name]

    def sole_reason(self, others: list[ResolvedModel], measure_single: bool) -> Callable[[], str | None]:
        """A candidate's skip reason, asked only where a measurement would fit (so the others are probed
        only then): SOLE_CANDIDATE when none of the others passes its compute gate."""
        def reason() -> str | None:
            return None if measure_single or any(self.gate(c)["passed"] for c in others) else SOLE_CANDIDATE

        return reason


def _blank_entry(candidate: ResolvedModel) -> dict[str, Any]:
    """A candidate's entry in selection.json before anything about it is known."""
    return {"model": candidate.name, "kind": candidate.kind, "error": None, "info": None, "prompt_format": None}


def smallest_first(candidates: list[ResolvedModel]) -> list[tuple[ResolvedModel, int | None]]:
    """(candidate, parameters) by parameter count as the registry or the weights' headers say (no
    loading), those of unknown size last; ties keep the given order."""
    sized = [(c, model_info(c, inspect_tokenizer=False).n_params) for c in candidates]
    return sorted(sized, key=lambda pair: pair[1] or math.inf)


def _decides(result: dict[str, Any]) -> bool:
    """A result that no larger candidate can beat: it passed every gate and was left unmeasured zero-shot
    (the rule then takes the smallest passing candidate; a quality comparison needs measurements)."""
    return result.get("excluded") is None and bool(result.get("unmeasured"))


def _not_examined(name: str, smaller: str) -> dict[str, Any]:
    return {**_excluded(name, None, None), "not_examined": f"{smaller} is smaller and passed every gate unmeasured"}


def _chosen(winner: dict[str, Any] | None) -> dict[str, Any] | None:
    if winner is None:
        return None
    keys = ("model", "prompt_format", "primary", "metrics", "timing", "max_new_tokens", "n_params", "unmeasured")
    return {key: winner.get(key) for key in keys}


def _measure(
    candidate: ResolvedModel,
    tasks: list[ClusterTask],
    params: SelectParams,
    device: str,
    embedder: Embedder | None,
    progress: Progress,
    log: Callable[[str], None],
    gate: dict[str, Any],
    skip_reason: Callable[[], str | None],
    speed: Any = None,
    budget: Budget | None = None,
    rivals: Sequence[float] = (),
) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """One candidate: gates per cluster, then its zero-shot measurement where one is due (a
    non-None skip_reason(), asked only where a measurement would fit, leaves the cluster unmeasured
    with that reason)."""
    name = candidate.name
    entry = _blank_entry(candidate)
    if not gate["passed"]:  # decided from the registry: nothing to load, convert or tokenize
        log(f"select: {name} skipped: {gate['reason']}")
        return entry, {t.cluster_id: {**_excluded(name, None, gate["reason"]), "gates": {"compute": gate}}
                       for t in tasks}
    try:
        log(f"select: preparing {name}")
        tokenizer = load_tokenizer(candidate)  # converts packaged weights into the cache on first use
        info = model_info(candidate, inspect_tokenizer=False)
    except SlmError as exc:
        entry["error"] = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return entry, {t.cluster_id: _excluded(name, None, f"cannot load: {exc.message}") for t in tasks}
    fmt = PromptFormat.for_tokenizer(tokenizer, params.prompt_style)
    dtype = str(resolve_dtype(params.dtype, device)).removeprefix("torch.")
    entry.update(info=info.to_dict(), prompt_format=fmt.to_dict(), dtype=dtype, device=device)
    free = available_memory(device)
    if speed is not None:
        entry["throughput"] = speed.to_dict()
    plans = {t.cluster_id: _plan(t, tokenizer, fmt, info, params, dtype, free, device, skip_reason, speed, budget,
                                 rivals)
             for t in tasks}
    measured = {t.cluster_id: _excluded(name, info, plans[t.cluster_id]["excluded"], plans[t.cluster_id]) for t in tasks}
    for t in tasks:
        if plans[t.cluster_id]["unmeasured"]:
            measured[t.cluster_id].update(unmeasured=plans[t.cluster_id]["unmeasured"], prompt_format=fmt.to_dict())
    runnable = [t for t in tasks if plans[t.cluster_id]["excluded"] is None and not plans[t.cluster_id]["unmeasured"]]
    if not runnable:
        return entry, measured
    runs = _engine_runs(candidate, runnable, plans, params, progress, log)
    loaded = None
    if runs is None:  # the local engine: the candidate in this process
        loaded = load_model(candidate, device=params.device, dtype=params.dtype, load_in_4bit=params.load_in_4bit)
        entry["load_seconds"] = round(loaded.load_seconds, 3)
    try:
        for task in runnable:
            plan = plans[task.cluster_id]
            started = time.perf_counter()
            if runs is not None:
                result, timing = _scored_engine_run(runs[task.cluster_id], task, fmt, params, embedder)
            else:
                result, timing = _measured_here(loaded, task, plan, fmt, params, embedder, progress,
                                                f"{name} · cluster {task.cluster_id}", task is runnable[0])
            plan.pop("prompts")
            plan.pop("first_prompt")
            measured[task.cluster_id] = {
                **measured[task.cluster_id],
                "prompt_format": fmt.to_dict(),
                "primary_metric": result.primary_metric,
                "primary": result.primary.to_dict(),
                "metrics": result.metrics_dict(),
                "timing": timing,
                "eval_seconds": round(time.perf_counter() - started
                                      + (runs[task.cluster_id].wall_seconds if runs is not None else 0.0), 3),
                "rows": [{k: v for k, v in row.items() if k not in _ROW_DROP} for row in result.rows],
            }
    finally:
        del loaded
        release_memory()
    return entry, measured


def _measured_here(loaded: Any, task: ClusterTask, plan: dict[str, Any], fmt: PromptFormat, params: SelectParams,
                   embedder: Embedder | None, progress: Progress, title: str,
                   warmup: bool) -> tuple[EvaluationResult, dict[str, Any]]:
    """The candidate loaded in this process answering the cluster's sample: the result and its timing
    (with select.single_call_latency, also one prompt alone)."""
    with progress(title, len(task.sample)) as advance:
        result = evaluate(
            loaded.model, loaded.tokenizer, task.sample, fmt,
            max_new_tokens=plan["max_new_tokens"], batch_size=params.batch_size, embedder=embedder,
            output_type_hint=task.cluster.get("output_type"), progress=advance,
            prompts=plan["prompts"], seed=params.seed, warmup=warmup,
        )
    timing = dict(result.timing)
    if params.single_call_latency:
        single = generate(
            loaded.model, loaded.tokenizer, [plan["first_prompt"]],
            max_new_tokens=plan["max_new_tokens"], batch_size=1, warmup=False,
        )
        timing["single_call_seconds"] = round(single.wall_seconds, 4)
        timing["single_call_new_tokens"] = single.results[0].new_tokens
    return result, timing


def _scored_engine_run(run: GenerationRun, task: ClusterTask, fmt: PromptFormat, params: SelectParams,
                       embedder: Embedder | None) -> tuple[EvaluationResult, dict[str, Any]]:
    """The engine workers' answers on the cluster's sample, scored here: the result and its timing."""
    result = evaluation_of(task.sample, run, fmt, embedder=embedder,
                           output_type_hint=task.cluster.get("output_type"), seed=params.seed)
    timing = dict(result.timing)
    if params.single_call_latency:
        timing["single_call_skipped"] = "engine=ray: a call alone is timed on the local engine only"
    return result, timing


def _engine_runs(candidate: ResolvedModel, runnable: list[ClusterTask], plans: dict[int, dict[str, Any]],
                 params: SelectParams, progress: Progress,
                 log: Callable[[str], None]) -> dict[int, GenerationRun] | None:
    """With engine=ray, every runnable cluster's prompts answered by Ray workers in one map (each
    worker loads the candidate once); None with the local engine."""
    engine = make_engine(params, log)
    if engine.is_local:
        return None
    work = {t.cluster_id: (plans[t.cluster_id]["prompts"], plans[t.cluster_id]["max_new_tokens"]) for t in runnable}
    load = {"device": params.device, "dtype": params.dtype, "load_in_4bit": params.load_in_4bit}
    calls = sum(len(prompts) for prompts, _ in work.values())
    with progress(f"{candidate.name} · {len(runnable)} cluster(s) on {engine.spec.name}", calls) as advance:
        return generate_on_engine(engine, candidate, load, work, params.batch_size, advance)


def _compute_gate(speed: Any, budget: Budget | None) -> dict[str, Any]:
    """The compute gate before anything is tokenized: can the candidate do even the smallest cluster's work?"""
    if budget is None:
        return compute_gate(None, None, 0.0)
    least = Work(MIN_EXAMPLE_PASSES * (LEAST_PROMPT_TOKENS + LEAST_NEW_TOKENS), budget.evidence_calls,
                 LEAST_PROMPT_TOKENS, LEAST_NEW_TOKENS)
    return compute_gate(speed, least, budget.seconds_left())


def _plan(
    task: ClusterTask, tokenizer: Any, fmt: PromptFormat, info: ModelInfo, params: SelectParams, dtype: str, free: int,
    device: str, skip_reason: Callable[[], str | None] = lambda: None, speed: Any = None,
    budget: Budget | None = None, rivals: Sequence[float] = (),
) -> dict[str, Any]:
    """Prompts, the generation bound and the gates of one candidate on one cluster (`rivals`: the size
    ratios of the larger candidates a zero-shot measurement here would be compared with)."""
    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    members = [count(ex.prompt(tokenizer, fmt)) for ex in task.members]
    distilled = trained_format(task.members, fmt)
    trained = [count(ex.prompt(tokenizer, distilled)) for ex in task.members] if distilled != fmt else members
    prompts = [
        render_prompt(with_few_shot(ex, task.shots_pool), ex.tools, tokenizer, fmt, response_format=ex.response_format)
        for ex in task.sample
    ]
    references = [
        count(render_completion(ex.reference, tokenizer, fmt, messages=ex.messages, tools=ex.tools,
                                response_format=ex.response_format))
        for ex in task.sample
    ]
    bound = min(params.max_new_tokens, math.ceil(1.25 * max(references, default=16)) + 8)
    p99 = percentile_99(members)
    longest = max((count(p) for p in prompts), default=0)
    batch = min(params.batch_size, len(prompts))
    left = budget.seconds_left() if budget else 0.0
    # finetune drops the context every call of the cluster shares (system prompt, tool schemas): the
    # specialist trains and answers without it, so the gate counts the prompts without it
    work = cluster_work(trained, references, budget.evidence_calls, FinetuneParams().max_length_cap) if budget else None
    gates = {
        "context": context_gate(info.context_length, p99, bound),
        "memory": memory_gate(memory_need(info, dtype, params.load_in_4bit, batch, longest + bound), free, params.memory_fraction),
        "license": licence_gate(info.license, params.allowed_licenses),
        "compute": compute_gate(speed, work, left),
    }
    excluded = "; ".join(g["reason"] for g in gates.values() if not g["passed"]) or None
    too_slow = zero_shot_skip(speed, len(prompts), longest, bound, left, budget.zero_shot_share,
                              rivals) if budget else None
    unmeasured = too_slow or skip_reason()
    return {
        "prompts": prompts, "first_prompt": prompts[0] if prompts else "", "max_new_tokens": bound,
        "gates": gates, "excluded": excluded, "unmeasured": unmeasured, "p99_prompt_tokens": p99,
        "max_sample_prompt_tokens": longest,
    }


def _excluded(name: str, info: ModelInfo | None, reason: str | None, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    plan = plan or {}
    return {
        "model": name,
        "n_params": info.n_params if info else None,
        "license": info.license if info else None,
        "gates": plan.get("gates", {}),
        "excluded": reason,
        "max_new_tokens": plan.get("max_new_tokens"),
        "p99_prompt_tokens": plan.get("p99_prompt_tokens"),
        "prompt_format": None,
        "primary_metric": None,
        "primary": None,
        "metrics": {},
        "timing": {},
    }


