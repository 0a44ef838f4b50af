"""run-all: the six stages in order with the skip-unchanged rule, `--from`, `--force`, one wall-clock
budget (see pipeline.budget), and a dry run that says, per stage, whether it would run and why (by
comparing fingerprints with what exists) and how the budget would be split."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

from rich.console import Console

from slmconvert import __version__
from slmconvert.errors import UsageError
from slmconvert.params import StageParams
from slmconvert.pipeline.budget import budget_extra, run_budget
from slmconvert.pipeline.isolation import execute
from slmconvert.stages.runner import (
    StageOutcome,
    derived_inputs,
    fingerprint,
    fingerprint_extra,
    load_stage,
    run_device,
)
from slmconvert.util.budget import Deadline, parse_duration
from slmconvert.util.memory import release_memory
from slmconvert.util.source import package_digest
from slmconvert.workspace import STAGES, Artifact, Workspace


@dataclass
class StepPlan:
    """What run-all would do with one stage."""

    stage: str
    action: str  # "run" | "skip" | "not run (before --from)"
    reason: str
    reuse: str | None = None  # the version that would be reused

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stage_extras(paths: list[str], candidates: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Per-stage extra inputs for a plain run-all."""
    extras: dict[str, dict[str, Any]] = {stage: {} for stage in STAGES}
    extras["collect"] = {"paths": list(paths)}
    if candidates:
        extras["select"] = {"candidates": list(candidates)}
    return extras


def _why_changed(latest: Artifact | None, params: StageParams, inputs: dict[str, Artifact], extra_fp: Any) -> str:
    if latest is None:
        return "no version yet"
    manifest = latest.manifest
    if manifest.get("slmconvert_version") != __version__:
        return f"slmconvert version changed ({manifest.get('slmconvert_version')} -> {__version__})"
    if manifest.get("code") != package_digest():
        return "slmconvert's code changed since that version was built"
    if manifest.get("device") != run_device(params):
        return f"device changed ({manifest.get('device')} -> {run_device(params)})"
    old_params, new_params = manifest.get("params", {}), params.model_dump(mode="json")
    changed = sorted(k for k in set(old_params) | set(new_params) if old_params.get(k) != new_params.get(k))
    if changed:
        return "params changed: " + ", ".join(changed)
    old_inputs = manifest.get("inputs", {})
    for name, artifact in sorted(inputs.items()):
        if (old_inputs.get(name) or {}).get("version") != artifact.version:
            return f"input {name} is now {artifact.version} (was {(old_inputs.get(name) or {}).get('version')})"
    if manifest.get("extra_inputs") != extra_fp:
        return "input files or extra inputs changed"
    return "inputs differ from every existing version"


def check_from(from_stage: str | None, pins: dict[str, str] | None = None) -> int:
    """Index of the first stage to run (UsageError for an unknown name, or for a pin on a stage that
    run-all rebuilds: its new version would be ignored)."""
    start = 0
    if from_stage is not None:
        if from_stage not in STAGES:
            raise UsageError(f"--from {from_stage!r} is not a stage", hint=f"stages: {', '.join(STAGES)}")
        start = STAGES.index(from_stage)
    rebuilt = sorted((pins or {}).keys() & set(STAGES[start:]), key=STAGES.index)
    if rebuilt:
        raise UsageError(
            f"--input pins {', '.join(rebuilt)}, which this run-all rebuilds",
            hint="pin only stages before --from (e.g. --from curate --input collect@VERSION)",
        )
    return start


def _pins_for(module: ModuleType, pins: dict[str, str]) -> dict[str, str]:
    return {up: version for up, version in pins.items() if up in module.UPSTREAM}


