"""Stage `iterate`: specialists evaluated on held-out calls, clusters promoted, router built and
replayed, economics and the report (evaluation.json, predictions.parquet, router/, report.*,
history.json)."""

from __future__ import annotations

import time
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from slmconvert.artifacts.adapters import Specialist, finetune_skips, load_specialists
from slmconvert.artifacts.clusters import (
    cluster_map,
    load_assignments,
    load_clusters,
    load_splits,
    seed_dir,
)
from slmconvert.artifacts.curated import load_curated, traffic_rows
from slmconvert.iterate import outputs
from slmconvert.iterate.build import (
    BASELINE_SAMPLE,
    plans_at,
    promise,
    route,
    rules_of,
    serving_plan,
)
from slmconvert.iterate.economics import (
    DEFAULT_CURVE_THRESHOLDS,
    Prices,
    cost_quality_curve,
    project,
    traffic_by_bucket,
)
from slmconvert.iterate.evaluate import (
    Deadline,
    evaluate_base,
    evaluate_cluster,
    seeded_sample,
)
from slmconvert.iterate.history import HISTORY_ROLE, extend, make_entry, previous_history
from slmconvert.iterate.params import IterateParams
from slmconvert.iterate.plan import (
    after_evidence_reserve,
    least_calls,
    planned_evidence,
    sample_size,
)
from slmconvert.iterate.promotion import decide_all
from slmconvert.router.config import RouterConfig
from slmconvert.router.engine_generator import evaluation_generator
from slmconvert.router.generator import CachedGenerator, Generator
from slmconvert.router.replay import replay
from slmconvert.router.router import Assigner, Router
from slmconvert.stages.base import StageContext, StageResult
from slmconvert.stages.lineage import recorded_version
from slmconvert.util.budget import stage_deadline
from slmconvert.util.device import pick_device
from slmconvert.workspace import Artifact, Workspace

NAME = "iterate"
UPSTREAM = ("finetune", "select", "cluster", "curate")
Params = IterateParams
_CARRIED = "adapters_from:"


