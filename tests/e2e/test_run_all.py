"""run-all end to end on a slice of the sample logs with a tiny model, then the weekly loop,
route and export on the same workspace."""

from __future__ import annotations

from slmconvert.util.jsonio import read_json
from slmconvert.util.tables import read_table
from slmconvert.workspace import STAGES, Workspace
from tests.e2e.conftest import files_of, invoke, sets_args


def test_run_all_builds_every_stage(e2e):
    summary = e2e["summary"]
    assert [s["stage"] for s in summary["steps"]] == list(STAGES)
    assert not any(s["skipped"] for s in summary["steps"])
    assert summary["clusters_found"] >= 3 and summary["promoted"] >= 1
    ws = Workspace(e2e["work"])
    iterate = ws.artifact("iterate")
    names = files_of(iterate.path)
    for name in ("evaluation.json", "predictions.parquet", "router/router.json", "router/seed/config.json",
                 "router/seed/arrays.safetensors", "report.html", "report.json", "history.json"):
        assert name in names
    assert not any(n.endswith((".pkl", ".pickle")) for n in names)
    report = read_json(iterate.path / "report.json")
    assert report["headline"]["promoted"] and report["economics"]["total_calls"] > 100
    assert summary["share_calls_moved"] == report["economics"]["share_calls_moved"]
    predictions = read_table(iterate.path / "predictions.parquet")
    assert predictions and {"call_id", "cluster_id", "route", "escalated", "slm_output"} <= set(predictions[0])
    routed = [p for p in predictions if p["route"] == "slm"]
    assert routed and all(p["slm_output"]["role"] == "assistant" for p in routed)
    assert all(p["escalation"] for p in routed if p["escalated"])
    html = (iterate.path / "report.html").read_text()
    assert "data:image/png;base64," in html and "<script" not in html


def test_second_run_is_all_reuse_and_dry_run_explains(e2e):
    base = ["--workdir", e2e["work"], "--candidate", e2e["tiny"], "--json"]
    code, plan, err = invoke(["run-all", *e2e["logs"], *base, "--dry-run", *sets_args()])
    assert code == 0, err
    assert [s["action"] for s in plan["steps"]] == ["skip"] * 6
    code, plan, _ = invoke(["run-all", *e2e["logs"], *base, "--dry-run",
                            *sets_args(["iterate.promotion_target=0.5"])])
    assert [s["action"] for s in plan["steps"]] == ["skip"] * 5 + ["run"]
    assert plan["steps"][-1]["reason"] == "params changed: promotion_target"
    code, plan, _ = invoke(["run-all", *base, "--dry-run", "--from", "finetune", "--force", *sets_args()])
    assert [s["action"] for s in plan["steps"]] == ["not run (before --from)"] * 4 + ["run", "run"]
    assert plan["steps"][4]["reason"] == "--force" and plan["steps"][5]["reason"].startswith("upstream finetune")
    code, again, err = invoke(["run-all", *e2e["logs"], *base, *sets_args()])
    assert code == 0, err
    assert all(s["skipped"] for s in again["steps"])
    assert again["iterate_version"] == e2e["summary"]["iterate_version"]


def test_weekly_iteration_reuses_what_is_unchanged(e2e):
    ws = Workspace(e2e["work"])
    before = {stage: ws.latest_version(stage) for stage in STAGES}
    args = ["iterate", "--workdir", e2e["work"], "--json", *sets_args()]
    for log in e2e["week2"]:
        args += ["--logs", log]
    code, weekly, err = invoke(args)
    assert code == 0, err[-3000:]
    after = {stage: ws.latest_version(stage) for stage in STAGES}
    assert after["collect"] != before["collect"] and after["curate"] != before["curate"]
    assert weekly["actions"]["recluster"] is False and weekly["actions"]["retrain"] == {}
    for stage in ("cluster", "select", "finetune"):
        assert after[stage] == before[stage]  # unchanged: reused, not rebuilt
    iterate = ws.artifact("iterate")
    assert iterate.version == weekly["iterate_version"] != before["iterate"]
    assert iterate.manifest["inputs"]["finetune"]["version"] == before["finetune"]
    drift = weekly["drift"]
    assert drift["new_calls"] >= 12 and drift["ood_share"] is not None
    history = read_json(iterate.path / "history.json")["iterations"]
    assert [h["kind"] for h in history] == ["initial", "weekly"]
    assert history[0]["version"] == before["iterate"]
    summary = read_json(iterate.path / "summary.json")
    assert summary["generation"]["generated"] == 0  # every held-out answer came from the cache
    assert summary["generation"]["reused"] > 0
    # cron ran twice on the same files: nothing is appended or iterated again
    code, again, err = invoke(args)
    assert code == 0, err[-2000:]
    assert again["iterate_version"] == iterate.version and ws.latest_version("collect") == after["collect"]
    assert "already collected" in again["actions"]["notes"][0]


