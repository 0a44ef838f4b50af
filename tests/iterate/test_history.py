"""history.json is carried forward and numbered."""

from __future__ import annotations

from slmconvert.iterate.history import extend, make_entry


def test_entries_accumulate_and_renumber():
    summary = {"clusters_found": 3, "promoted": [1], "replay": {"escalation_rate": 0.1},
               "economics": {"share_calls_moved": 0.4, "cost_cut": 0.3},
               "clusters": [{"cluster_id": 1, "promoted": True, "escalation_rate": 0.1, "agreement": 0.95}]}
    first = extend([], make_entry("v1", {"cluster": "c1"}, summary))
    assert first["iterations"][0]["iteration"] == 1 and first["iterations"][0]["kind"] == "initial"
    weekly = {"drift": {"new_calls": 10}, "actions": {"recluster": False}}
    second = extend(first["iterations"], make_entry("v2", {"cluster": "c1"}, summary, weekly))
    assert [e["iteration"] for e in second["iterations"]] == [1, 2]
    assert second["iterations"][1]["kind"] == "weekly"
    assert second["iterations"][1]["per_cluster"]["1"]["agreement"] == 0.95
    again = extend(second["iterations"], make_entry("v2", {}, summary, weekly))  # same version: replaced
    assert len(again["iterations"]) == 2
