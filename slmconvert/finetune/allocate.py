"""The budget plan: which clusters a run trains, for how long, and the evidence each one keeps.

Inputs are seconds (what is left of the run's wall-clock budget) and measured speeds (see
`finetune.probe`), never token counts tuned to one machine. The plan:

1. leaves out clusters whose held-out test split cannot show the promotion target even if the
   specialist were perfect on every call (`iterate.evidence.required_test_calls` at full coverage);
2. orders the others by the traffic they are expected to move per second it takes to reach a
   promotion decision, most first: value share (the mean of the cluster's share of calls and of LLM
   cost, the two things the product moves) x the share of it a specialist of the planned quality keeps
   (PLANNED_COVERAGE x the cluster's verbatim share: `finetune.verbatim`, below 1 where the LLM answers
   in one-off free text, which strict agreement compares character for character) x the chance that
   it shows the target at PLANNED_AGREEMENT on the cluster's test sample / seconds of loading + its
   full training plan (step 4 gives it that before the next cluster) + evidence. On the sample logs'
   1-hour run, the ticket summaries (one-off texts of ~60 tokens, 0-8% agreement) ranked on the planned
   quality of a structured cluster, trained 500 s and were not promoted, while the log-parsing JSON
   cluster after them found 88 s left of the 196 it needed.
   A cluster with a long plan (the sample agent's later turns: twice the tokens of its first
   decision) waits for cheaper ones of like value: ranked by its least training, it was admitted
   with a third of its plan and failed. A small test split leaves a specialist no room for a miss
   (37 test calls: it must keep 35 of them, all agreeing), so such a cluster trains only when the
   clusters more likely to pass are planned (on the sample logs' 15-minute run it took two minutes
   from clusters more likely to pass, and was not promoted);
3. admits clusters in that order while each one's fixed cost (model load), its *evidence* (the
   validation calls that calibrate its confidence threshold + the test calls its promotion check
   needs at the planned coverage, at measured generation speed) and its least training fit in
   what is left: evidence is reserved before any training time is handed out, so a slow machine
   trains fewer clusters but never evaluates one too little. The least training is one pass over
   the cluster's training examples (at least MIN_EXAMPLE_PASSES examples): a specialist that saw a
   small part of its task once does not pass (measured on the sample logs: a 20-tool support agent
   trained on 8% of one pass agreed with the LLM on 31% of validation calls; the intent classifier
   after one full pass on 100%), so a short budget trains fewer clusters properly rather than
   many a little;
4. gives each admitted cluster its full training plan (as far as the seconds go) before it admits the
   next: a specialist trained to its plan is the one that passes (measured on the sample logs: the
   intent classifier kept all its test calls after its full plan, 87% of them after one pass), so a
   short budget finishes the most valuable clusters rather than starting more;
5. spends what is still left on more test, then validation calls (tighter evidence), up to the caps;
6. then on more training for the admitted clusters, in the same order: up to `more_tokens` (the finetune
   stage gives EXTRA_PASSES passes) beyond the default plan (`finetune.budget.scaled_epochs`: on the
   sample logs the first decision, LoRA on half the layers, agreed with the LLM on 86-89% of its test
   calls after 3 passes in five runs, 95% after 4 on the same split), with only the seconds
   left beyond `speed_margin` of the lane's planned training (the finetune stage gives SPEED_MARGIN: the
   speeds a plan is made at, the probe's or the clusters trained so far, overstate the next cluster's).

With several training lanes (a Ray cluster training one cluster per GPU or node at once) each
cluster trains on the lane with the least planned so far, and every lane may train until the
evidence of all admitted clusters must start: evidence is generated after training, so a cluster
is admitted only while its evidence leaves every lane the training already planned on it. One lane
is the rule above, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from slmconvert.iterate.plan import MIN_CALIBRATION_CALLS, PLANNED_AGREEMENT, PLANNED_COVERAGE

MIN_EXAMPLE_PASSES = 64  # least training worth doing on a tiny cluster: this many example passes
MIN_CHANCE = 1e-3  # floor of the pass chance and the planned coverage in the order: clusters with none still
# rank by value per second
EXTRA_PASSES = 1.0  # passes beyond a cluster's default plan that seconds left at the end may buy
SPEED_MARGIN = 0.3  # how much slower than planned a cluster may train: extra passes are bought only beyond
# this share of the planned training. Measured on the sample logs (2 cores of an AMD EPYC): the trainer ran
# 17-27% slower than the probe's bare steps, and in a 1-hour run the clusters with longer rows trained 14-32%
# slower per token than the first one, whose speed the re-plans used: extra passes the re-plans gave two of
# them took the time of the last two, cut to 0.9 and 0.07 passes by the wall-clock guard


@dataclass
class ClusterNeed:
    """What the plan knows of one trainable cluster (sizes in calls and tokens, speeds measured)."""

    cluster_id: int
    value_share: float  # mean of its share of the calls and of the LLM cost in the logs
    full_tokens: int  # tokens its full training plan passes over (epochs x examples x mean length)
    mean_example_tokens: float
    train_tokens_per_second: float
    validation_available: int
    test_available: int
    seconds_per_call: float  # generation seconds of one evidence call (prefill + decode share)
    fixed_seconds: float = 0.0  # loading the model for training and for evaluation
    epoch_tokens: int = 0  # tokens of one pass over the training examples (0: unknown, the floor applies)
    replay_cost: float = 1.0  # a pass after the first, per token, over the first (finetune.frozen_layers)
    seconds_per_run: float = 0.0  # each generation run's tail: its last rows decoding after the others left
    calls_per_run: int = 0  # test calls per generation run (iterate's chunks; 0: all in one)
    more_tokens: int = 0  # tokens beyond full_tokens that seconds left at the end may buy (0: its plan is fixed)
    speed_margin: float = 0.0  # share by which its training may run slower than train_tokens_per_second:
    # extra passes are bought only with the seconds left beyond that share of the lane's planned training
    verbatim_share: float = 1.0  # share of its calls a specialist is expected to answer exactly (finetune.verbatim)

    def evidence_seconds(self, test: int, validation: int) -> float:
        """Generation seconds of `test` + `validation` evidence calls: each call's share, and each run's tail
        (validation in one run, the test calls in runs of calls_per_run)."""
        runs = (1 if validation else 0) + (-(-test // self.calls_per_run) if self.calls_per_run else int(test > 0))
        return (test + validation) * self.seconds_per_call + runs * self.seconds_per_run

    @property
    def min_tokens(self) -> int:
        """The least training admitted: one pass over the examples, at least MIN_EXAMPLE_PASSES of them."""
        return int(min(self.full_tokens, max(MIN_EXAMPLE_PASSES * self.mean_example_tokens, self.epoch_tokens)))

    def train_seconds(self, tokens: float) -> float:
        """Seconds of the first `tokens` of the plan: the first pass over the examples at the measured
        speed, the passes after it at replay_cost of that (the frozen layers ran once per example)."""
        first = min(tokens, self.epoch_tokens) if self.epoch_tokens else tokens
        return (first + (tokens - first) * self.replay_cost) / max(1e-9, self.train_tokens_per_second)

    def tokens_within(self, seconds: float) -> int:
        """The most tokens of the plan that train_seconds prices at `seconds` or less (its inverse)."""
        rate = max(1e-9, self.train_tokens_per_second)
        first = self.epoch_tokens or float("inf")
        if seconds * rate <= first:
            return int(seconds * rate)
        return int(first + (seconds * rate - first) / max(1e-9, self.replay_cost))


@dataclass
class Evidence:
    """How held-out evidence is sized: iterate's target and sample caps."""

    target: float = 0.90
    max_validation_calls: int = 500
    max_test_calls: int = 2000
    coverage: float = PLANNED_COVERAGE
    agreement: float = PLANNED_AGREEMENT

    def required(self, coverage: float, agreement: float = 1.0) -> int | None:
        from slmconvert.iterate.evidence import required_test_calls

        return required_test_calls(self.target, coverage, agreement)

    def planned(self) -> int | None:
        """The test sample planned at `coverage` for a specialist agreeing on `agreement` (iterate.evidence)."""
        from slmconvert.iterate.evidence import planned_test_calls

        return planned_test_calls(self.target, self.coverage, self.agreement)


