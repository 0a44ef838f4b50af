"""Presidio configuration: offline, country-restricted, thresholds, allow-list, cache, NER gating."""

from __future__ import annotations

import pytest
import tldextract

from slmconvert.curate.analyzer import PiiAnalyzer
from slmconvert.curate.params import CurateParams
from slmconvert.errors import ConfigError

from .conftest import NETWORK_ATTEMPTS, found


def nhs_valid(first9: str) -> str | None:
    total = sum(int(d) * w for d, w in zip(first9, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    return None if check == 10 else first9 + str(0 if check == 11 else check)


def test_no_network_attempt_while_building_and_validating_emails(analyzer):
    assert NETWORK_ATTEMPTS == []
    assert found(analyzer, "mail me at kim@brand-new-shop.store") == [("EMAIL_ADDRESS", "kim@brand-new-shop.store")]
    assert NETWORK_ATTEMPTS == []


def test_the_network_guard_would_notice_a_fetch(tmp_path):
    before = len(NETWORK_ATTEMPTS)
    stock = tldextract.TLDExtract(cache_dir=str(tmp_path), suffix_list_urls=("https://publicsuffix.org/list/x.dat",))
    stock("someone.example.com")  # tries to fetch, falls back to the snapshot
    assert len(NETWORK_ATTEMPTS) > before
    del NETWORK_ATTEMPTS[before:]


def test_only_configured_countries(analyzer):
    assert analyzer.engine.registry.get_country_codes() == ["us"]
    number = next(n for n in (nhs_valid(f"415555{i:03d}") for i in range(100, 200)) if n)
    phone = f"{number[:3]}-{number[3:6]}-{number[6:]}"
    assert found(analyzer, f"call me on {phone}") == [("PHONE_NUMBER", phone)]


def test_url_hits_inside_emails_are_removed():
    params = CurateParams(entities=["EMAIL_ADDRESS", "URL"], scrub_secrets=False)
    custom = PiiAnalyzer(params)
    assert found(custom, "write to jane.doe@gmail.com today") == [("EMAIL_ADDRESS", "jane.doe@gmail.com")]
    assert ("URL", "https://shop.example.com/help") in found(custom, "see https://shop.example.com/help")


def test_allow_list_and_thresholds(analyzer):
    allowed = PiiAnalyzer(CurateParams(allow_list=["support@shopright.com"]), engine=analyzer.engine)
    assert found(allowed, "write to support@shopright.com or jane@gmail.com") == [("EMAIL_ADDRESS", "jane@gmail.com")]
    strict = PiiAnalyzer(CurateParams(score_thresholds={"PHONE_NUMBER": 0.9}), engine=analyzer.engine)
    assert found(strict, "reach 415-555-0132") == []
    assert found(analyzer, "reach 415-555-0132") == [("PHONE_NUMBER", "415-555-0132")]


def test_unknown_entity_is_a_config_error(analyzer):
    with pytest.raises(ConfigError, match="NOT_A_TYPE"):
        PiiAnalyzer(CurateParams(entities=["PERSON", "NOT_A_TYPE"]), engine=analyzer.engine)


def test_each_unique_text_is_analysed_once(analyzer):
    fresh = PiiAnalyzer(CurateParams(), engine=analyzer.engine)
    text = "Hello Marcus Whitaker, your order SR-1234567 shipped."
    first = fresh.analyze([(text, True), (text, True), ("SR-1234567", True)])
    again = fresh.analyze([(text, True)])
    assert first[(text, True)] == again[(text, True)]
    assert fresh.stats["ner"] == 1 and fresh.stats["regex_only"] == 1 and fresh.stats["cache_hits"] == 1


def test_analysis_failure_returns_none(analyzer, monkeypatch):
    fresh = PiiAnalyzer(CurateParams(), engine=analyzer.engine)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(fresh.engine, "analyze", broken)
    assert fresh.analyze_text("Jane Doe lives here") is None
    assert fresh.stats["errors"] == 1
