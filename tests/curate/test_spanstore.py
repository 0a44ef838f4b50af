"""Analyzer results kept across curate runs: same spans, no second analysis, fresh store on any change."""

from __future__ import annotations

import pytest
from rich.console import Console

from slmconvert.curate.analyzer import PiiAnalyzer
from slmconvert.curate.params import CurateParams
from slmconvert.curate.spans import Span
from slmconvert.curate.spanstore import SpanStore, digest_key, open_store, store_fingerprint
from slmconvert.stages.runner import execute
from slmconvert.util.jsonio import read_json
from slmconvert.util.tables import read_table
from tests.curate.test_stage import CANARIES
from tests.curate.test_stage import workspace as workspace  # noqa: F401 - the fixture

SECRET = bytes(range(32))
KEY = digest_key(SECRET)
TEXTS = ["Hi, I'm Priya Raman, call me on (503) 618-2297.", "Order SR-1187082 shipped.", "user=tnguyen event=PICK"]


def test_fingerprint_follows_what_decides_the_spans():
    base = store_fingerprint(CurateParams())
    assert store_fingerprint(CurateParams(chunk_records=7, n_process=2, span_store=False)) == base
    assert store_fingerprint(CurateParams(score_thresholds={"PERSON": 0.9})) != base
    assert store_fingerprint(CurateParams(allow_list=["Priya"])) != base


def test_round_trip_and_stale_stores_are_removed(tmp_path):
    store = open_store(tmp_path, CurateParams(), SECRET)
    spans = (Span(0, 5, "PERSON", 0.85), Span(7, 9, "USERNAME", 0.8))
    store.put_many([(b"k" * 16, spans), (b"e" * 16, ())])
    assert store.get_many([b"k" * 16, b"e" * 16, b"x" * 16]) == {b"k" * 16: spans, b"e" * 16: ()}
    store.close()
    (tmp_path / "spans-0000000000000000.sqlite").write_bytes(b"an older fingerprint")
    open_store(tmp_path, CurateParams(), SECRET).close()
    assert [p.name for p in tmp_path.glob("spans-*.sqlite")] == [store.path.name]


def test_a_second_analyzer_reads_the_spans_instead_of_analysing(analyzer, params, tmp_path, monkeypatch):
    first = PiiAnalyzer(params, engine=analyzer.engine, store=SpanStore(tmp_path / "s.sqlite", KEY))
    expected = {text: first.analyze_text(text) for text in TEXTS}
    assert any(expected.values())
    second = PiiAnalyzer(params, engine=analyzer.engine, store=SpanStore(tmp_path / "s.sqlite", KEY))
    monkeypatch.setattr(second, "_analyze_pending", lambda pending: pytest.fail("analysed again"))
    assert {text: second.analyze_text(text) for text in TEXTS} == expected
    assert second.stats["store_hits"] == len(TEXTS) - second.stats["trivial"]


def test_curate_again_reuses_the_store_with_identical_output(workspace):  # noqa: F811
    quiet = Console(stderr=True, quiet=True)
    first = execute("curate", workspace, CurateParams(), console=quiet, quiet=True)
    again = execute("curate", workspace, CurateParams(), force=True, console=quiet, quiet=True)
    assert read_table(again.artifact.file("curated.parquet")) == read_table(first.artifact.file("curated.parquet"))
    assert read_json(again.artifact.file("audit.json"))["analyzer"]["store_hits"] > 0
    store_files = list(workspace.cache_dir("curate-spans").glob("spans-*.sqlite"))
    assert len(store_files) == 1
    stored = decoded_strings_of_sqlite(store_files[0])
    assert not [c for c in CANARIES if c.lower() in stored.lower()]


def decoded_strings_of_sqlite(path) -> str:
    """Everything in the store as text (keys hex, span lists as JSON): no raw value may be there."""
    import sqlite3

    with sqlite3.connect(path) as db:
        return " ".join(f"{bytes(k).hex()} {bytes(v).decode()}" for k, v in db.execute("SELECT key, spans FROM spans"))


def test_a_damaged_store_is_started_again_and_a_failing_one_is_dropped(tmp_path):
    path = tmp_path / "spans-x.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = SpanStore(path, KEY)
    assert store.failed is None and store.get_many([b"k" * 16]) == {}
    store.put_many([(b"k" * 16, (Span(0, 1, "PERSON", 0.9),))])
    assert store.get_many([b"k" * 16]) == {b"k" * 16: (Span(0, 1, "PERSON", 0.9),)}
    store._db.execute("DROP TABLE spans")  # the file changed under us
    assert store.get_many([b"k" * 16]) == {} and store.failed
    store.put_many([(b"j" * 16, ())])  # dropped: nothing raises
