"""A report.json-shaped dict with every section filled (hand-made numbers)."""

from __future__ import annotations

from typing import Any

from slmconvert.report.data import build_report


def _m(value: float, low: float, high: float, n: int) -> dict[str, Any]:
    return {"value": value, "low": low, "high": high, "n": n, "kind": "rate"}


def sample_report() -> dict[str, Any]:
    metric = "function_name_and_args_accuracy"
    entries = [
        {"cluster_id": 0, "label": 'tool_call: lookup_order — "where is my <order>"', "output_type": "tool_call",
         "size": 900, "share_calls": 0.3, "candidate": True, "candidate_reason": None, "model": "smollm2-135m-instruct",
         "primary_metric": metric,
         "specialist": {"metrics": {metric: _m(0.98, 0.93, 0.99, 48)}, "timing": {"latency_ms_p50": 900.0}},
         "base": {"metrics": {metric: _m(0.1, 0.03, 0.3, 16)}},
         "promotion": {"promoted": True, "reason": "promoted: lower bound 0.930 >= target 0.90 (n=48)"},
         "routed": {"escalation_rate": _m(0.04, 0.01, 0.14, 48), "agreement": _m(0.99, 0.9, 1.0, 46),
                    "served_quality": _m(0.99, 0.9, 1.0, 48), "escalations": {"schema_error": 2}},
         "agreement_metric": metric,
         "cascade": {"promoted": True, "signal": "min_logprob", "signal_auroc": 0.91,
                     "auroc": {"tool_span_mean_logprob": 0.88, "mean_logprob": 0.8, "min_logprob": 0.91},
                     "threshold": -0.42, "coverage": 0.72, "cost_share": 0.69, "validation_calls": 40, "test_calls": 120,
                     "agreement": _m(0.988, 0.936, 0.998, 86), "escalation_rate": _m(0.28, 0.21, 0.37, 120),
                     "escalations": {"low_confidence": 30, "schema_error": 4},
                     "candidates": [{"threshold": -0.42, "level": 0.95, "passed": True,
                                     "test": {"coverage": 0.72, "agreement": _m(0.988, 0.936, 0.998, 86)}}],
                     "curve": [{"threshold": None, "coverage": 0.97, "cost_share": 0.96, "agreement": 0.8},
                               {"threshold": -0.42, "coverage": 0.72, "cost_share": 0.69, "agreement": 0.988},
                               {"threshold": -0.1, "coverage": 0.3, "cost_share": 0.25, "agreement": 1.0}]}},
        {"cluster_id": 1, "label": "text: draft, reply & <script>alert(1)</script>", "output_type": "text",
         "size": 400, "share_calls": 0.13, "candidate": False, "candidate_reason": "open-ended free text",
         "primary_metric": "rouge_l", "specialist": None, "base": None,
         "promotion": {"promoted": False, "reason": "stays on the LLM: open-ended free text"}},
    ]
    economics = {"total_calls": 3000, "cost_known_calls": 2990, "llm_cost_usd": 12.5, "share_calls_moved": 0.29,
                 "share_tokens_moved": 0.2, "share_cost_moved": 0.18, "slm_cost_usd": 0.01,
                 "escalated_llm_cost_usd": 0.05, "cost_after_usd": 10.26, "cost_cut": 0.179,
                 "prices": {"slm_input_per_1m": 0.03, "slm_output_per_1m": 0.06}}
    curve = [{"threshold": t / 100, "promoted": [0] if t <= 93 else [], "cost_cut": 0.179 if t <= 93 else 0.0,
              "share_calls_moved": 0.29 if t <= 93 else 0.0, "share_cost_moved": 0.18 if t <= 93 else 0.0,
              "quality_vs_llm": 0.997 if t <= 93 else 1.0} for t in range(50, 100)]
    history = [
        {"iteration": 1, "version": "20261101T000000Z-aaaaaa", "kind": "initial", "clusters": 2, "promoted": [0],
         "escalation_rate": 0.06, "share_calls_moved": 0.27, "cost_cut": 0.16},
        {"iteration": 2, "version": "20261108T000000Z-bbbbbb", "kind": "weekly", "clusters": 2, "promoted": [0],
         "escalation_rate": 0.04, "share_calls_moved": 0.29, "cost_cut": 0.179,
         "drift": {"new_calls": 300, "ood_share": 0.02}, "actions": {"recluster": False, "retrain": {"0": "grew"}}},
    ]
    drift = {"new_calls": 300, "ood_share": 0.02, "baseline_ood_share": 0.01, "mix_shift": 0.03,
             "recluster_reasons": [], "retrain": {"0": "data grew by 30%"}}
    return build_report(
        version="20261108T000000Z-bbbbbb", lineage={"cluster": "c1", "finetune": "f1"}, entries=entries,
        replay_overall={"escalation_rate": _m(0.04, 0.01, 0.14, 48), "served_quality": _m(0.99, 0.9, 1.0, 48)},
        economics=economics, curve=curve, history=history,
        settings={"promotion_target": 0.9}, llm_latency={0: 1800.0, 1: 5000.0}, drift=drift,
        method=["numbers are made up for this test"],
    )
