"""The finetune stage's side of the wall-clock budget: measure each base model's speed here (once per
share of its layers that carries LoRA: tool-call clusters train on fewer), turn the prepared clusters
into plan needs, plan (see `finetune.allocate`), and stop training on time.

What is planned and why lands in finetune.json (`budget`), so iterate evaluates exactly the
evidence reserved here and the user sees where each second went.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmconvert.finetune.allocate import (
    EXTRA_PASSES,
    SPEED_MARGIN,
    BudgetPlan,
    ClusterNeed,
    Evidence,
    plan_budget,
)
from slmconvert.finetune.budget import full_plan_tokens, make_probe_plan, validation_cap
from slmconvert.finetune.params import FinetuneParams
from slmconvert.finetune.probe import Throughput
from slmconvert.iterate.plan import CHUNK_BATCHES
from slmconvert.util.budget import Deadline

EVAL_BATCH = 16  # iterate's default generation batch: the batch the probe measures
ITERATE_RESERVE_SHARE = 0.05  # of what is left: router build, replay, economics and report after the evidence
ITERATE_RESERVE_MIN = 20.0  # seconds
VALIDATIONS_PER_RUN = 2  # the trainer validates at most twice in a budgeted run
STOP_SLACK = 1.5  # the wall-clock guard stops a cluster at this multiple of its planned seconds ...
STOP_GRACE = 30.0  # ... plus this many seconds

Probe = Callable[[str, Any, float], Throughput]  # (model, job, share of its layers with LoRA) -> throughput


def speed_key(model: str, lora_layers: float) -> str:
    """What a training speed is known by: the base model and the share of its layers that carries LoRA."""
    return f"{model} (LoRA on {lora_layers:g} of the layers)"


@dataclass
class Schedule:
    """The plan of a finetune run plus the speeds it was made from."""

    plan: BudgetPlan
    throughput: dict[str, Throughput]
    deadline: Deadline
    budget: str
    reserve_seconds: float
    evidence: Evidence | None = None
    probed: dict[str, Throughput] = dataclasses.field(default_factory=dict)  # the probe's speeds, as measured

    def to_dict(self) -> dict[str, Any]:
        return {"budget": self.budget, "deadline": round(self.deadline.at, 3),
                "evidence": dataclasses.asdict(self.evidence) if self.evidence else None,
                "reserved_for_iterate_seconds": round(self.reserve_seconds, 2),
                "throughput": {m: t.to_dict() for m, t in sorted(self.throughput.items())},
                **self.plan.to_dict()}

    def stop_at(self, cluster_id: int, started: float | None = None) -> float:
        """Wall-clock time by which this cluster's training must stop: its planned seconds with slack
        (the probe times bare training steps; the trainer adds validation and bookkeeping), and never
        past the time kept for the evidence of every trained cluster."""
        seconds, latest = self.stop_window(cluster_id)
        return min((time.time() if started is None else started) + seconds, latest)

    def stop_window(self, cluster_id: int) -> tuple[float, float]:
        """(seconds this cluster's training may take once started, the wall-clock time it must stop by
        whenever it starts): stop_at's two parts, for a training that starts later (a queued Ray task)."""
        entry = self.plan.entry(cluster_id)
        planned = (STOP_SLACK * (entry.train_seconds + entry.fixed_seconds) + STOP_GRACE) if entry else 0.0
        evidence = sum(e.evidence_seconds for e in self.plan.entries if e.trained) + self.reserve_seconds
        return planned, self.deadline.at - evidence


def default_probe(cache_dir: Path, params: FinetuneParams, device: str) -> Probe:
    """The real probe: cached per machine, model and code."""
    from slmconvert.finetune.probe import cached_probe

    def probe(model: str, job: Any, lora_layers: float) -> Throughput:
        plan = make_probe_plan(params, device, job.n_params, lora_layers)
        return cached_probe(cache_dir, model, job.model_identity or model, plan, EVAL_BATCH)

    return probe


def candidate_speed(cache_dir: Path, device: str, log: Callable[[str], None]) -> Callable[[Any], Throughput | None]:
    """For select's compute gate: a candidate's measured speed (cached), None when it cannot be probed."""
    from slmconvert.errors import SlmError
    from slmconvert.finetune.probe import cached_probe
    from slmconvert.models.loading import model_identity

    params = FinetuneParams(device=device)

    def speed(candidate: Any) -> Throughput | None:
        n_params = candidate.spec.n_params if getattr(candidate, "spec", None) else None
        try:
            found = cached_probe(cache_dir, candidate.name, model_identity(candidate.name),
                                 make_probe_plan(params, device, n_params), EVAL_BATCH)
        except (SlmError, OSError, RuntimeError, ValueError) as exc:
            log(f"select: could not measure {candidate.name}'s speed here ({exc}); not gated on it")
            return None
        log(f"select: {candidate.name} here ({found.source}): {found.train_tokens_per_second:.0f} training tok/s, "
            f"{found.decode_tokens_per_second:.0f} decode tok/s")
        return found

    return speed


