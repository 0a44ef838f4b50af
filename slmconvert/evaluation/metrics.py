"""Task metrics of a model's outputs against the LLM's logged outputs (the reference).

Per-example values carry the same names as the aggregated metrics (None = not applicable):

| metric | kind | applies to | 1 / score when |
|---|---|---|---|
| parse_rate | rate | every example | the output parses (`parse_completion(...).parse_ok`) |
| schema_valid | rate | outputs with tool calls; JSON outputs under a json_schema response format | every call names an offered tool and its arguments validate (jsonschema); or the JSON validates |
| decision_accuracy | rate | tools offered or reference calls tools | the output calls tools iff the reference does |
| function_name_accuracy | rate | tools offered or reference calls tools | same multiset of function names (an answer in text when the reference answers in text counts as correct) |
| function_name_and_args_accuracy | rate | as above | BFCL-style AST match of all calls (see `matching`), text-for-text likewise correct |
| field_f1 | mean | JSON references | F1 over (path, value) leaves; 0 when the output is not JSON |
| json_exact_match | rate | JSON references | equal JSON after leaf normalisation |
| exact_match | rate | text references | equal after case and whitespace folding |
| rouge_l | mean | text references | ROUGE-L F-measure |
| cosine | mean | text references (when an embedder is given) | cosine of all-MiniLM-L6-v2 embeddings |
| strict_agreement | rate | every example | same tool calls (names, canonical arguments, parallel calls as a multiset); same JSON after canonicalisation; same text after trimming outer whitespace (see `matching.canonical`) |

Rates get Wilson 95% intervals, means a seeded bootstrap (see `stats`).

One primary metric per output type (what promotion and model choice look at):
tool_call -> function_name_and_args_accuracy (strict, and a rate over the whole cluster);
json -> field_f1 (partial credit per field, robust to key order);
text -> rouge_l (deterministic and cheap; cosine is reported beside it).
Promotion and the router's replay count `strict_agreement` (AGREEMENT_METRIC) whatever the type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from slmconvert.evaluation import matching
from slmconvert.evaluation.stats import MetricSummary, summarize_mean, summarize_rate
from slmconvert.evaluation.text import rouge_l
from slmconvert.models.embedder import Embedder, pairwise_cosine
from slmconvert.models.prompt import ParsedOutput

OutputType = Literal["tool_call", "json", "text"]

RATE_METRICS = (
    "parse_rate", "schema_valid", "decision_accuracy", "function_name_accuracy",
    "function_name_and_args_accuracy", "json_exact_match", "exact_match", "strict_agreement",
)
MEAN_METRICS = ("field_f1", "rouge_l", "cosine")
METRICS = RATE_METRICS + MEAN_METRICS
PRIMARY_METRIC: dict[str, str] = {
    "tool_call": "function_name_and_args_accuracy",
    "json": "field_f1",
    "text": "rouge_l",
}
AGREEMENT_METRIC = "strict_agreement"


def primary_metric(output_type: str) -> str:
    """The metric that decides model choice and promotion for an output type."""
    return PRIMARY_METRIC.get(output_type, PRIMARY_METRIC["text"])


def reference_calls(output: dict[str, Any]) -> list[dict[str, Any]]:
    """Tool calls of a logged assistant message as {name, arguments} dicts."""
    calls = []
    for call in output.get("tool_calls") or []:
        fn = call.get("function", call)
        arguments = fn.get("arguments")
        if isinstance(arguments, str):
            arguments, ok = matching.extract_json(arguments)
            arguments = arguments if ok and isinstance(arguments, dict) else {}
        calls.append({"name": fn.get("name"), "arguments": arguments or {}})
    return calls


def output_type(output: dict[str, Any], response_format: Any = None) -> OutputType:
    """tool_call when the reference calls tools; json for a JSON response format or JSON
    object/array content; else text."""
    if output.get("tool_calls"):
        return "tool_call"
    if isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema"):
        return "json"
    content = (output.get("content") or "").strip()
    if content[:1] in ("{", "[") or content.startswith("```"):
        value, ok = matching.extract_json(content)
        if ok and isinstance(value, (dict, list)):
            return "json"
    return "text"


def score_example(
    parsed: ParsedOutput,
    reference: dict[str, Any],
    *,
    tools: list[dict[str, Any]] | None = None,
    response_format: Any = None,
) -> dict[str, float | None]:
    """Per-example metric values (cosine is filled in batches by `add_cosine`)."""
    tools = tools or []
    kind = output_type(reference, response_format)
    ref_calls = reference_calls(reference)
    scores: dict[str, float | None] = dict.fromkeys(METRICS)
    scores["parse_rate"] = float(parsed.parse_ok)
    scores["strict_agreement"] = float(strictly_agrees(parsed, reference, kind, ref_calls))
    if parsed.tool_calls:
        scores["schema_valid"] = float(not matching.validate_tool_calls(parsed.tool_calls, tools))
    if tools or ref_calls:
        pred_calls = parsed.tool_calls if parsed.parse_ok else []
        decided = bool(pred_calls) == bool(ref_calls)
        scores["decision_accuracy"] = float(decided)
        if ref_calls:
            scores["function_name_accuracy"] = float(matching.names_match(pred_calls, ref_calls))
            scores["function_name_and_args_accuracy"] = float(matching.calls_match(pred_calls, ref_calls, tools))
        else:
            scores["function_name_accuracy"] = scores["function_name_and_args_accuracy"] = float(decided)
    if kind == "json":
        ref_value, _ = matching.extract_json(reference.get("content"))
        value, ok = matching.extract_json(parsed.content) if not parsed.tool_calls else (None, False)
        scores["field_f1"] = matching.field_f1(value, ref_value) if ok else 0.0
        scores["json_exact_match"] = float(ok and matching.json_equal(value, ref_value))
        schema = matching.response_schema(response_format)
        if schema is not None and not parsed.tool_calls:
            scores["schema_valid"] = float(ok and not matching.schema_errors(value, schema))
    elif kind == "text":
        predicted = parsed.content or ""
        scores["exact_match"] = float(_fold(predicted) == _fold(reference.get("content")))
        scores["rouge_l"] = rouge_l(predicted, reference.get("content"))
    return scores


def strictly_agrees(parsed: ParsedOutput, reference: dict[str, Any], kind: str,
                    ref_calls: list[dict[str, Any]]) -> bool:
    """The 0/1 agreement promotion counts: tool calls, JSON or text equal to the LLM's (strict)."""
    if not parsed.parse_ok:
        return False
    if ref_calls or parsed.tool_calls:
        return bool(ref_calls) and matching.calls_equal_strict(parsed.tool_calls, ref_calls)
    if kind == "json":
        ref_value, ref_ok = matching.extract_json(reference.get("content"))
        value, ok = matching.extract_json(parsed.content)
        return ok and ref_ok and matching.canonical_json(value) == matching.canonical_json(ref_value)
    return agreement_text(parsed.content) == agreement_text(reference.get("content"))


