"""select end to end on tiny in-process models."""

from __future__ import annotations

import json

import pytest

from slmconvert.errors import ConfigError
from slmconvert.select.choose import chosen_models, read_selection
from slmconvert.select.params import SelectParams
from slmconvert.stages.runner import execute

FAST = {"sample_size": 4, "batch_size": 4, "max_new_tokens": 12, "text_cosine": False, "few_shot": 1, "single_call_latency": True,
        "measure_single": True}


def run(workspace, candidates, **overrides):
    params = SelectParams(**{**FAST, **overrides})
    return execute("select", workspace, params, extra={"candidates": candidates}, quiet=True)


def test_select_end_to_end(upstream, tiny_models):
    outcome = run(upstream, [tiny_models["small"], tiny_models["large"], tiny_models["short"]])
    selection = read_selection(outcome.artifact)
    assert selection["schema"] == "slmconvert.selection/1" and selection["device"] == "cpu"
    assert [c["cluster_id"] for c in selection["clusters"]] == [0, 1]
    assert selection["skipped_clusters"][0]["cluster_id"] == 2
    assert "open-ended" in selection["skipped_clusters"][0]["reason"]
    for cluster in selection["clusters"]:
        assert len(cluster["sample_ids"]) == 4 and cluster["sample_split"] == "validation"
        assert len(cluster["few_shot_ids"]) == 1
        by_model = {r["model"]: r for r in cluster["results"]}
        short = by_model[tiny_models["short"]]
        assert short["excluded"] and "context 16 <" in short["excluded"] and short["primary"] is None
        for name in ("small", "large"):
            measured = by_model[tiny_models[name]]
            assert measured["excluded"] is None
            assert measured["primary"]["n"] == 4 and measured["primary_metric"] == cluster["primary_metric"]
            assert measured["gates"]["context"]["passed"] and measured["gates"]["memory"]["passed"]
            assert measured["timing"]["calls"] == 4 and measured["timing"]["single_call_seconds"] > 0
            assert len(measured["rows"]) == 4 and "prediction" in measured["rows"][0]
            assert measured["max_new_tokens"] <= 12
        # the rule: all tiny models score alike (random weights), so the smaller one wins
        assert cluster["chosen"]["model"] == tiny_models["small"]
    assert selection["clusters"][0]["primary_metric"] == "function_name_and_args_accuracy"
    assert selection["clusters"][1]["primary_metric"] == "field_f1"
    choices = chosen_models(selection)
    assert set(choices) == {0, 1} and choices[0].prompt_format.style == "canonical"
    assert outcome.artifact.metrics["clusters_chosen"] == 2
    # the summary (for --json) carries no per-example rows
    assert "rows" not in json.dumps(outcome.summary)

    again = run(upstream, [tiny_models["small"], tiny_models["large"], tiny_models["short"]])
    assert again.skipped and again.artifact.version == outcome.artifact.version


def test_render_shows_tables(upstream, tiny_models, capsys):
    from rich.console import Console

    from slmconvert.stages import select as stage

    outcome = run(upstream, [tiny_models["small"]], sample_size=2, few_shot=0, single_call_latency=False)
    console = Console(record=True, width=200)
    stage.render(outcome.summary, console)
    text = console.export_text()
    assert "cluster 0" in text and "chosen:" in text and "skipped" in text


def test_unknown_candidate_is_a_config_error(upstream):
    with pytest.raises(ConfigError):
        run(upstream, ["./nope-not-here"])


def test_licence_allow_list_excludes(upstream, tiny_models):
    from slmconvert.models.registry import ModelSpec, register_model, unregister_model

    register_model(ModelSpec(alias="tiny-gemma-licensed", path=tiny_models["small"], license="gemma"))
    try:
        outcome = run(upstream, ["tiny-gemma-licensed"], allowed_licenses=["apache-2.0"], sample_size=2)
    finally:
        unregister_model("tiny-gemma-licensed")
    for cluster in read_selection(outcome.artifact)["clusters"]:
        assert cluster["chosen"] is None and "licence gemma not in allowed_licenses" in cluster["reason"]


