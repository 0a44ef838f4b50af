"""Router decisions, every escalation rule, and replay numbers (fake assigner and generator)."""

from __future__ import annotations

import pytest

from slmconvert.router.config import EscalationRules, RouterConfig
from slmconvert.router.replay import replay
from tests.router.fakes import FakeGenerator, call, make_router, tool_text


def test_route_decisions(tmp_path):
    router = make_router(tmp_path)
    promoted, unpromoted, ood = router.route_many([call("a", cluster=0), call("b", cluster=1), call("c", cluster=-1)])
    assert promoted.route == "slm" and promoted.model == "tiny" and promoted.cluster_id == 0
    assert promoted.adapter == str((tmp_path / "adapters" / "0").resolve())
    assert unpromoted.route == "llm" and "open-ended" in unpromoted.reason
    assert ood.route == "llm" and ood.cluster_id == -1 and "outside every known cluster" in ood.reason
    unknown = router.decide(7, 0.9)
    assert unknown.route == "llm" and "no route" in unknown.reason
    assert router.route(call("d", cluster=0)).call_id == "d"


def test_router_config_round_trip(tmp_path):
    router = make_router(tmp_path, threshold=-0.5)
    again = RouterConfig.load(tmp_path / "router")
    assert again.to_dict() == router.config.to_dict()
    assert again.route_for(0).confidence_threshold == -0.5


