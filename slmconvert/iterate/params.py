"""Parameters of the iterate stage: promotion, evaluation budget, escalation, economics, weekly loop."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from slmconvert.params import StageParams, seed_field

ConfidenceMeasure = Literal["auto", "tool_span_mean_logprob", "mean_logprob", "min_logprob", "none"]


class IterateParams(StageParams):
    """What it takes for a cluster to move to its SLM, how that is measured, priced and re-checked."""

    # -- promotion -----------------------------------------------------------------------------
    promotion_target: float = Field(
        0.90, ge=0.0, le=1.0,
        description="A cluster moves to its SLM (at a confidence threshold) only if the agreement of the "
        "held-out test calls its SLM keeps has a Wilson 95% lower bound (corrected for the candidate "
        "thresholds checked) of at least this value.",
    )
    promotion_metric: str | None = Field(
        None, description="Per-call agreement to promote on where it applies (e.g. rouge_l for free-text "
        "clusters, which strict equality cannot reach); null or not applicable = strict_agreement (same tool "
        "calls and canonical arguments, same canonical JSON, same trimmed text as the LLM's logged output).",
    )
    threshold_levels: list[float] = Field(
        [0.95, 1.0], min_length=1,
        description="Validation agreement levels that define the candidate confidence thresholds of a cluster "
        "(each: the lowest threshold whose kept validation calls agree at least this often); the loosest one "
        "that passes the test-sample check is used.",
    )
    # -- evaluation budget ---------------------------------------------------------------------
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where the specialists are evaluated.")
    max_test_calls_cpu: int = Field(
        120, ge=1, description="Test calls per trained cluster evaluated with the adapter on CPU (seeded "
        "sample, evaluated in full: never cut by a timer). Promotion needs at least 35 kept calls at the "
        "default target (iterate.evidence.required_test_calls).",
    )
    max_test_calls_gpu: int = Field(2000, ge=1, description="The same cap on a CUDA GPU.")
    max_base_calls_cpu: int = Field(
        8, ge=0, description="Test calls per cluster evaluated with the base model zero-shot on CPU "
        "(the side-by-side baseline; 0 skips it).",
    )
    max_base_calls_gpu: int = Field(500, ge=0, description="The same cap on a CUDA GPU.")
    max_base_prompt_tokens_cpu: int = Field(
        2048, ge=0, description="On CPU, the base-model baseline is skipped for clusters whose full prompts are "
        "longer than this (estimated from their characters; prefilling one takes minutes there; 0 = no limit).",
    )
    max_calibration_calls_cpu: int = Field(
        32, ge=0, description="Validation calls per trained cluster generated on CPU to choose its confidence "
        "signal and candidate thresholds (0: no validation; a cluster can then only be promoted whole, without a threshold).",
    )
    max_calibration_calls_gpu: int = Field(500, ge=0, description="The same cap on a CUDA GPU.")
    max_eval_seconds_cpu: float = Field(
        150.0, ge=0.0, description="Generation time budget for the base-model baseline on CPU, in seconds "
        "(0 = none). The specialists' validation and test samples are never cut by it.",
    )
    max_eval_seconds_gpu: float = Field(0.0, ge=0.0, description="The same budget on a CUDA GPU (0 = none).")
    stop_when_decided: bool = Field(
        True, description="Stop evaluating a cluster's test sample as soon as no candidate threshold could pass "
        "even if every remaining call were kept and agreed (the metrics then cover the calls evaluated).",
    )
    batch_size: int = Field(8, ge=1, description="Prompts generated together.")
    eval_chunk_cpu: int = Field(
        4, ge=1, description="Calls generated between two checks of the time budget and of the early stop on "
        "CPU (smaller = less overshoot and earlier stops, larger = better batching).",
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
    max_drift_calls_cpu: int = Field(
        16, ge=0, description="New calls per promoted cluster replayed on CPU to measure escalation and "
        "agreement drift (0 skips the replay).",
    )
    max_drift_calls_gpu: int = Field(500, ge=0, description="The same cap on a CUDA GPU.")

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

    def cap(self, name: str, device: str) -> int:
        """A per-device sample cap, e.g. cap("test", "cpu") -> max_test_calls_cpu."""
        suffix = "gpu" if device == "cuda" else "cpu"
        field = {"test": "max_test_calls", "base": "max_base_calls",
                 "calibration": "max_calibration_calls", "drift": "max_drift_calls"}[name]
        return int(getattr(self, f"{field}_{suffix}"))

    def chunk(self, device: str) -> int:
        """Calls per generation chunk: the batch size on GPU, at most eval_chunk_cpu on CPU."""
        return self.batch_size if device == "cuda" else min(self.batch_size, self.eval_chunk_cpu)

    def eval_seconds(self, device: str) -> float | None:
        """The evaluation time budget on this device (None = unlimited)."""
        value = self.max_eval_seconds_gpu if device == "cuda" else self.max_eval_seconds_cpu
        return float(value) or None