def _fake_speed(monkeypatch, train: float, prefill: float, probed: list | None = None):
    """Every candidate measured at these speeds (instead of the probe on this machine); `probed` collects
    the names of the candidates probed."""
    from slmconvert.finetune import schedule
    from slmconvert.finetune.probe import Throughput

    def speed(candidate):
        if probed is not None:
            probed.append(candidate.name)
        return Throughput(candidate.name, "cpu", train, prefill, 50.0, 8, 0.5, 1.0)

    monkeypatch.setattr(schedule, "candidate_speed", lambda cache, device, log: speed)


def test_measurements_past_their_budget_share_are_skipped_and_the_smaller_model_is_chosen(upstream, tiny_models,
                                                                                           monkeypatch):
    from slmconvert.select import engine

    probed = []
    _fake_speed(monkeypatch, train=1e6, prefill=1e3, probed=probed)
    monkeypatch.setattr(engine, "ZERO_SHOT_SHARE", 1e-9)
    outcome = run(upstream, [tiny_models["large"], tiny_models["small"]])
    selection = read_selection(outcome.artifact)
    for cluster in selection["clusters"]:
        small, large = sorted(cluster["results"], key=lambda r: r["model"] != tiny_models["small"])
        assert small["primary"] is None and "not measured zero-shot" in small["unmeasured"]
        assert large["primary"] is None and tiny_models["small"] in large["not_examined"]  # it could not win
        assert cluster["chosen"]["model"] == tiny_models["small"]
        assert "smallest candidate passing the gates" in cluster["reason"]
    assert chosen_models(selection)[0].prompt_format.style == "canonical"
    assert probed == [tiny_models["small"]]  # the larger one was never probed
    assert [c["model"] for c in selection["candidates"]] == [tiny_models["small"], tiny_models["large"]]
    assert "not_examined" in selection["candidates"][1] and selection["candidates"][1]["info"] is None


def test_compute_gate_excludes_candidates_too_slow_for_the_budget(upstream, tiny_models, monkeypatch):
    _fake_speed(monkeypatch, train=0.5, prefill=1e6)
    outcome = run(upstream, [tiny_models["large"], tiny_models["small"]], budget="2m")
    for cluster in read_selection(outcome.artifact)["clusters"]:
        assert all("tok/s" in r["excluded"] and "of the budget left" in r["excluded"] for r in cluster["results"])
        assert cluster["chosen"] is None
    _fake_speed(monkeypatch, train=1e6, prefill=1e6)
    fast = run(upstream, [tiny_models["large"], tiny_models["small"]], budget="3m")  # a new fingerprint
    assert all(c["chosen"] for c in read_selection(fast.artifact)["clusters"])


def test_a_single_candidate_on_cpu_is_chosen_without_a_zero_shot_run(upstream, tiny_models):
    outcome = run(upstream, [tiny_models["small"]], measure_single=False)
    for cluster in read_selection(outcome.artifact)["clusters"]:
        (result,) = cluster["results"]
        assert result["primary"] is None and "nothing to compare" in result["unmeasured"]
        assert cluster["chosen"]["model"] == tiny_models["small"]
    measured = run(upstream, [tiny_models["small"]], measure_single=True)
    for cluster in read_selection(measured.artifact)["clusters"]:
        assert cluster["results"][0]["primary"]["n"] == 4


def test_a_larger_candidate_is_examined_where_the_smaller_one_fails_a_gate(upstream, tiny_models, monkeypatch):
    from slmconvert.select import engine

    probed = []
    _fake_speed(monkeypatch, train=1e6, prefill=1e3, probed=probed)
    monkeypatch.setattr(engine, "ZERO_SHOT_SHARE", 1e-9)
    outcome = run(upstream, [tiny_models["large"], tiny_models["short"]])  # short: a 16-token context
    for cluster in read_selection(outcome.artifact)["clusters"]:
        short = next(r for r in cluster["results"] if r["model"] == tiny_models["short"])
        assert "context" in short["excluded"]
        assert cluster["chosen"]["model"] == tiny_models["large"]
    assert sorted(probed) == sorted([tiny_models["short"], tiny_models["large"]])