@dataclass
class PlanEntry:
    """One cluster's share of the budget (recorded in finetune.json and read by iterate)."""

    cluster_id: int
    trained: bool
    value_rate: float  # expected value share per second to a promotion decision: the order
    train_seconds: float = 0.0
    train_tokens: int = 0
    full_tokens: int = 0
    validation_calls: int = 0
    test_calls: int = 0
    required_test_calls: int | None = None
    evidence_seconds: float = 0.0
    fixed_seconds: float = 0.0
    reason: str | None = None
    lane: int | None = None  # the training lane it is planned on (trained clusters)
    coverage: float = 0.0  # the share of its calls a specialist of the planned quality keeps (the order's)

    def to_dict(self) -> dict[str, Any]:
        out = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        return {**out, "value_rate": float(f"{self.value_rate:.4g}")}


@dataclass
class BudgetPlan:
    """The plan of one finetune run: seconds available, entries in value order, what is left."""

    seconds: float
    entries: list[PlanEntry] = field(default_factory=list)
    spare_seconds: float = 0.0
    lanes: int = 1  # trainings at once

    @property
    def planned_seconds(self) -> float:
        """Wall-clock seconds planned: the busiest lane's training, then every trained cluster's evidence."""
        trained = [e for e in self.entries if e.trained]
        busy: dict[int, float] = {}
        for e in trained:
            busy[e.lane or 0] = busy.get(e.lane or 0, 0.0) + e.train_seconds + e.fixed_seconds
        return max(busy.values(), default=0.0) + sum(e.evidence_seconds for e in trained)

    def entry(self, cluster_id: int) -> PlanEntry | None:
        return next((e for e in self.entries if e.cluster_id == cluster_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 2), "planned_seconds": round(self.planned_seconds, 2),
                "spare_seconds": round(self.spare_seconds, 2), "lanes": self.lanes,
                "entries": [e.to_dict() for e in self.entries]}