def plan(
    workspace: Workspace,
    params: dict[str, StageParams],
    extras: dict[str, dict[str, Any]],
    from_stage: str | None = None,
    force: bool = False,
    pins: dict[str, str] | None = None,
) -> list[StepPlan]:
    """What run-all would run and why, without running anything."""
    pins = pins or {}
    start = check_from(from_stage, pins)
    steps: list[StepPlan] = []
    produced: dict[str, Artifact | None] = {}  # None = would be rebuilt (unknown yet)
    for index, stage in enumerate(STAGES):
        module = load_stage(stage)
        if index < start:
            used = pins.get(stage) or workspace.latest_version(stage)
            produced[stage] = workspace.artifact(stage, used) if used else None
            how = "pinned" if stage in pins else "uses LATEST"
            steps.append(StepPlan(stage, "not run (before --from)", f"{how} {used or '(none)'}", used))
            continue
        pending = [up for up in module.UPSTREAM if produced.get(up) is None]
        if pending:
            steps.append(StepPlan(stage, "run", f"upstream {', '.join(pending)} will be (re)built"))
            produced[stage] = None
            continue
        inputs = {up: produced[up] for up in module.UPSTREAM}  # type: ignore[misc]
        inputs.update(derived_inputs(module, workspace, inputs))  # type: ignore[arg-type]
        if force:
            steps.append(StepPlan(stage, "run", "--force"))
            produced[stage] = None
            continue
        # as run_all hands them over (the deadline stays out of fingerprints, iterate's evidence does not)
        extra_fp = fingerprint_extra(module, budget_extra(stage, extras.get(stage, {}), Deadline(0.0), params))
        fp = fingerprint(stage, params[stage], inputs, extra_fp)
        existing = workspace.find_by_fingerprint(stage, fp)
        if existing is not None:
            steps.append(StepPlan(stage, "skip", "unchanged (same inputs and params)", existing.version))
            produced[stage] = existing
            continue
        latest = workspace.artifact(stage) if workspace.latest_version(stage) else None
        reason = _why_changed(latest, params[stage], inputs, extra_fp)
        steps.append(StepPlan(stage, "run", reason))
        produced[stage] = None
    return steps


def run_all(
    workspace: Workspace,
    params: dict[str, StageParams],
    extras: dict[str, dict[str, Any]],
    from_stage: str | None = None,
    force: bool = False,
    console: Console | None = None,
    quiet: bool = False,
    verbose: bool = False,
    on_stage: Callable[[str, StageOutcome], None] | None = None,
    pins: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run the stages from `from_stage` on, in order, under one workspace lock; returns the summary.
    `pins` (`--input STAGE@VERSION`) fix stages before `from_stage` for the stages that read them."""
    pins = pins or {}
    start = check_from(from_stage, pins)
    if start == 0 and not extras.get("collect", {}).get("paths"):
        raise UsageError("run-all needs log paths when it starts at collect", hint="slmconvert run-all LOGS... "
                         "(or --from curate to start from the collected calls)")
    console = console or Console(stderr=True)
    steps = []
    budget = run_budget(params, None)
    end = Deadline.after(budget)
    # one deadline, a little before the budget ends: each planning stage re-plans with what is left
    deadline = Deadline(end.at - planning_margin(parse_duration(budget)))
    with workspace.lock("slmconvert run-all"):
        for stage in STAGES[start:]:
            started = time.perf_counter()
            left = deadline.left()
            outcome = execute(stage, workspace, params[stage], pins=_pins_for(load_stage(stage), pins),
                              extra=budget_extra(stage, extras.get(stage, {}), deadline, params), force=force,
                              console=console, quiet=quiet, verbose=verbose)
            release_memory()  # a stage's models and tables are gone: their heap pages go back to the OS
            steps.append({"stage": stage, "version": outcome.artifact.version, "skipped": outcome.skipped,
                          "seconds": round(time.perf_counter() - started, 2), "budget_left_seconds": round(left, 1),
                          "peak_rss_mb": outcome.peak_rss_mb})
            if on_stage is not None:
                on_stage(stage, outcome)
    return {**final_summary(workspace, steps), "budget": budget,
            "budget_seconds": parse_duration(budget), "over_budget_seconds": round(max(0.0, -_left(end)), 1)}


END_MARGIN_SHARE = 0.02  # of the budget, kept after the stages' deadline (at least END_MARGIN_MIN seconds)
END_MARGIN_MIN = 5.0  # process start-up, the summary and a last batch slower than planned: a 15-minute run on
# one core ended 1 s inside its budget without it


def planning_margin(budget_seconds: float) -> float:
    """Seconds of the budget the stages do not plan with."""
    return min(budget_seconds / 2, max(END_MARGIN_MIN, END_MARGIN_SHARE * budget_seconds))


def _left(deadline: Deadline) -> float:
    """Seconds to the deadline (negative once past it)."""
    return deadline.at - time.time()


def final_summary(workspace: Workspace, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Clusters found, promoted, share of calls routed, projected cost cut, report path."""
    iterate = workspace.artifact("iterate")
    metrics = iterate.metrics
    return {
        "steps": steps,
        "seconds": round(sum(s["seconds"] for s in steps), 2),
        "clusters_found": metrics.get("clusters"),
        "candidates": metrics.get("candidates"),
        "promoted": metrics.get("promoted"),
        "share_calls_moved": metrics.get("share_calls_moved"),
        "share_cost_moved": metrics.get("share_cost_moved"),
        "cost_cut": metrics.get("cost_cut"),
        "escalation_rate": metrics.get("escalation_rate"),
        "report": str(iterate.path / "report.html"),
        "iterate_version": iterate.version,
    }