CASES = {
    "ok": (tool_text("lookup_order", '{"order_id": "A-17"}'), None),
    "unparseable": ("<tool_call>{not json</tool_call>", "parse_error"),
    "empty": ("   ", "parse_error"),
    "unknown_tool": (tool_text("delete_everything", '{"order_id": "A-17"}'), "unknown_tool"),
    "bad_args": (tool_text("lookup_order", '{"order_id": 17}'), "schema_error"),
    "extra_arg": (tool_text("lookup_order", '{"order_id": "A-17", "force": true}'), "schema_error"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_escalation_rule(tmp_path, case):
    text, expected = CASES[case]
    router = make_router(tmp_path)
    served = router.serve([call(case)], FakeGenerator({case: (text, -0.1)}))[0]
    assert served.escalation == expected
    assert served.final_route == ("slm" if expected is None else "llm")


def test_rules_can_be_switched_off(tmp_path):
    rules = EscalationRules(parse_error=True, unknown_tool=False, schema_error=False)
    router = make_router(tmp_path, rules=rules)
    gen = FakeGenerator({k: (v[0], -0.1) for k, v in CASES.items()})
    served = {s.decision.call_id: s for s in router.serve([call(k) for k in CASES], gen)}
    assert served["unknown_tool"].escalation is None
    assert served["bad_args"].escalation is None
    assert served["unparseable"].escalation == "parse_error"


def test_low_confidence_escalates(tmp_path):
    router = make_router(tmp_path, threshold=-0.5)
    text = CASES["ok"][0]
    gen = FakeGenerator({"sure": (text, -0.1), "unsure": (text, -2.0)})
    served = {s.decision.call_id: s for s in router.serve([call("sure"), call("unsure")], gen)}
    assert served["sure"].escalation is None and served["sure"].score == pytest.approx(-0.1)
    assert served["unsure"].escalation == "low_confidence"
    assert "< threshold -0.500" in served["unsure"].detail


def test_each_route_scores_with_its_own_signal_and_unknown_confidence_escalates(tmp_path):
    router = make_router(tmp_path, threshold=-0.5)
    router.config.route_for(0).confidence_measure = "min_logprob"
    text = CASES["ok"][0]
    gen = FakeGenerator({"mixed": (text, -0.1), "unknown": (text, -0.1)})
    original = gen.generate

    def generate(*args, **kwargs):
        out = original(*args, **kwargs)
        for g, r in zip(out, args[3], strict=True):
            if r["call_id"] == "mixed":
                g.logprobs[-1] = -3.0  # one unsure token: mean above the threshold, minimum below
            else:
                g.logprobs = None
        return out

    gen.generate = generate
    served = {s.decision.call_id: s for s in router.serve([call("mixed"), call("unknown")], gen)}
    assert served["mixed"].score == -3.0 and served["mixed"].escalation == "low_confidence"
    assert served["unknown"].score is None and served["unknown"].escalation == "low_confidence"
    assert "confidence unknown" in served["unknown"].detail


def test_json_response_schema_rule(tmp_path):
    router = make_router(tmp_path)
    schema = {"type": "object", "properties": {"intent": {"enum": ["refund", "track"]}}, "required": ["intent"]}
    base = call("j") | {"tools": [], "response_format": {"type": "json_schema", "json_schema": {"schema": schema}}}
    good = base | {"call_id": "good"}
    bad = base | {"call_id": "bad"}
    prose = base | {"call_id": "prose"}
    gen = FakeGenerator({"good": ('{"intent": "refund"}', -0.1), "bad": ('{"intent": "cancel"}', -0.1),
                         "prose": ("I think it is a refund", -0.1)})
    served = {s.decision.call_id: s for s in router.serve([good, bad, prose], gen)}
    assert served["good"].escalation is None
    assert served["bad"].escalation == "schema_error"
    assert served["prose"].escalation == "parse_error"


def test_only_promoted_clusters_reach_the_generator(tmp_path):
    router = make_router(tmp_path)
    gen = FakeGenerator({"a": (CASES["ok"][0], -0.1)})
    served = router.serve([call("a", cluster=0), call("b", cluster=1), call("c", cluster=-1)], gen)
    assert [r[2] for r in gen.requests] == [["a"]]
    assert [s.final_route for s in served] == ["slm", "llm", "llm"]
    assert served[1].generation is None


def test_replay_numbers(tmp_path):
    router = make_router(tmp_path, threshold=-1.0)
    ok = CASES["ok"][0]
    wrong = tool_text("lookup_order", '{"order_id": "A-99"}')  # valid but disagrees with the LLM
    script = {
        "r1": (ok, -0.1), "r2": (ok, -0.2), "r3": (wrong, -0.3),            # kept: 2 agree, 1 not
        "r4": (CASES["unknown_tool"][0], -0.1),                              # escalated by rule
        "r5": (ok, -3.0),                                                    # escalated by confidence
    }
    records = [call(k, cluster=0) for k in script] + [call("t1", cluster=1), call("m1", cluster=0)]
    script["m1"] = (ok, -0.1)
    true = {"m1": 1}  # m1 really belongs to cluster 1 but the router sent it to 0
    result = replay(router, records, FakeGenerator(script), true_cluster=true)
    o = result.overall
    assert o["calls"] == 7 and o["routed_slm"] == 6
    assert o["escalation_rate"]["value"] == pytest.approx(2 / 6) and o["escalation_rate"]["n"] == 6
    assert o["escalations"] == {"low_confidence": 1, "unknown_tool": 1}
    assert o["agreement"]["value"] == pytest.approx(3 / 4)  # r1, r2, m1 agree; r3 does not
    assert o["served_quality"]["value"] == pytest.approx(5 / 6)
    assert o["slm_agreement_before_escalation"]["value"] == pytest.approx(4 / 6)  # r5's answer was right
    assert o["misrouted_share"] == pytest.approx(1 / 7)
    assert o["escalation_rate"]["low"] < 2 / 6 < o["escalation_rate"]["high"]
    assert set(result.per_cluster) == {0, 1}
    assert result.per_cluster[1]["routed_slm"] == 0
    row = next(r for r in result.rows if r["call_id"] == "r3")
    assert row["agreement"] == 0.0 and row["final_route"] == "slm"
    assert row["slm_output"]["tool_calls"][0]["function"]["arguments"] == {"order_id": "A-99"}