def make_schedule(
    items: Sequence[tuple[Any, Any]],
    params: FinetuneParams,
    device: str,
    deadline: Deadline,
    value_share: dict[int, float],
    evidence: Evidence,
    probe: Probe,
    committed_seconds: float = 0.0,
    lanes: int = 1,
) -> Schedule:
    """Probe each base model once per share of its layers the clusters put LoRA on, then plan the clusters
    against what is left of the deadline after `committed_seconds` (the evidence of clusters already
    trained), `lanes` training at once."""
    speeds: dict[str, Throughput] = {}
    needs = []
    for job, prep in items:
        key = speed_key(job.model, prep.plan.lora_layers)
        if key not in speeds:
            speeds[key] = probe(job.model, job, prep.plan.lora_layers)
        needs.append(need_of(job, prep, params, device, speeds[key], value_share.get(job.cluster_id, 0.0)))
    left = deadline.left() - committed_seconds
    reserve = max(ITERATE_RESERVE_MIN, ITERATE_RESERVE_SHARE * left)
    plan = plan_budget(needs, left - reserve, evidence, lanes=lanes)
    return Schedule(plan, speeds, deadline, params.budget, reserve, evidence, probed=dict(speeds))


def replan(schedule: Schedule, trained: Collection[int], remaining: Sequence[tuple[Any, Any]],
           measured: dict[str, float], params: FinetuneParams, device: str, value_share: dict[int, float]) -> Schedule:
    """The plan of the clusters not trained yet, at the training speed each model has shown so far
    (`measured`, by speed_key).

    The probe times bare training steps on one shape; the trainer adds the optimiser, bookkeeping and
    the cluster's real lengths (multi-turn tool clusters trained at about half the probed rate on 2
    cores), so after each cluster the rest of the budget is planned again: a cluster that no longer
    fits is left out with the reason instead of training a sliver, one that now fits is taken in. The
    entries of trained clusters (and the evidence they hold) are kept as planned."""
    kept = [e for e in schedule.plan.entries if e.cluster_id in trained]
    speeds = shown_speeds(schedule.probed, measured)
    fresh = make_schedule(remaining, params, device, schedule.deadline, value_share, schedule.evidence or Evidence(),
                          lambda model, _job, share: speeds[speed_key(model, share)],
                          committed_seconds=sum(e.evidence_seconds for e in kept))
    plan = BudgetPlan(seconds=schedule.plan.seconds, entries=kept + fresh.plan.entries,
                      spare_seconds=fresh.plan.spare_seconds)
    return dataclasses.replace(schedule, plan=plan, throughput=speeds)


def shown_speeds(probed: dict[str, Throughput], measured: dict[str, float]) -> dict[str, Throughput]:
    """Each probed speed as training has shown it: the measured rate where clusters trained at it; else the
    probe's, slowed by the least ratio of trained to probed rate the same model showed at another share
    (the trainer's own work per step that the probe's bare steps leave out: 11-17% on half the layers of
    SmolLM2-135M, 22-26% on a quarter, 2 cores of an AMD EPYC), never sped up."""
    ratios: dict[str, float] = {}
    for key, speed in probed.items():
        if measured.get(key):
            ratio = measured[key] / max(1e-9, speed.train_tokens_per_second)
            ratios[speed.model] = min(ratio, ratios.get(speed.model, ratio))
    shown = {}
    for key, speed in probed.items():
        if measured.get(key):
            shown[key] = dataclasses.replace(speed, train_tokens_per_second=round(measured[key], 2), source="trained")
        elif ratios.get(speed.model, 1.0) < 1.0:
            rate = round(speed.train_tokens_per_second * ratios[speed.model], 2)
            shown[key] = dataclasses.replace(speed, train_tokens_per_second=rate, source="probe, slowed as trained")
        else:
            shown[key] = speed
    return shown


def trained_tokens_per_second(results: Sequence[dict[str, Any]], replay_cost: dict[str, float]) -> dict[str, float]:
    """Per speed_key (base model and LoRA share): tokens trained per wall second of training (validation
    excluded) so far, counted as the probe counts them: a token that started from the frozen layers' kept
    states (finetune.frozen_layers) as `replay_cost[key]` of one."""
    tokens: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for metrics in results:
        training = metrics.get("training") or {}
        spent = float(training.get("seconds") or 0.0) - float(training.get("validation_seconds") or 0.0)
        if metrics.get("reused_from_cache") or spent <= 0 or not training.get("tokens"):
            continue
        key = speed_key((metrics.get("base_model") or {}).get("name"), float(metrics["plan"]["lora_layers"]))
        replayed = float(training.get("replayed_tokens") or 0.0)
        full = float(training["tokens"]) - replayed * (1.0 - replay_cost.get(key, 1.0))
        tokens[key] = tokens.get(key, 0.0) + full
        seconds[key] = seconds.get(key, 0.0) + spent
    return {key: tokens[key] / seconds[key] for key in tokens}


