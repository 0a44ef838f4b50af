"""One wall-clock budget: durations, the deadline stages share, run-all's budget and its dry run, and
one set of knobs (no per-device parameter pairs left)."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.config import params_class, resolve_all
from slmconvert.errors import ConfigError, UsageError
from slmconvert.pipeline.budget import (
    apply_budget,
    budget_extra,
    describe,
    evidence_settings,
    run_budget,
)
from slmconvert.util.budget import Deadline, format_duration, parse_duration, stage_deadline
from slmconvert.workspace import STAGES


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), ("90s", 90), ("2h", 7200), ("3h30m", 12600),
                                               ("1h 5m 3s", 3903), ("45", 45), (120, 120), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15x", "m", "-5m", "0s", "15m junk", True])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_and_deadlines():
    assert format_duration(3903) == "1h5m3s" and format_duration(0) == "0s"
    now = time.time()
    assert Deadline.after("90s", now).at == pytest.approx(now + 90)
    assert 0 < Deadline.after("15m").left() <= 900
    assert stage_deadline("15m", now + 5).at == now + 5  # run-all's deadline wins over the stage's own budget
    assert stage_deadline("15m", None).left() > 890


def test_no_per_device_parameter_pairs_remain():
    for stage in STAGES:
        fields = params_class(stage).model_fields
        paired = sorted(name for name in fields
                        if name.endswith(("_cpu", "_gpu")) or name.startswith(("cpu_", "gpu_")))
        assert not paired, f"{stage}: {paired}"


def test_the_budget_is_a_param_of_the_planning_stages_and_validated():
    params = resolve_all(sets=["finetune.budget=2h", "iterate.budget=900", "select.budget=3h30m"])
    assert (params["finetune"].budget, params["iterate"].budget, params["select"].budget) == ("2h", "900", "3h30m")
    with pytest.raises(ConfigError, match="finetune.budget"):
        resolve_all(sets=["finetune.budget=soon"])


def test_run_all_sets_one_budget_on_every_planning_stage():
    params = resolve_all()
    assert run_budget(params, None) == "15m"
    assert run_budget(params, "2h") == "2h"
    overnight = resolve_all(sets=["iterate.budget=3h"])
    assert run_budget(overnight, None) == "3h"
    applied = apply_budget(overnight, "3h")
    assert {applied[s].budget for s in ("select", "finetune", "iterate")} == {"3h"}
    assert applied["cluster"] == overnight["cluster"]
    with pytest.raises(UsageError, match="--budget"):
        apply_budget(params, "tomorrow")


def test_stages_get_the_deadline_and_finetune_gets_iterates_evidence():
    params = resolve_all(sets=["iterate.promotion_target=0.8", "iterate.threshold_levels=[0.9, 0.95, 1.0]"])
    deadline = Deadline(1234.5)
    assert budget_extra("collect", {"paths": ["x"]}, deadline, params) == {"paths": ["x"]}
    assert budget_extra("iterate", None, deadline, params) == {"deadline": 1234.5}
    finetune = budget_extra("finetune", {"clusters": [1]}, deadline, params)
    assert finetune["evidence"] == evidence_settings(params["iterate"])
    assert finetune["evidence"]["target"] == 0.8 and "candidates" not in finetune["evidence"]


def test_the_deadline_stays_out_of_fingerprints():
    from slmconvert.stages import finetune, iterate, select
    from slmconvert.stages.runner import fingerprint_extra

    for module in (finetune, iterate, select):
        assert "deadline" not in json.dumps(fingerprint_extra(module, {"deadline": time.time()}))
    a = resolve_all(sets=["finetune.budget=15m"])["finetune"]
    b = resolve_all(sets=["finetune.budget=2h"])["finetune"]
    from slmconvert.stages.runner import fingerprint

    assert fingerprint("finetune", a, {}, {}) != fingerprint("finetune", b, {}, {})  # the budget itself counts


def test_describe_says_estimates_until_the_probe_ran():
    plan = describe("15m", [])
    assert plan["seconds"] == 900 and not plan["measured"] and "estimates only" in plan["note"]
    assert [s["stage"] for s in plan["stages"]][-2:] == ["finetune", "iterate"]


def test_describe_names_each_cached_speed_by_model_and_lora_share():
    from rich.console import Console

    from slmconvert.cli.run_all import render_budget
    from slmconvert.finetune.probe import Throughput

    speeds = [Throughput("m", "cpu", 500.0, 2000.0, 200.0, 16, 1.0, 9.0, machine="cpu x2", lora_layers=share)
              for share in (0.25, 0.5)]
    plan = describe("15m", speeds)
    assert [t["lora_layers"] for t in plan["throughput"]] == [0.25, 0.5] and plan["measured"]
    console = Console(record=True, width=200)
    render_budget(plan, console)
    text = console.export_text()
    assert "m (LoRA on 0.25 of the layers) on cpu x2" in text and "m (LoRA on 0.5 of the layers)" in text


def test_dry_run_shows_the_budget_plan(tmp_path):
    runner = CliRunner()
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "calls.jsonl").write_text("{}\n")
    result = runner.invoke(app, ["run-all", str(tmp_path / "logs"), "--workdir", str(tmp_path / "w"), "--dry-run", "--json",
                                 "--budget", "2h"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["budget"]["budget"] == "2h" and payload["budget"]["seconds"] == 7200
    assert "estimates only" in payload["budget"]["note"]
    human = runner.invoke(app, ["run-all", str(tmp_path / "logs"), "--workdir", str(tmp_path / "w"), "--dry-run"],
                          terminal_width=200)
    assert human.exit_code == 0 and "budget 15m" in human.output and "estimates only" in human.output
    bad = runner.invoke(app, ["run-all", str(tmp_path / "logs"), "--workdir", str(tmp_path / "w"), "--dry-run", "--budget", "x"])
    assert bad.exit_code == 2 and "--budget" in bad.output


def test_stages_plan_to_a_deadline_a_little_before_the_budget_ends():
    from slmconvert.pipeline.run_all import planning_margin

    assert planning_margin(900) == pytest.approx(18.0)  # 2% of 15 minutes
    assert planning_margin(3 * 3600) == pytest.approx(216.0)
    assert planning_margin(60) == 5.0  # at least a few seconds
    assert planning_margin(6) == 3.0  # never more than half of a tiny budget
