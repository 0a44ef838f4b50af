"""Span precision/recall on the labelled synthetic PII set (every entity and secret type)."""

from __future__ import annotations

from slmconvert.curate.labelled import SECRET_TYPES, labelled_set, score


def test_labelled_set_covers_every_type():
    types = {entity for sample in labelled_set(120, seed=3) for _, _, entity in sample.spans}
    assert set(SECRET_TYPES) <= types
    assert {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS", "CREDIT_CARD", "US_SSN", "IBAN_CODE",
            "IP_ADDRESS", "US_PASSPORT", "US_DRIVER_LICENSE", "US_BANK_NUMBER"} <= types


def test_precision_and_recall(scrubber):
    samples = labelled_set(240, seed=11)
    predictions = [[(s.start, s.end, s.entity) for s in scrubber.text_spans(x.text, x.kind)] for x in samples]
    result = score(samples, predictions)
    assert result["recall"] >= 0.95, result
    assert result["precision"] >= 0.8, result
    assert result["secret_recall"] == 1.0, result


def test_scoring_can_fail():
    samples = labelled_set(30, seed=1)
    nothing = score(samples, [[] for _ in samples])
    assert nothing["recall"] == 0.0
    everything = score(samples, [[(0, len(x.text), "X")] for x in samples])
    assert everything["recall"] == 1.0 and everything["precision"] < 1.0