def run(ctx: StageContext, generator: Generator | None = None, assigner: Assigner | None = None) -> StageResult:
    """Everything the iterate stage does (generator/assigner injectable for tests)."""
    started = time.perf_counter()
    params: IterateParams = ctx.params  # type: ignore[assignment]
    ws = ctx.workspace
    cluster_art = ctx.inputs["cluster"]
    curate_art = ctx.inputs["curate"]  # the version this cluster was built from (runner follows lineage)
    lineage = {name: ctx.inputs[name].version for name in sorted(UPSTREAM)}
    clusters = load_clusters(cluster_art)
    splits = load_splits(cluster_art)
    assignments = load_assignments(cluster_art)
    specialists = _specialists(ctx)
    device = pick_device(params.device)
    rules = rules_of(params)

    ids: dict[tuple[int, str], list[str]] = {}
    for call_id, (cid, split) in splits.items():
        ids.setdefault((cid, split), []).append(call_id)
    baseline_ids = [c for c in sorted(assignments)]
    wanted = {c for (_, split), members in ids.items() if split in ("test", "validation") for c in members}
    baseline_pick = seeded_sample([{"call_id": c} for c in baseline_ids], BASELINE_SAMPLE, params.seed, "baseline")
    wanted |= {r["call_id"] for r in baseline_pick}
    records = {r["call_id"]: r for r in load_curated(curate_art, wanted) if r.get("status", "kept") == "kept"}

    def members(cid: int, split: str) -> list[dict[str, Any]]:
        return [records[c] for c in ids.get((cid, split), []) if c in records]

    deadline = stage_deadline(params.budget, ctx.extra.get("deadline"))
    planned = planned_evidence(ctx.inputs["finetune"])

    def sample(split: str, pool: str) -> dict[int, list[dict[str, Any]]]:
        least = least_calls(pool, params.promotion_target)
        return {c.cluster_id: seeded_sample(members(c.cluster_id, split),
                                            sample_size(planned, c.cluster_id, pool, params.cap(pool), least),
                                            params.seed, f"{split if split == 'test' else 'val'}-{c.cluster_id}")
                for c in clusters}

    test, validation = sample("test", "test"), sample("validation", "calibration")
    generator = generator or CachedGenerator(evaluation_generator(params, device, ctx.log),
                                             ws.cache_dir("iterate-generations"))
    if not isinstance(generator, CachedGenerator):
        generator = CachedGenerator(generator)
    evaluated = [c for c in clusters if c.candidate and c.cluster_id in specialists and test[c.cluster_id]]
    ctx.log(f"iterate: evaluating {len(evaluated)} specialist(s) on {device} (validation and test samples as "
            f"{'finetune planned' if planned else 'capped'}, in full; {deadline.left():.0f} s of the budget left)")
    evals = {}
    order = sorted(clusters, key=lambda c: promise(specialists.get(c.cluster_id)))
    total = sum(len(validation[c.cluster_id]) + len(test[c.cluster_id]) for c in evaluated)
    with ctx.progress("evaluating specialists", total) as advance:
        # the evidence each promotion decision needs: validation (signal, thresholds), then test (the check)
        for info in order:
            evals[info.cluster_id] = evaluate_cluster(
                info, specialists.get(info.cluster_id), validation[info.cluster_id], test[info.cluster_id],
                len(ids.get((info.cluster_id, "test"), [])), generator, params, rules, advance)
    base_cap = params.cap("base")
    measured = [c.cluster_id for c in order if evals[c.cluster_id].entry.get("prompt_format")]
    base_deadline = Deadline(max(1e-3, deadline.left() - after_evidence_reserve(deadline)))
    with ctx.progress("base-model baseline", sum(min(base_cap, len(test[c])) for c in measured)) as advance:
        for cid in measured:  # the side-by-side baseline, with what time its budget allows
            evaluate_base(evals[cid], specialists[cid], test[cid][:base_cap], generator, params, advance,
                          base_deadline)
    entries = [evals[c.cluster_id].entry for c in clusters]
    untrained = finetune_skips(ctx.inputs["finetune"])
    for entry in entries:
        if entry["candidate"] and entry["model"] is None and entry["cluster_id"] in untrained:
            entry["skipped"] = entry["skipped"] or f"not fine-tuned: {untrained[entry['cluster_id']]}"
    for entry, decision in zip(entries, decide_all(entries, params.promotion_target), strict=True):
        entry["promotion"] = decision.to_dict()
    promoted = [e for e in entries if e["promotion"]["promoted"]]

    router_dir = ctx.out_dir / "router"
    config = RouterConfig(
        routes=[route(e, specialists.get(e["cluster_id"]), router_dir) for e in entries],
        escalation=rules, lineage=lineage,
    )
    config.save(router_dir, seed_dir(cluster_art))
    router = Router(config, router_dir, assigner, ws.cache_dir("embeddings"))
    baseline_records = [records[r["call_id"]] for r in baseline_pick if r["call_id"] in records]
    assigned = router.assigner.assign(baseline_records) if baseline_records else []
    config.baseline_ood_share = (sum(1 for cid, _ in assigned if cid < 0) / len(assigned)) if assigned else None
    config.save(router_dir)

    held_out = [r for c in clusters for r in test[c.cluster_id]]
    true_cluster = {r["call_id"]: splits[r["call_id"]][0] for r in held_out}
    with ctx.progress("replaying held-out calls", len(held_out)) as advance:
        result = replay(router, held_out, generator, true_cluster, advance)
    generator.close()
    for e in promoted:
        e["routed"] = result.per_cluster.get(e["cluster_id"]) or {}

    traffic = traffic_by_bucket(traffic_rows(curate_art), assignments)
    prices = Prices(params.slm_input_price_per_1m, params.slm_output_price_per_1m)
    plans = {p.cluster_id: p for e in entries if (p := serving_plan(e)) is not None}
    economics = project(traffic, {k: v for k, v in plans.items() if v.promoted}, prices)
    cascades = {cid: ev.cascade for cid, ev in evals.items() if ev.cascade is not None}
    curve = cost_quality_curve(plans_at(entries, cascades), traffic, prices, DEFAULT_CURVE_THRESHOLDS)
    version = ctx.version
    weekly = ctx.extra.get("weekly")
    summary = outputs.summary(entries, result.overall, economics, device, generator, time.perf_counter() - started)
    summary["budget"] = {"budget": params.budget, "deadline": round(deadline.at, 3),
                         "seconds_left": round(deadline.left(), 2), "planned": sorted(planned.values(),
                                                                                     key=lambda e: e["cluster_id"])}
    earlier = previous_history(ctx.inputs.get(HISTORY_ROLE))
    history = extend(earlier, make_entry(version, lineage, summary, weekly, len(earlier)))
    outputs.write_all(
        ctx.out_dir, version=version, lineage=lineage, entries=entries, replay_result=result,
        base_rows={e["cluster_id"]: evals[e["cluster_id"]].base_rows for e in entries}, test=test,
        economics=economics, curve=curve, history=history, params=params, device=device,
        traffic=traffic, cluster_map_png=cluster_map(cluster_art), weekly=weekly, summary=summary,
        workspace_root=ws.root,
    )
    ctx.log(f"iterate: promoted {len(promoted)}/{len(entries)} cluster(s); "
            f"report at {ctx.out_dir.name}/report.html")
    return StageResult(metrics={**outputs.metrics(summary), "budget": summary["budget"]}, summary=summary)



