"""curate settings: ranges validated up front (exit 3), and settings that find less than the
defaults warned about and recorded by name in audit.json."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from slmconvert.curate.params import CurateParams
from slmconvert.curate.recall import recall_lowering_settings


@pytest.mark.parametrize("values", [
    {"default_score_threshold": 7}, {"default_score_threshold": -0.1}, {"score_thresholds": {"PERSON": 1.5}},
    {"score_thresholds": {"EMAIL_ADDRESS": -1}}, {"max_scrub_error_rate": 2}, {"max_scrub_error_rate": -0.5},
    {"max_tokens": 0}, {"chunk_records": 0}, {"nlp_batch_size": 0}, {"n_process": 0}, {"cache_size": -1},
])
def test_out_of_range_values_are_refused(values):
    with pytest.raises(ValidationError):
        CurateParams(**values)


def test_defaults_lower_nothing():
    assert recall_lowering_settings(CurateParams()) == []
    assert recall_lowering_settings(CurateParams(default_score_threshold=0.3, allow_list=["localhost"],
                                                 score_thresholds={"PERSON": 0.5})) == []


def test_each_recall_lowering_setting_is_named():
    found = recall_lowering_settings(CurateParams(
        default_score_threshold=0.8, score_thresholds={**CurateParams().score_thresholds, "PERSON": 0.95},
        entities=[e for e in CurateParams().entities if e != "PHONE_NUMBER"], scrub_secrets=False,
        field_hints=False, propagate=False, allow_list=["127.0.0.1", "emily.carter77@fastmail.com", "Emily"],
        countries=["GB"]))
    by_name = {f["setting"]: f["value"] for f in found}
    assert by_name["default_score_threshold"] == 0.8 and by_name["score_thresholds.PERSON"] == 0.95
    assert "PHONE_NUMBER" in by_name["entities"] and by_name["scrub_secrets"] is False
    assert by_name["field_hints"] is False and by_name["propagate"] is False and "US" in by_name["countries"]
    assert by_name["allow_list"] == "2 entries added"
    assert "emily" not in str(found).lower()  # allow-list entries are the user's words: counted, never listed
    fallback = {f["setting"] for f in recall_lowering_settings(CurateParams(score_thresholds={}))}
    assert "score_thresholds.PHONE_NUMBER" in fallback  # without its own 0.4 it falls back to 0.5
    assert "score_thresholds.US_SSN" not in fallback  # 0.5 either way