def evidence_prices(speed: Throughput, stats: Any, max_new_tokens: int) -> tuple[float, float]:
    """(seconds per evidence call, seconds per generation run's tail) at the measured speeds.

    Whole batches (models whose cache cannot take rows as others end): a call is priced at the token
    budget, since a batch decodes until its longest row ends and a specialist still learning its task often
    runs one row per batch to it (measured on the sample logs' tool-call cluster: evidence took 1.9x what the
    median-to-longest completion predicted); no tail. Refilled slots (evaluation.continuous): a row holds its
    slot for its own answer (the training completions' mean), and each run ends with its last rows decoding
    after the others left: priced as the longest training completion (within the token budget) decoded by
    one row alone, at the probe's single-row step; a call's prefill at the mean prompt (a sum of calls). In
    run-all on the sample logs (SmolLM2-135M, bf16, AMD EPYC) the first decision's 64 validation and 95 test
    calls took 67 s against 75 priced on 2 cores, 89 s against 103 on one core; priced with the token budget
    at a 16-row step as each run's tail, the same evidence came to 82 s on 2 cores, and took 59.
    """
    prompt = stats.prompt_mean or stats.prompt_p50
    if not speed.continuous:
        return speed.call_seconds(prompt, max_new_tokens), 0.0
    answer = stats.completion_mean or stats.completion_p50
    longest = min(max_new_tokens, stats.completion_max or max_new_tokens)
    return speed.call_seconds(prompt, answer), speed.alone_seconds(longest)


def need_of(job: Any, prep: Any, params: FinetuneParams, device: str, speed: Throughput,
            value_share: float) -> ClusterNeed:
    """One cluster's plan need: its full training, its evidence pools, and seconds per evidence call."""
    stats = prep.stats
    per_call, per_run = evidence_prices(speed, stats, prep.plan.max_new_tokens)
    checks = min(validation_cap(params, device), len(prep.validation.examples))
    validations = checks * VALIDATIONS_PER_RUN
    return ClusterNeed(
        cluster_id=job.cluster_id, value_share=value_share,
        full_tokens=full_plan_tokens(prep.plan, prep.train.mean_length),
        mean_example_tokens=prep.train.mean_length,
        train_tokens_per_second=speed.train_tokens_per_second,
        validation_available=len(job.records.validation), test_available=len(job.records.test),
        seconds_per_call=per_call, seconds_per_run=per_run, calls_per_run=CHUNK_BATCHES * speed.batch,
        fixed_seconds=(speed.load_seconds * 2 + validations * per_call
                       + (VALIDATIONS_PER_RUN * per_run if checks else 0.0)),
        epoch_tokens=prep.train.total_tokens, replay_cost=speed.replay_cost if params.cache_frozen_layers else 1.0,
        more_tokens=0 if params.epochs or params.max_steps else int(EXTRA_PASSES * prep.train.total_tokens),
        speed_margin=SPEED_MARGIN, verbatim_share=prep.verbatim_share,
    )


def value_shares(clusters_json: dict[str, Any]) -> dict[int, float]:
    """Each cluster's value: the mean of its share of calls and of LLM cost (what the product moves;
    cost alone would starve a cheap cluster that carries many calls), or its share of calls where
    the logs carry no prices."""
    rows = clusters_json["clusters"]
    priced = any((r.get("share_cost") or 0) > 0 for r in rows)

    def value(row: dict[str, Any]) -> float:
        calls = float(row.get("share_calls") or 0.0)
        return (calls + float(row.get("share_cost") or 0.0)) / 2 if priced else calls

    return {int(r["id"]): value(r) for r in rows}


def stop_callback(at: float, validate: bool = False) -> Any:
    """A trainer callback that ends training at wall-clock time `at` (the plan's guard: steps are
    planned from the measured speed; this catches a machine that got slower meanwhile).

    validate: also validate and checkpoint the last step, so that it competes for the best model
    (otherwise the best is chosen among the earlier validations only, and the steps since are lost).
    Data-parallel ranks all stop at the step where any rank's clock says so."""
    from transformers import TrainerCallback

    from slmconvert.finetune.data_parallel import any_rank

    class StopAt(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if any_rank(time.time() >= at):
                control.should_training_stop = True
                if validate:
                    control.should_evaluate = control.should_save = True
            return control

    return StopAt()