def plan_budget(needs: Sequence[ClusterNeed], seconds: float, evidence: Evidence, lanes: int = 1) -> BudgetPlan:
    """Split `seconds` among `needs`, training on `lanes` lanes at once (see the module docstring)."""
    plan = BudgetPlan(seconds=max(0.0, seconds), lanes=max(1, lanes))
    at_full = evidence.required(1.0)
    admitted: list[tuple[ClusterNeed, PlanEntry]] = []
    busy = [0.0] * plan.lanes  # training seconds planned on each lane
    held = 0.0  # evidence seconds of the admitted clusters, generated after all training
    rates = {n.cluster_id: _value_rate(n, evidence) for n in needs}
    for need in sorted(needs, key=lambda n: (-rates[n.cluster_id], n.cluster_id)):
        entry = PlanEntry(need.cluster_id, False, rates[need.cluster_id], full_tokens=need.full_tokens,
                          fixed_seconds=need.fixed_seconds, coverage=_planned_coverage(need, evidence))
        plan.entries.append(entry)
        if at_full is None or need.test_available < at_full:
            entry.reason = (f"{need.test_available} held-out test calls: even a perfect specialist needs "
                            f"{at_full} to show the {evidence.target:.2f} target, so it is not trained")
            continue
        entry.required_test_calls = at_full
        entry.test_calls, entry.validation_calls = _least_evidence(need, evidence)
        entry.evidence_seconds = need.evidence_seconds(entry.test_calls, entry.validation_calls)
        lane = min(range(plan.lanes), key=lambda k: (busy[k], k))
        training = need.fixed_seconds + need.train_seconds(need.min_tokens)
        left = plan.seconds - held - busy[lane]
        window = plan.seconds - held - entry.evidence_seconds  # each lane's training time if it is admitted
        fits = training + entry.evidence_seconds <= left
        if not fits or max(busy) > window:
            entry.reason = _left_out(need, entry, training, left, squeezes=fits)
            entry.test_calls = entry.validation_calls = 0
            entry.evidence_seconds = 0.0
            continue
        entry.trained, entry.lane = True, lane
        entry.train_tokens = need.min_tokens
        held += entry.evidence_seconds
        busy[lane] += training
        # then its full plan, before the next cluster is admitted
        room = plan.seconds - held - busy[lane]
        reach = need.tokens_within(need.train_seconds(entry.train_tokens) + room)
        tokens = min(need.full_tokens, max(entry.train_tokens, reach))
        busy[lane] += need.train_seconds(tokens) - need.train_seconds(entry.train_tokens)
        entry.train_tokens = tokens
        admitted.append((need, entry))
    left = plan.seconds - held - max(busy)
    for pool in ("test", "validation"):  # then tighter evidence with what remains
        for need, entry in admitted:
            left -= _widen(entry, need, pool, evidence, left)
    trains_until = max(busy) + left  # every lane's training ends before the evidence of all starts
    for need, entry in admitted:  # then more passes than the default plan, with a margin held back
        lane = entry.lane or 0
        held_back = sum(n.speed_margin * n.train_seconds(e.train_tokens) for n, e in admitted if (e.lane or 0) == lane)
        busy[lane] += _extend(entry, need, (trains_until - busy[lane] - held_back) / (1.0 + need.speed_margin))
    for need, entry in admitted:
        entry.train_seconds = need.train_seconds(entry.train_tokens)
    plan.spare_seconds = max(0.0, trains_until - max(busy))
    return plan


