"""Tool schemas shared by nearly all of a cluster's calls are learnt, not shown (a rare drift keeps
them dropped), and the drift hash names the schemas most calls carry."""

from __future__ import annotations

from slmconvert.finetune import data as fdata
from slmconvert.util.jsonio import sha256_json
from tests.finetune.conftest import TOOLS, cluster_records

DRIFTED = [{**TOOLS[0], "function": {**TOOLS[0]["function"], "description": "Look up an order (v2)."}}]


def _with_drift(records, drifted):
    return [{**r, "tools": DRIFTED} if i < drifted else r for i, r in enumerate(records)]


def test_tools_dropped_when_nearly_every_call_shares_them():
    records = cluster_records(n_train=40).train
    assert fdata.distillation_flags(_with_drift(records, 1), "auto")[1] is True  # 39/40 share them
    assert fdata.distillation_flags(_with_drift(records, 4), "auto")[1] is False  # 36/40: too varied
    assert fdata.distillation_flags(_with_drift(records, 1), "off") == (False, False)


def test_drift_hash_is_that_of_the_dominant_schemas():
    from slmconvert.models.prompt import PromptFormat

    records = _with_drift(cluster_records(n_train=40).train, 1)  # the first record drifted
    context = fdata.distilled_context(records, PromptFormat(drop_tools=True))
    assert context["tools_sha256"] == sha256_json(fdata.tools_key(records[1]))
    assert fdata.dominant_tools(records) == (fdata.tools_key(records[1]), 39)