def test_route_reads_raw_logs_and_export_writes_a_bundle(e2e, tmp_path):
    raw = tmp_path / "calls.jsonl"
    lines = open(e2e["week2"][0]).read().splitlines()[:4]
    raw.write_text("\n".join(lines) + "\n")
    code, routed, err = invoke(["route", raw, "--workdir", e2e["work"], "--json"])
    assert code == 0, err
    assert routed["calls"] == 4 and sum(routed["routes"].values()) == 4
    for decision in routed["decisions"]:
        assert decision["route"] in ("slm", "llm") and decision["reason"]
        assert (decision["route"] == "slm") == (decision["adapter"] is not None)
    # nothing raw is echoed: decisions carry ids, clusters and reasons only
    assert all("content" not in d and "messages" not in d for d in routed["decisions"])
    out = tmp_path / "bundle"
    code, bundle, err = invoke(["export", "--workdir", e2e["work"], "--out", out, "--json"])
    assert code == 0, err
    assert (out / "router" / "router.json").is_file() and (out / "serve.sh").is_file()
    assert len(bundle["adapters"]) >= 1
    command = bundle["vllm_commands"][0]
    assert command.startswith("vllm serve ") and "--enable-lora" in command and "--lora-modules cluster-" in command
    from slmconvert.router import Router

    router = Router.load(out / "router")
    promoted = router.config.promoted[0]
    assert router.adapter_path(promoted) == (out / "adapters" / f"cluster-{promoted.cluster_id}").resolve()
    code, _, err = invoke(["export", "--workdir", e2e["work"], "--out", out])
    assert code == 2 and "not empty" in err


def test_a_week_that_grows_clusters_extends_them_and_retrains_only_those(e2e):
    from datetime import date

    from sample_logs.generate import generate

    ws = Workspace(e2e["work"])
    before = {stage: ws.latest_version(stage) for stage in STAGES}
    week3 = generate(e2e["root"] / "week3", seed=23, n_calls=40, compress=False, formats=("openai_chat",),
                     with_malformed=False, days=7, start=date(2026, 11, 16))
    assert week3
    args = ["iterate", "--workdir", e2e["work"], "--json",
            *sets_args(["iterate.retrain_growth=0.05", "iterate.drift_threshold=1.0"])]
    for log in sorted((e2e["root"] / "week3").glob("flywheel_*.jsonl")):
        args += ["--logs", log]
    code, weekly, err = invoke(args)
    assert code == 0, err[-3000:]
    actions = weekly["actions"]
    assert actions["recluster"] is False and actions["retrain"], actions
    cluster = ws.artifact("cluster")
    assert cluster.version != before["cluster"]
    assert read_json(cluster.path / "clusters.json")["extended_from"] == f"cluster@{before['cluster']}"
    earlier = {a["call_id"]: a["cluster_id"] for a in read_table(ws.artifact("cluster", before["cluster"]).path
                                                                  / "assignments.parquet")}
    now = {a["call_id"]: a["cluster_id"] for a in read_table(cluster.path / "assignments.parquet")}
    assert len(now) > len(earlier) and all(now[c] == cid for c, cid in earlier.items())  # ids are stable
    finetune = ws.artifact("finetune")
    trained = {int(c["cluster_id"]) for c in read_json(finetune.path / "finetune.json")["clusters"]}
    assert trained == {int(c) for c in actions["retrain"]}
    iterate = ws.artifact("iterate")
    assert iterate.manifest["inputs"]["select"]["version"] == before["select"]
    assert iterate.manifest["inputs"]["cluster"]["version"] == cluster.version


def test_route_generate_takes_its_params_from_config_and_set(e2e, tmp_path, monkeypatch):
    from slmconvert.router import generator as generator_module

    made = []

    class Recording(generator_module.PeftGenerator):
        def __init__(self, device, batch_size):
            made.append((device, batch_size))
            super().__init__(device, batch_size)

    monkeypatch.setattr(generator_module, "PeftGenerator", Recording)
    raw = tmp_path / "calls.jsonl"
    raw.write_text(open(e2e["week2"][0]).read().splitlines()[0] + "\n")
    code, routed, err = invoke(["route", raw, "--workdir", e2e["work"], "--json", "--generate",
                                "--set", "iterate.batch_size=3", "--set", "iterate.device=cpu"])
    assert code == 0, err
    assert made == [("cpu", 3)]
