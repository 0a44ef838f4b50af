"""The weekly loop behind `slmconvert iterate --logs NEW`: new logs in, a better router out.

collect (appending to the previous calls) -> curate -> assign the new calls with the current router
-> measure drift (share outside every cluster, cluster mix, escalation and agreement per promoted
cluster on a replayed sample) -> re-cluster when drift passes the threshold, retrain the clusters
whose data grew or whose quality fell -> a new iterate version whose history.json carries every
earlier iteration. The whole loop holds the workspace lock, so two cron runs cannot interleave.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console

from slmconvert.artifacts.clusters import load_assignments
from slmconvert.errors import MissingArtifactError, UsageError
from slmconvert.iterate import drift
from slmconvert.iterate.evaluate import seeded_sample
from slmconvert.iterate.params import IterateParams
from slmconvert.iterate.plan import DRIFT_SHARE, drift_calls
from slmconvert.params import StageParams
from slmconvert.pipeline.budget import apply_budget, budget_extra
from slmconvert.pipeline.isolation import execute
from slmconvert.router.engine_generator import evaluation_generator
from slmconvert.router.generator import CachedGenerator, Generator
from slmconvert.router.replay import replay
from slmconvert.router.router import Assigner, Router
from slmconvert.stages.cluster import EXTEND_FROM
from slmconvert.stages.collect import APPEND_FROM
from slmconvert.stages.iterate import carried_adapter_role
from slmconvert.stages.runner import StageOutcome, load_stage
from slmconvert.util.budget import Deadline, parse_duration
from slmconvert.util.device import pick_device
from slmconvert.util.jsonio import read_json
from slmconvert.util.tables import iter_table
from slmconvert.workspace import STAGES, Artifact, Workspace

WEEKLY_PINS = ("iterate", "collect")


def _previous(workspace: Workspace, version: str | None = None) -> tuple[Artifact, dict[str, Artifact]]:
    if version is None and workspace.latest_version("iterate") is None:
        raise MissingArtifactError(
            f"workspace {workspace.root} has no iterate version to improve on",
            hint="run `slmconvert run-all LOGS --workdir ...` once before the weekly loop",
        )
    previous = workspace.artifact("iterate", version)
    inputs = previous.manifest.get("inputs", {})  # its upstreams, and roles (history_from, adapters_from:<id>)
    lineage = {name: workspace.artifact(name, info["version"]) for name, info in inputs.items() if name in STAGES}
    return previous, lineage


def _before(previous: Artifact) -> dict[int, dict[str, Any]]:
    """Escalation rate and agreement per promoted cluster, as the previous iteration measured them."""
    evaluation = read_json(previous.file("evaluation.json"))
    out = {}
    for entry in evaluation.get("clusters", []):
        if (entry.get("promotion") or {}).get("promoted"):
            routed = entry.get("routed") or {}
            out[int(entry["cluster_id"])] = {
                "escalation_rate": (routed.get("escalation_rate") or {}).get("value"),
                "agreement": (routed.get("agreement") or {}).get("value"),
            }
    return out


def measure_drift(
    workspace: Workspace,
    previous: Artifact,
    cluster: Artifact,
    curate: Artifact,
    params: IterateParams,
    generator: Generator | None = None,
    assigner: Assigner | None = None,
) -> drift.DriftReport:
    """Assign the calls curate kept that the previous clustering never saw; replay a sample of them."""
    old = load_assignments(cluster)
    new_rows = [r for r in iter_table(curate.file("curated.parquet"))
                if r.get("status", "kept") == "kept" and r["call_id"] not in old]
    router = Router.load(previous.path / "router", assigner, workspace.cache_dir("embeddings"))
    assigned = router.assigner.assign(new_rows) if new_rows else []
    device = pick_device(params.device)
    promoted = {r.cluster_id for r in router.config.promoted}
    previous_entries = {int(e["cluster_id"]): e for e in read_json(previous.file("evaluation.json")).get("clusters", [])}
    seconds = DRIFT_SHARE * parse_duration(params.budget) / max(1, len(promoted))
    groups: dict[int, list[dict[str, Any]]] = {}
    for row, (cid, _) in zip(new_rows, assigned, strict=True):
        if cid in promoted:
            groups.setdefault(cid, []).append(row)
    sample = [r for cid, rows in sorted(groups.items())
              for r in seeded_sample(rows, drift_calls(previous_entries.get(cid, {}), params.cap("drift"), seconds),
                                     params.seed, f"drift-{cid}")]
    after: dict[int, dict[str, Any]] = {}
    overall: dict[str, Any] = {}
    if sample:
        gen = generator or CachedGenerator(evaluation_generator(params, device),
                                           workspace.cache_dir("iterate-generations"))
        result = replay(router, sample, gen)
        getattr(gen, "close", lambda: None)()
        overall = result.overall
        for cid, agg in result.per_cluster.items():
            after[cid] = {"escalation_rate": (agg.get("escalation_rate") or {}).get("value"),
                          "agreement": (agg.get("agreement") or {}).get("value"), "n": agg.get("routed_slm")}
    report = drift.measure(dict(Counter(old.values())), [cid for cid, _ in assigned],
                           router.config.baseline_ood_share, _before(previous), after)
    report = drift.decide(report, params.drift_threshold, params.retrain_growth, params.retrain_quality_drop)
    report.replay = {k: overall.get(k) for k in ("calls", "routed_slm", "escalation_rate", "agreement",
                                                  "served_quality", "escalations")} if overall else None
    return report


def weekly(
    workspace: Workspace,
    logs: list[str],
    params: dict[str, StageParams],
    console: Console | None = None,
    quiet: bool = False,
    verbose: bool = False,
    generator: Generator | None = None,
    assigner: Assigner | None = None,
    force: bool = False,
    pins: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One iteration of the loop; returns a summary of what was measured and done.

    `force` reruns every stage and appends the logs even when they were collected already; `pins`
    may name the iteration to improve on (iterate@V) and the collect version to append to (collect@V).
    """
    console = console or Console(stderr=True)
    pins = pins or {}
    unsupported = sorted(set(pins) - set(WEEKLY_PINS))
    if unsupported:
        raise UsageError(f"iterate --logs cannot pin {', '.join(unsupported)}",
                         hint="pin the iteration to improve on (--input iterate@V) or the calls to append to "
                         "(--input collect@V); the loop builds the other stages itself")

    params = apply_budget(params, params["iterate"].budget)  # type: ignore[attr-defined]
    iterate_params: IterateParams = params["iterate"]  # type: ignore[assignment]
    deadline = Deadline.after(iterate_params.budget)  # one budget for the whole loop (iterate.budget)

    def run(stage: str, pins: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
            roles: dict[str, Artifact] | None = None) -> StageOutcome:
        return execute(stage, workspace, params[stage], pins=pins, extra=budget_extra(stage, extra, deadline, params),
                       force=force, console=console, quiet=quiet, verbose=verbose, role_inputs=roles)

    with workspace.lock("slmconvert iterate --logs"):
        previous, lineage = _previous(workspace, pins.get("iterate"))
        prev_cluster, prev_select, prev_finetune = lineage["cluster"], lineage["select"], lineage["finetune"]
        notes: list[str] = []
        latest_collect = workspace.artifact("collect", pins.get("collect"))
        if not force and _already_collected(latest_collect, logs):
            notes.append(f"these logs were already collected in {latest_collect.ref}; not appended again")
        else:
            run("collect", extra={"paths": list(logs)}, roles={APPEND_FROM: latest_collect})
        curate = run("curate").artifact
        if notes and (previous.manifest.get("inputs") or {}).get("curate", {}).get("version") == curate.version:
            return {"previous": previous.version, "iterate_version": previous.version, "drift": None,
                    "actions": {"recluster": False, "retrain": {}, "notes": notes + [
                        f"{previous.ref} already covers these calls: nothing new to iterate on"]},
                    "metrics": previous.metrics, "report": str(previous.path / "report.html")}
        report = measure_drift(workspace, previous, prev_cluster, curate, iterate_params, generator, assigner)
        unselected = sorted(set(report.retrain) - _selected_ids(prev_select))
        if unselected:
            report.retrain = {cid: why for cid, why in report.retrain.items() if cid not in unselected}
            notes.append(f"cluster(s) {', '.join(map(str, unselected))} grew but have no model chosen by select "
                         "(not conversion candidates): not retrained")
        actions: dict[str, Any] = {"recluster": report.recluster, "notes": notes,
                                   "retrain": {str(k): v for k, v in sorted(report.retrain.items())}}  # JSON keys
        weekly_info = {"logs": list(logs), "drift": report.to_dict(), "actions": actions}
        if actions["recluster"]:
            for stage in ("cluster", "select", "finetune"):
                run(stage)
            outcome = run("iterate", extra={"weekly": weekly_info})
        elif report.retrain:
            cluster = run("cluster", roles={EXTEND_FROM: prev_cluster}).artifact
            retrain = sorted(report.retrain)
            finetune = run("finetune", pins={"select": prev_select.version, "cluster": cluster.version},
                           extra={"clusters": retrain}).artifact
            carried = {carried_adapter_role(cid): prev_finetune
                       for cid in _adapter_ids(prev_finetune) if cid not in retrain}
            outcome = run("iterate", pins={"select": prev_select.version, "cluster": cluster.version,
                                           "finetune": finetune.version},
                          extra={"weekly": weekly_info}, roles=carried)
        else:
            outcome = run("iterate", pins={"cluster": prev_cluster.version, "select": prev_select.version,
                                           "finetune": prev_finetune.version, "curate": curate.version},
                          extra={"weekly": weekly_info})
    return {
        "previous": previous.version,
        "iterate_version": outcome.artifact.version,
        "drift": weekly_info["drift"],
        "actions": actions,
        "metrics": outcome.artifact.metrics,
        "report": str(outcome.artifact.path / "report.html"),
    }


def _selected_ids(select: Artifact) -> set[int]:
    """Clusters select chose a model for: the only ones finetune can (re)train."""
    from slmconvert.select import chosen_models, read_selection

    return {int(cid) for cid in chosen_models(read_selection(select))}


def _already_collected(collect: Artifact, logs: list[str]) -> bool:
    """True when the LATEST collect version was built from exactly these files (same size and mtime),
    so a repeated cron run does not append (and re-curate) the same week twice."""
    hook = getattr(load_stage("collect"), "fingerprint_extra", None)
    if hook is None:
        return False
    files = hook({"paths": list(logs)}).get("files")
    return bool(files) and (collect.manifest.get("extra_inputs") or {}).get("files") == files


def _adapter_ids(finetune: Artifact) -> list[int]:
    return sorted(int(p.name) for p in finetune.path.iterdir()
                  if p.is_dir() and p.name.lstrip("-").isdigit() and (p / "adapter").is_dir())
