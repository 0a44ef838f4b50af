"""Evaluation harness shared by select, finetune and iterate: task metrics with 95% intervals
against the LLM's logged outputs, and batched generation with honest timing.

Public API (stable; import from here):
    EvalExample, EvaluationResult, evaluate, score_outputs        (harness)
    generate, GenerationRun, GenerationResult                       (batched generation)
    score_example, aggregate, output_type, primary_metric, PRIMARY_METRIC, METRICS,
    reference_calls, add_cosine                                     (metrics; definitions in metrics.py)
    MetricSummary, wilson_interval, bootstrap_interval              (statistics)
    calls_match, validate_tool_calls, schema_errors, field_f1, extract_json   (matching)
    rouge_l                                                         (free text; embeddings: models.embedder)
"""

from slmconvert.evaluation.generation import GenerationResult, GenerationRun, generate
from slmconvert.evaluation.harness import EvalExample, EvaluationResult, evaluate, score_outputs
from slmconvert.evaluation.matching import (
    calls_match,
    extract_json,
    field_f1,
    schema_errors,
    validate_tool_calls,
)
from slmconvert.evaluation.metrics import (
    METRICS,
    PRIMARY_METRIC,
    add_cosine,
    aggregate,
    output_type,
    primary_metric,
    reference_calls,
    score_example,
)
from slmconvert.evaluation.stats import MetricSummary, bootstrap_interval, wilson_interval
from slmconvert.evaluation.text import rouge_l

__all__ = [
    "METRICS", "PRIMARY_METRIC", "EvalExample", "EvaluationResult", "GenerationResult",
    "GenerationRun", "MetricSummary", "add_cosine", "aggregate", "bootstrap_interval", "calls_match",
    "evaluate", "extract_json", "field_f1", "generate", "output_type", "primary_metric",
    "reference_calls", "rouge_l", "schema_errors", "score_example", "score_outputs",
    "validate_tool_calls", "wilson_interval",
]
