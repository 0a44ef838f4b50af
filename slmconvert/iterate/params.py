"""Parameters of the iterate stage: promotion, evaluation budget, escalation, economics, weekly loop."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from slmconvert.engine.params import EngineParams
from slmconvert.iterate.plan import CHUNK_BATCHES
from slmconvert.params import seed_field
from slmconvert.util.budget import check_budget

ConfidenceMeasure = Literal["auto", "tool_span_mean_logprob", "mean_logprob", "min_logprob", "none"]


class IterateParams(EngineParams):
    """What it takes for a cluster to move to its SLM, how that is measured, priced and re-checked."""

    # -- promotion -----------------------------------------------------------------------------
    promotion_target: float = Field(
        0.90, ge=0.0, le=1.0,
        description="A cluster moves to its SLM (at a confidence threshold) only if the agreement of the "
        "held-out test calls its SLM keeps has a Wilson 95% lower bound of at least this value (candidate "
        "thresholds are tested strictest first, each only after every stricter one passed).",
    )
    promotion_metric: str | None = Field(
        None, description="Per-call agreement to promote on where it applies (e.g. rouge_l for free-text "
        "clusters, which strict equality cannot reach); null or not applicable = strict_agreement (same tool "
        "calls and canonical arguments, same canonical JSON, same trimmed text as the LLM's logged output).",
    )
    threshold_levels: list[float] = Field(
        [0.95, 1.0], min_length=1,
        description="Validation agreement levels that define the candidate confidence thresholds of a cluster "
        "(each: the lowest threshold whose kept validation calls agree at least this often), with rungs keeping "
        "70/80/90% of the validation calls where those agree at the lowest level; test checks them strictest "
        "first (from the first with even odds to pass) and stops at the first that fails; the loosest that "
        "passed is used.",
    )
    # -- evaluation budget ---------------------------------------------------------------------
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where the specialists are evaluated.")
    budget: str = Field(
        "15m",
        description="Wall-clock budget (e.g. 90s, 15m, 2h) of an iterate run started alone; under run-all the run's "
        "deadline applies. The specialists' evidence is what finetune's budget plan reserved (never cut); the "
        "base-model baseline uses what is left.",
    )
    max_test_calls: int = Field(
        2000, ge=1, description="Upper bound on test calls per trained cluster (seeded sample, evaluated in full: "
        "never cut by a timer). finetune's budget plan sizes each cluster's sample within it: at least the "
        "calls its promotion needs (iterate.evidence.required_test_calls), more when time allows.",
    )
    max_base_calls: int = Field(
        500, ge=0, description="Upper bound on test calls per cluster evaluated with the base model zero-shot "
        "(the side-by-side baseline, run with what is left of the budget; 0 skips it).",
    )
    max_base_prompt_tokens: int = Field(
        2048, ge=0, description="The base-model baseline is skipped for clusters whose full prompts are "
        "longer than this (estimated from their characters; 0 = no limit).",
    )
    max_calibration_calls: int = Field(
        500, ge=0, description="Upper bound on validation calls per trained cluster generated to choose its "
        "confidence signal and candidate thresholds; the budget plan reserves up to 64 before training and "
        "more when time allows (0: no validation; a cluster can then only be promoted whole).",
    )
    stop_when_decided: bool = Field(
        True, description="Stop evaluating a cluster's test sample as soon as no candidate threshold could pass "
        "even if every remaining call were kept and agreed (the metrics then cover the calls evaluated).",
    )
    batch_size: int = Field(16, ge=1, description="Prompts generated together.")
    constrain_tool_calls: bool = Field(
        True, description="Decode SLM tool calls against each request's own tools (names and argument "
        "JSON Schema, llguidance): every tool call parses and validates. Off: free decoding.",
    )
    eval_chunk: int | None = Field(
        None, ge=1, description="Calls generated between two checks of the early stop and the time left "
        "(smaller = earlier stops, larger = better batching: a chunk is sorted into batches of alike answer "
        "lengths); default: three batches.",
    )
    max_new_tokens: int = Field(
        256, ge=8, description="Upper bound on generated tokens; each cluster uses less when its logged "
        "outputs are shorter (p99 of reference length + 16).",
    )
    seed: int = seed_field("Seed for the test/validation samples")
    # -- serve-time escalation -----------------------------------------------------------------
    escalate_on_parse_error: bool = Field(True, description="Escalate to the LLM when the SLM output does not parse.")
    escalate_on_unknown_tool: bool = Field(True, description="Escalate when the SLM calls a tool the request did not offer.")
    escalate_on_schema_error: bool = Field(
        True, description="Escalate when tool arguments (or a JSON answer to a json_schema response format) "
        "fail the schema.",
    )
    confidence_measure: ConfidenceMeasure = Field(
        "auto",
        description="SLM confidence signal: auto = per cluster, the one with the best AUROC against strict "
        "agreement on validation calls; or the mean token log-probability over the tool-call span (whole "
        "output when there is no tool call), over the whole output, its minimum; none = no confidence "
        "escalation (a cluster is kept whole or not at all).",
    )
    # -- economics -----------------------------------------------------------------------------
    slm_input_price_per_1m: float = Field(
        0.03, ge=0.0, description="SLM serving cost in USD per 1M prompt tokens (self-hosted estimate).",
    )
    slm_output_price_per_1m: float = Field(
        0.06, ge=0.0, description="SLM serving cost in USD per 1M generated tokens.",
    )
    # -- weekly loop ---------------------------------------------------------------------------
    drift_threshold: float = Field(
        0.15, ge=0.0, le=1.0,
        description="Re-cluster when the share of new calls outside every cluster exceeds the held-out "
        "baseline by more than this, or the cluster mix moved by more than this (total variation).",
    )
    retrain_growth: float = Field(
        0.25, ge=0.0, description="Retrain a cluster when its calls grew by at least this fraction.",
    )
    retrain_quality_drop: float = Field(
        0.05, ge=0.0, le=1.0,
        description="Retrain a cluster when its agreement with the LLM on new calls fell by more than this.",
    )
    max_drift_calls: int = Field(
        500, ge=0, description="Upper bound on new calls per promoted cluster replayed to measure escalation "
        "and agreement drift; the replay stops when a tenth of the budget is spent (0 skips it).",
    )

    @field_validator("budget", mode="before")
    @classmethod
    def _duration(cls, value: object) -> str:
        return check_budget(value)

    @field_validator("threshold_levels")
    @classmethod
    def _levels(cls, value: list[float]) -> list[float]:
        if any(not 0.0 <= v <= 1.0 for v in value):
            raise ValueError("threshold levels are agreement shares between 0 and 1")
        return sorted(set(value))

    @field_validator("promotion_metric")
    @classmethod
    def _known_metric(cls, value: str | None) -> str | None:
        """A misspelt metric would silently promote nothing: refuse it up front."""
        from slmconvert.evaluation.metrics import METRICS

        if value is not None and value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; one of: {', '.join(METRICS)}")
        return value

    def cap(self, name: str) -> int:
        """An upper bound on a per-cluster sample, e.g. cap("test") -> max_test_calls (the budget plan
        decides how much of it a run uses)."""
        field = {"test": "max_test_calls", "base": "max_base_calls",
                 "calibration": "max_calibration_calls", "drift": "max_drift_calls"}[name]
        return int(getattr(self, field))

    def chunk(self) -> int:
        """Calls per generation chunk: eval_chunk, else CHUNK_BATCHES batches."""
        return self.eval_chunk or CHUNK_BATCHES * self.batch_size
