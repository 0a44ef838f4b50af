"""The evaluation harness shared by select, finetune and iterate: render -> generate -> parse -> score.

    from slmconvert.evaluation import EvalExample, evaluate
    examples = [EvalExample.from_record(r) for r in curated_rows]
    result = evaluate(loaded.model, loaded.tokenizer, examples, fmt, max_new_tokens=128)
    result.metrics["function_name_and_args_accuracy"].low   # Wilson lower bound
    result.primary                                            # the output type's primary metric
    result.rows[0]["prediction"]                              # assistant message, record shape

`score_outputs` scores texts produced elsewhere (e.g. by a served adapter) the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slmconvert.artifacts.curated import conversation
from slmconvert.evaluation.generation import GenerationRun, generate
from slmconvert.evaluation.metrics import (
    MetricSummary,
    add_cosine,
    aggregate,
    dominant_output_type,
    output_type,
    primary_metric,
    score_example,
)
from slmconvert.models.embedder import Embedder
from slmconvert.models.prompt import PromptFormat, parse_completion, record_output, render_prompt


@dataclass
class EvalExample:
    """One call to evaluate: the prompt side and the LLM's logged output (the reference)."""

    example_id: str
    messages: list[dict[str, Any]]
    reference: dict[str, Any]
    tools: list[dict[str, Any]] = field(default_factory=list)
    response_format: Any = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> EvalExample:
        """From a curated or a collected record (slmconvert.artifacts.curated)."""
        return cls(
            example_id=str(record.get("call_id", "")),
            messages=conversation(record),
            reference=record_output(record),
            tools=list(record.get("tools") or []),
            response_format=record.get("response_format"),
        )

    @property
    def output_type(self) -> str:
        return output_type(self.reference, self.response_format)

    def prompt(self, tokenizer: Any, fmt: PromptFormat) -> str:
        return render_prompt(self.messages, self.tools, tokenizer, fmt, response_format=self.response_format)


@dataclass
class EvaluationResult:
    """Per-example rows, aggregated metrics with intervals, and the generation timing."""

    rows: list[dict[str, Any]]
    metrics: dict[str, MetricSummary]
    output_type: str
    primary_metric: str
    timing: dict[str, Any]

    @property
    def primary(self) -> MetricSummary:
        return self.metrics[self.primary_metric]

    def metrics_dict(self) -> dict[str, dict[str, Any]]:
        """Applicable metrics only (n > 0), JSON-able."""
        return {name: m.to_dict() for name, m in self.metrics.items() if m.n > 0}

    def to_dict(self) -> dict[str, Any]:
        return {
            "output_type": self.output_type,
            "primary_metric": self.primary_metric,
            "metrics": self.metrics_dict(),
            "timing": self.timing,
            "rows": self.rows,
        }


def score_outputs(
    examples: Sequence[EvalExample],
    texts: Sequence[str],
    fmt: PromptFormat,
    *,
    embedder: Embedder | None = None,
    output_type_hint: str | None = None,
    seed: int = 0,
) -> tuple[list[dict[str, Any]], dict[str, MetricSummary], str]:
    """Parse and score generated texts; returns (rows, metrics, output type)."""
    if len(examples) != len(texts):
        raise ValueError("examples and texts differ in length")
    rows, predicted, references = [], [], []
    for example, text in zip(examples, texts):
        parsed = parse_completion(text, fmt)
        scores = score_example(parsed, example.reference, tools=example.tools, response_format=example.response_format)
        rows.append({
            "example_id": example.example_id,
            "output_type": example.output_type,
            "text": text,
            "prediction": parsed.to_message(),
            "parse_error": parsed.error,
            **scores,
        })
        predicted.append(parsed.content)
        references.append(example.reference.get("content"))
    if embedder is not None:
        add_cosine(rows, predicted, references, embedder)
    kind = output_type_hint or dominant_output_type([row["output_type"] for row in rows])
    return rows, aggregate(rows, seed=seed), kind


def evaluate(
    model: Any,
    tokenizer: Any,
    examples: Sequence[EvalExample],
    fmt: PromptFormat,
    *,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    embedder: Embedder | None = None,
    output_type_hint: str | None = None,
    logprobs: bool = False,
    progress: Callable[[int], None] | None = None,
    prompts: Sequence[str] | None = None,
    seed: int = 0,
    warmup: bool = True,
) -> EvaluationResult:
    """Generate for every example and score against its reference.

    prompts: pre-rendered prompts (e.g. with few-shot turns); default renders each example with `fmt`.
    warmup: run the untimed warm-up call first (needed once per loaded model, not per evaluation).
    """
    texts = list(prompts) if prompts is not None else [ex.prompt(tokenizer, fmt) for ex in examples]
    run: GenerationRun = generate(
        model, tokenizer, texts, max_new_tokens=max_new_tokens, batch_size=batch_size,
        logprobs=logprobs, progress=progress, warmup=warmup,
    )
    return evaluation_of(examples, run, fmt, embedder=embedder, output_type_hint=output_type_hint,
                         logprobs=logprobs, seed=seed)


def evaluation_of(
    examples: Sequence[EvalExample],
    run: GenerationRun,
    fmt: PromptFormat,
    *,
    embedder: Embedder | None = None,
    output_type_hint: str | None = None,
    logprobs: bool = False,
    seed: int = 0,
) -> EvaluationResult:
    """A generation run's answers (one per example, in order) scored against the references."""
    rows, metrics, kind = score_outputs(
        examples, [r.text for r in run.results], fmt, embedder=embedder, output_type_hint=output_type_hint, seed=seed
    )
    for row, result in zip(rows, run.results):
        row.update({
            "prompt_tokens": result.prompt_tokens,
            "new_tokens": result.new_tokens,
            "stopped": result.stopped,
            "truncated_prompt": result.truncated_prompt,
            "batch_seconds": round(result.batch_seconds, 4),
        })
        if logprobs:
            row["token_logprobs"] = result.token_logprobs
    return EvaluationResult(rows, metrics, kind, primary_metric(kind), run.timing())
