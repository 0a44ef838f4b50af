from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from slmconvert.util.jsonio import canonical_json, sha256_json
from slmconvert.util.tables import TableWriter, count_rows, iter_table, read_table, write_table


def test_nested_records_round_trip(tmp_path):
    rows = [
        {"call_id": "a", "messages": [{"role": "user", "content": "hi"}], "latency_ms": 1.5, "tag": None},
        {"call_id": "b", "messages": [], "latency_ms": 2.0, "tag": "x"},
    ]
    path = tmp_path / "t.parquet"
    assert write_table(path, rows) == 2
    assert read_table(path) == rows
    assert count_rows(path) == 2
    assert pq.read_schema(path).field("messages").type == "string"


def test_streaming_in_batches_and_pinned_types(tmp_path):
    path = tmp_path / "t.parquet"
    with TableWriter(path, batch_rows=3, json_columns=["meta"], types={"x": __import__("pyarrow").float64()}) as w:
        for i in range(10):
            w.write({"i": i, "x": i if i < 5 else i + 0.5, "meta": None if i < 4 else {"i": i}})
    got = list(iter_table(path))
    assert [r["i"] for r in got] == list(range(10))
    assert got[9]["x"] == 9.5 and got[0]["meta"] is None and got[5]["meta"] == {"i": 5}


def test_failed_writer_leaves_no_file(tmp_path):
    out = tmp_path / "out"
    path = out / "t.parquet"
    with pytest.raises(RuntimeError):
        with TableWriter(path, batch_rows=1) as w:
            w.write({"a": 1})
            raise RuntimeError("stop")
    assert not list(out.iterdir())


def test_empty_table(tmp_path):
    path = tmp_path / "t.parquet"
    write_table(path, [])
    assert read_table(path) == []


def test_canonical_json_is_order_independent():
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == '{"a":[1,{"c":3,"d":2}],"b":1}'
    assert sha256_json({"a": 1, "b": 2}) == sha256_json({"b": 2, "a": 1})


def test_pre_encoded_json_bytes_are_stored_verbatim(tmp_path):
    path = tmp_path / "t.parquet"
    with TableWriter(path, json_columns=["doc"], batch_rows=2, dictionary_columns=["tag"]) as w:
        w.write({"tag": "a", "doc": b'{"b":1,"a":[1.0,true]}'})
        w.write({"tag": "a", "doc": {"z": 1, "y": 2}})
        w.write({"tag": "b", "doc": None})
    assert pq.read_table(path).column("doc").to_pylist() == ['{"b":1,"a":[1.0,true]}', '{"y":2,"z":1}', None]
    assert read_table(path)[0]["doc"] == {"b": 1, "a": [1.0, True]}


def test_pre_encoded_bytes_must_be_utf8(tmp_path):
    with pytest.raises(ValueError, match="not UTF-8"):
        with TableWriter(tmp_path / "t.parquet", json_columns=["doc"]) as w:
            w.write({"doc": b'"\xff"'})


def test_rows_missing_keys_and_new_keys(tmp_path):
    path = tmp_path / "t.parquet"
    with TableWriter(path, batch_rows=2) as w:
        for row in ({"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": 3}):
            w.write(row)
    assert read_table(path)[2] == {"a": 3, "b": None}
    with pytest.raises(ValueError, match="gained columns"):
        with TableWriter(tmp_path / "u.parquet", batch_rows=1) as w:
            w.write({"a": 1})
            w.write({"a": 1, "c": 2})