def agreement_text(content: str | None) -> str:
    """A text answer as strict agreement compares it: outer whitespace trimmed, nothing else."""
    return (content or "").strip()


def _fold(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def add_cosine(
    rows: list[dict[str, Any]], predicted: Sequence[str | None], references: Sequence[str | None], embedder: Embedder
) -> None:
    """Fill `cosine` on rows whose `rouge_l` applies (text references), in one embedding batch."""
    targets = [i for i, row in enumerate(rows) if row.get("rouge_l") is not None]
    if not targets:
        return
    sims = pairwise_cosine(embedder, [predicted[i] or "" for i in targets], [references[i] or "" for i in targets])
    for index, value in zip(targets, sims):
        rows[index]["cosine"] = value


def aggregate(rows: Sequence[dict[str, Any]], seed: int = 0) -> dict[str, MetricSummary]:
    """Every metric over the rows where it applies, with its 95% interval."""
    summary = {name: summarize_rate([row.get(name) for row in rows]) for name in RATE_METRICS}
    summary.update({name: summarize_mean([row.get(name) for row in rows], seed=seed) for name in MEAN_METRICS})
    return summary


def dominant_output_type(types: Sequence[str]) -> OutputType:
    """The most common output type (ties: tool_call > json > text, the stricter metric)."""
    order = ("tool_call", "json", "text")
    return max(order, key=lambda t: (sum(1 for x in types if x == t), -order.index(t)))  # type: ignore[return-value]
