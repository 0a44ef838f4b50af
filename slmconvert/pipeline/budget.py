"""run-all's wall-clock budget: one deadline for the whole run, handed to every stage that plans
with it (select gates candidates, finetune plans training and evidence, iterate evaluates in the
reserved time). Stages before them take what they take (measured as they run); each planning
stage re-plans at its boundary with what is left.

The budget itself is a param of select, finetune and iterate (so it enters their fingerprints, and
a stage run alone behaves as under run-all); run-all sets one value on all three.
"""

from __future__ import annotations

from typing import Any

from slmconvert.errors import UsageError
from slmconvert.params import StageParams
from slmconvert.util.budget import DEFAULT_BUDGET, Deadline, format_duration, parse_duration

BUDGETED = ("select", "finetune", "iterate")


def run_budget(params: dict[str, StageParams], budget: str | None) -> str:
    """The run's budget: --budget, else the first of iterate.budget, finetune.budget, select.budget that a
    config or --set changed from the default (pipelines/weekly.yaml sets iterate's), else the default."""
    if budget is not None:
        return str(budget)
    for stage in ("iterate", "finetune", "select"):
        value = str(getattr(params[stage], "budget", DEFAULT_BUDGET))
        if value != DEFAULT_BUDGET:
            return value
    return DEFAULT_BUDGET


def apply_budget(params: dict[str, StageParams], budget: str) -> dict[str, StageParams]:
    """Every budgeted stage's params with the run's budget (a bad budget is a usage error)."""
    try:
        parse_duration(budget)
    except ValueError as exc:
        raise UsageError(f"--budget: {exc}", hint="e.g. --budget 15m, 90s, 2h or 3h30m") from None
    return {stage: (p.model_copy(update={"budget": budget}) if stage in BUDGETED else p) for stage, p in params.items()}


def evidence_settings(iterate: StageParams) -> dict[str, Any]:
    """What finetune's plan needs to know of iterate's evidence (target, caps)."""
    return {"target": float(iterate.promotion_target),
            "max_validation_calls": int(iterate.max_calibration_calls),
            "max_test_calls": int(iterate.max_test_calls)}


def evidence_from_config(config_path: Any, sets: list[str] | None, stage: str) -> dict[str, Any]:
    """iterate's evidence settings from the same --config / --set a stage command was given (so
    `slmconvert finetune` run alone reserves the evidence `slmconvert iterate` will measure)."""
    from slmconvert.config import apply_sets, build_params, load_config_file

    config = load_config_file(config_path)
    apply_sets(config, sets or [], default_stage=stage)
    return evidence_settings(build_params("iterate", config.get("iterate", {})))


def budget_extra(stage: str, extra: dict[str, Any] | None, deadline: Deadline,
                 params: dict[str, StageParams]) -> dict[str, Any]:
    """A stage's extra inputs with the run's deadline (and, for select and finetune, iterate's evidence settings)."""
    out = dict(extra or {})
    if stage in BUDGETED:
        out["deadline"] = deadline.at
    if stage in ("select", "finetune"):
        out["evidence"] = evidence_settings(params["iterate"])
    return out


def describe(budget: str, cached: list[Any], from_stage: str | None = None) -> dict[str, Any]:
    """The budget plan as a dry run can state it before anything runs."""
    seconds = parse_duration(budget)
    speeds = [{"model": t.model, "lora_layers": t.lora_layers, "machine": t.machine,
               "train_tokens_per_second": t.train_tokens_per_second,
               "prefill_tokens_per_second": t.prefill_tokens_per_second,
               "decode_tokens_per_second": t.decode_tokens_per_second} for t in cached]
    return {
        "budget": budget,
        "seconds": seconds,
        "measured": bool(cached),
        "throughput": speeds,
        "stages": [
            {"stage": "collect, curate, cluster", "share": "what they take, measured as they run"},
            {"stage": "select", "share": "candidates gated on measured throughput: can one train and answer its "
                                         "evidence within what is left?"},
            {"stage": "finetune", "share": "what is left minus iterate's reserve (max 20 s, 5%): per cluster, most "
                                           "calls and cost moved per second to a decision first, at least one pass "
                                           "over its examples, evidence reserved before training time is handed out"},
            {"stage": "iterate", "share": "the evidence finetune reserved (never cut), then the base-model baseline "
                                          "with what is left"},
        ],
        "note": ("speeds measured earlier on this machine (cached)" if cached else
                 "estimates only: the throughput probe has not run on this machine yet; finetune runs it first "
                 f"(a few seconds per base model) and plans the {format_duration(seconds)} from it"),
        "from": from_stage,
    }
