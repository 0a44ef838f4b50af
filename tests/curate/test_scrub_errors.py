"""Scrub errors: counted by type, the first one described without record values, the stage failed
past curate.max_scrub_error_rate, and errored calls never passed through."""

from __future__ import annotations

from collections import Counter

import pytest

from slmconvert.curate.params import CurateParams
from slmconvert.curate.pipeline import Curator
from slmconvert.curate.synthetic import synthetic_calls
from slmconvert.errors import SlmError

from .conftest import KEY

CANARY_EMAIL, CANARY_NAME = "wilhelmina.zorp@example.org", "Wilhelmina Zorp"


class RaisingAnalyzer:
    """An analyzer with a bug: every batch that holds `poison` raises, with record text in its message."""

    def __init__(self, poison: str | None = None) -> None:
        self.poison = poison
        self.stats: Counter = Counter()
        self.batches = 0

    def analyze(self, units):
        self.batches += 1
        units = list(units)
        if self.poison is None or any(self.poison in text for text, _ in units):
            raise KeyError(f"no span for {CANARY_NAME} <{CANARY_EMAIL}> in 'text'")
        return {unit: () for unit in units}


def calls_with_canary(n_conversations: int) -> list[dict]:
    calls = synthetic_calls(n_conversations, seed=3)
    for call in calls:
        call["messages"][1]["content"] += f" I am {CANARY_NAME}, {CANARY_EMAIL}."
    return calls


def test_errors_are_counted_by_type_and_described_without_values():
    calls = calls_with_canary(2)
    curator = Curator(CurateParams(max_scrub_error_rate=1.0, chunk_records=2), KEY, analyzer=RaisingAnalyzer())
    rows = list(curator.curate(calls))
    assert [r["reason"] for r in rows] == ["scrub_error"] * len(calls)
    assert not any(CANARY_EMAIL in str(r) or CANARY_NAME in str(r) for r in rows)
    summary = curator.summary()
    assert summary["scrub_errors"] == len(calls) and summary["scrub_errors_by_type"] == {"KeyError": len(calls)}
    first = summary["first_scrub_error"]
    assert first.startswith("KeyError in analyze (test_scrub_errors.py:") and "no span for" in first
    assert CANARY_EMAIL not in first and "Wilhelmina" not in first and "Zorp" not in first


def test_one_bad_record_is_isolated_and_the_rest_scrubbed():
    calls = synthetic_calls(4, seed=5)
    calls[4]["metadata"]["note"] = "POISON"  # metadata is the one text no other call repeats
    curator = Curator(CurateParams(max_scrub_error_rate=0.2), KEY, analyzer=RaisingAnalyzer(poison="POISON"))
    rows = list(curator.curate(calls))
    assert [r["reason"] == "scrub_error" for r in rows] == [i == 4 for i in range(len(calls))]
    assert rows[4]["messages"] is None and rows[4]["workload_id"] is None and rows[4]["tools"] is None
    assert curator.summary()["scrub_errors_by_type"] == {"KeyError": 1}


def test_the_stage_fails_past_the_error_rate_and_stops_early():
    calls = calls_with_canary(20)  # 60 calls, 2 per chunk
    analyzer = RaisingAnalyzer()
    curator = Curator(CurateParams(chunk_records=2), KEY, analyzer=analyzer)
    with pytest.raises(SlmError) as raised:
        list(curator.curate(calls, total=len(calls)))
    message = str(raised.value)
    assert "could not scrub 2 of 60 calls" in message and "max_scrub_error_rate" in message
    assert "KeyError" in message and CANARY_EMAIL not in message and CANARY_NAME not in message
    assert analyzer.batches < 5  # stopped at the first chunk, not after analysing everything


def test_within_the_rate_the_run_finishes():
    calls = synthetic_calls(4, seed=5)
    calls[0]["metadata"]["note"] = "POISON"
    curator = Curator(CurateParams(max_scrub_error_rate=0.1), KEY, analyzer=RaisingAnalyzer(poison="POISON"))
    rows = list(curator.curate(calls, total=len(calls)))
    assert sum(r["reason"] == "scrub_error" for r in rows) == 1
    with pytest.raises(SlmError):
        list(Curator(CurateParams(max_scrub_error_rate=0.05), KEY,
                     analyzer=RaisingAnalyzer(poison="POISON")).curate(calls))
