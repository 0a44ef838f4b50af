"""The cascade end to end in the iterate stage: fake specialists with known confidence and correctness,
the router's replay reproducing the promotion check, the report showing the decision."""

from __future__ import annotations

import random

import pytest

from slmconvert.iterate.params import IterateParams
from slmconvert.util.jsonio import read_json
from slmconvert.util.tables import read_table
from tests.iterate.fake_workspace import ReferenceGenerator, TableAssigner
from tests.iterate.fake_workspace import build as build_workspace
from tests.iterate.test_stage import _run

N_TOOL = 400  # 100 test and 100 validation calls in cluster 0
IDS = [f"t{i:03d}" for i in range(N_TOOL)]
SURE = {c for c in IDS if random.Random(c).random() < 0.7}  # the calls the specialist gets right


@pytest.fixture
def ws(tmp_path):
    return build_workspace(tmp_path / "work", n_tool=N_TOOL)


def _assigner():
    return TableAssigner({c: 0 for c in IDS} | {f"x{i:03d}": 1 for i in range(30)})


def _params(**extra):
    return IterateParams(device="cpu", max_test_calls=100, max_calibration_calls=40, max_base_calls=0,
                         **extra)


def test_right_on_its_confident_70_percent_is_promoted_and_replay_reproduces_it(ws):
    generator = ReferenceGenerator(wrong=set(IDS) - SURE, logprobs={c: -2.5 for c in IDS if c not in SURE})
    out, result = _run(ws, _params(), generator, _assigner())
    tool = read_json(out / "evaluation.json")["clusters"][0]
    cascade, promotion = tool["cascade"], tool["promotion"]
    test_ids = [c for i, c in enumerate(IDS) if i % 4 == 0]
    share = len(set(test_ids) & SURE) / len(test_ids)
    assert 0.6 < share < 0.8
    assert promotion["promoted"] and promotion["coverage"] == pytest.approx(share)
    assert cascade["threshold"] == pytest.approx(-0.1) and cascade["signal_auroc"] == 1.0
    assert cascade["agreement"]["value"] == 1.0 and cascade["agreement"]["low"] >= 0.90
    assert cascade["test_calls"] == 100 and tool["stopped_early"] is None

    # the router's replay takes the same calls the promotion check kept
    predictions = [p for p in read_table(out / "predictions.parquet") if p["cluster_id"] == 0]
    assert {p["call_id"] for p in predictions if p["final_route"] == "slm"} == set(test_ids) & SURE
    assert {p["escalation"] for p in predictions if p["escalated"]} == {"low_confidence"}
    routed = tool["routed"]
    assert routed["served_by_slm"] == cascade["agreement"]["n"]
    assert routed["agreement"]["value"] == cascade["agreement"]["value"]
    assert routed["escalation_rate"]["value"] == pytest.approx(cascade["escalation_rate"]["value"])

    # only the kept share moves
    report = read_json(out / "report.json")
    total = N_TOOL + 30 + 2
    assert report["headline"]["share_calls_moved"] == pytest.approx(share * N_TOOL / total)
    row = report["clusters"][0]
    assert row["coverage"] == pytest.approx(share) and row["kept_agreement"]["n"] == cascade["agreement"]["n"]
    assert row["signal"] == "tool_span_mean_logprob" and row["cost_quality_curve"]
    html = (out / "report.html").read_text()
    assert "coverage (cost)" in html and "over confidence thresholds" in html
    assert result.summary["clusters"][0]["coverage"] == pytest.approx(share)


def test_uninformative_confidence_is_not_promoted(ws):
    noisy = {c: random.Random(c + "lp").choice([-0.2, -0.5, -1.0]) for c in IDS}
    generator = ReferenceGenerator(wrong=set(IDS) - SURE, logprobs=noisy)
    out, _ = _run(ws, _params(), generator, _assigner())
    tool = read_json(out / "evaluation.json")["clusters"][0]
    assert not tool["promotion"]["promoted"]
    assert tool["promotion"]["reason"].startswith("stays on the LLM: no confidence threshold")
    # decided on validation: the test sample is not generated for nothing
    assert tool["stopped_early"].startswith("decided on validation") and tool["specialist"] is None
    assert generator.calls == 40
    assert read_json(out / "report.json")["headline"]["share_calls_moved"] == 0