def _left_out(need: ClusterNeed, entry: PlanEntry, training: float, left: float, squeezes: bool) -> str:
    """Why a cluster's least training and evidence do not fit."""
    if squeezes:
        return (f"budget: its {entry.evidence_seconds:.0f} s of evidence would cut the training planned on another "
                f"lane for clusters that move more calls and cost per second")
    return (f"budget: needs {training + entry.evidence_seconds:.0f} s ({need.train_seconds(need.min_tokens):.0f} s of "
            f"training at {need.train_tokens_per_second:.0f} tok/s + {entry.evidence_seconds:.0f} s for "
            f"{entry.validation_calls + entry.test_calls} evidence calls + {need.fixed_seconds:.0f} s "
            f"loading), {left:.0f} s left after clusters that move more calls and cost per second")


def _widen(entry: PlanEntry, need: ClusterNeed, pool: str, evidence: Evidence, left: float) -> float:
    """Add calls of `pool` to the entry's evidence up to its caps within `left` seconds; the seconds used."""
    if pool == "test":
        room = min(need.test_available, evidence.max_test_calls) - entry.test_calls
    else:
        room = min(need.validation_available, evidence.max_validation_calls) - entry.validation_calls

    def cost(extra: int) -> float:
        test = entry.test_calls + (extra if pool == "test" else 0)
        validation = entry.validation_calls + (extra if pool == "validation" else 0)
        return need.evidence_seconds(test, validation) - entry.evidence_seconds

    extra = max(0, min(room, int(left / max(1e-9, need.seconds_per_call))))
    while extra > 0 and cost(extra) > left:  # a call that opens another generation run costs its tail too
        extra -= 1
    used = cost(extra) if extra else 0.0
    setattr(entry, f"{pool}_calls", getattr(entry, f"{pool}_calls") + extra)
    entry.evidence_seconds += used
    return used


def _extend(entry: PlanEntry, need: ClusterNeed, left: float) -> float:
    """Train a cluster planned in full up to `more_tokens` further within `left` seconds; the seconds used."""
    if not need.more_tokens or entry.train_tokens < need.full_tokens or left <= 0:
        return 0.0
    now = need.train_seconds(entry.train_tokens)
    tokens = min(need.full_tokens + need.more_tokens, need.tokens_within(now + left))
    if tokens <= entry.train_tokens:
        return 0.0
    entry.train_tokens = tokens
    return need.train_seconds(tokens) - now


def _least_evidence(need: ClusterNeed, evidence: Evidence) -> tuple[int, int]:
    """(test, validation) calls a promotion decision needs at the planned coverage, within what exists."""
    at_full = evidence.required(1.0) or 0
    required = evidence.planned() or at_full
    test = min(need.test_available, evidence.max_test_calls, max(at_full, required))
    return test, min(need.validation_available, evidence.max_validation_calls, MIN_CALIBRATION_CALLS)


def _planned_coverage(need: ClusterNeed, evidence: Evidence) -> float:
    """The share of the cluster's calls a specialist of the planned quality keeps: the planned coverage
    of the calls it can answer exactly."""
    return evidence.coverage * min(1.0, max(0.0, need.verbatim_share))


def _value_rate(need: ClusterNeed, evidence: Evidence) -> float:
    """Share of calls and cost the cluster is expected to move (its value share x the share a specialist
    of the planned quality keeps x the chance that it passes on its least test sample) per second the
    plan spends to decide its promotion: loading, its full training plan (an admitted cluster gets it
    before the next is admitted) and its least evidence."""
    from slmconvert.iterate.evidence import planned_pass_chance

    test, validation = _least_evidence(need, evidence)
    coverage = _planned_coverage(need, evidence)
    chance = max(MIN_CHANCE, planned_pass_chance(test, evidence.target, coverage, evidence.agreement))
    seconds = (need.fixed_seconds + need.train_seconds(max(1, need.full_tokens))
               + need.evidence_seconds(test, validation))
    return need.value_share * max(MIN_CHANCE, coverage) * chance / max(1e-9, seconds)