def derived_inputs(workspace: Workspace, inputs: dict[str, Artifact]) -> dict[str, Artifact]:
    """The previous iteration, whose history.json this run extends (role `history_from`): the newest
    iterate version built on other upstream versions. A rerun on the same upstreams finds the same one,
    so its fingerprint is unchanged and it is reused."""
    current = {stage: inputs[stage].version for stage in UPSTREAM}
    for artifact in reversed(workspace.versions(NAME)):
        if {stage: recorded_version(artifact, stage) for stage in UPSTREAM} != current:
            return {HISTORY_ROLE: artifact}
    return {}


def fingerprint_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """Extra inputs as they identify a run: not the deadline (the budget param is; what is left of it
    differs every run)."""
    return {k: v for k, v in extra.items() if k != "deadline"}


def _specialists(ctx: StageContext) -> dict[int, Specialist]:
    """Adapters of the finetune input, plus those the weekly loop carries over from older finetune
    versions for clusters it did not retrain (inputs named by `carried_adapter_role`)."""
    found = load_specialists(ctx.inputs["finetune"])
    for role, artifact in sorted(ctx.inputs.items()):
        if not role.startswith(_CARRIED):
            continue
        cid = int(role.removeprefix(_CARRIED))
        if cid not in found:
            older = load_specialists(artifact)
            if cid in older:
                found[cid] = older[cid]
    return found


def carried_adapter_role(cluster_id: int) -> str:
    """The input role of an older finetune version whose adapter for this cluster is carried over."""
    return f"{_CARRIED}{cluster_id}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _metric(summary: dict[str, Any] | None) -> str:
    if not summary or summary.get("value") is None:
        return "-"
    return f"{summary['value']:.2f} ({summary.get('low', 0):.2f}) n={summary.get('n')}"


def render(summary: dict[str, Any], console: Console) -> None:
    """Per-cluster decisions (reasons below the table), then the replay and economics headline."""
    table = Table(title="Strict agreement with the LLM on held-out calls: base model, specialist, and the calls "
                  "the specialist keeps (Wilson low)", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("label", overflow="ellipsis", no_wrap=True, max_width=24)
    for col in ("base", "specialist (low)", "route", "threshold", "coverage", "kept (low)"):
        table.add_column(col, no_wrap=True)
    for c in summary.get("clusters", []):
        route = "[green]SLM[/green]" if c.get("promoted") else "[yellow]LLM[/yellow]"
        base = c.get("base") or {}
        base_text = f"{base['value']:.2f} n={base.get('n')}" if base.get("value") is not None else "-"
        threshold = c.get("confidence_threshold")
        shown = "-" if not c.get("promoted") else "none" if threshold is None else f"{threshold:.3f}"
        table.add_row(str(c["cluster_id"]), c.get("label") or "", base_text, _metric(c.get("specialist")), route,
                      shown, *((_pct(c.get("coverage")), _metric(c.get("kept_agreement"))) if c.get("promoted")
                               else ("-", "-")))
    console.print(table)
    for c in summary.get("clusters", []):
        console.print(f"  {c['cluster_id']}: {c.get('reason') or ''}", highlight=False)
    replay, economics = summary.get("replay", {}), summary.get("economics", {})
    console.print(
        f"replay on {replay.get('calls', 0)} held-out calls: {_pct(replay.get('share_routed_slm'))} routed to SLMs, "
        f"escalation {_pct(replay.get('escalation_rate'))}, served quality {_pct(replay.get('served_quality'))}"
    )
    console.print(
        f"moved to SLMs: {_pct(economics.get('share_calls_moved'))} of calls, "
        f"{_pct(economics.get('share_cost_moved'))} of LLM cost; projected cost cut {_pct(economics.get('cost_cut'))}"
    )
