"""calls.parquet: the column layout of call records and the Parquet writer for them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from slmconvert.collect.identity import JSON_FIELDS
from slmconvert.util.tables import TableWriter

CALLS_FILE = "calls.parquet"
COLUMN_TYPES = {
    "call_id": pa.string(), "timestamp": pa.string(), "workload_id": pa.string(), "client_id": pa.string(),
    "model": pa.string(), "finish_reason": pa.string(), "latency_ms": pa.float64(), "cost_usd": pa.float64(),
}
# Columns with few distinct values (tool lists repeat across the calls of a task): dictionary
# encoding pays off there; per-call columns skip its hashing.
DICTIONARY_COLUMNS = ("workload_id", "client_id", "model", "tools", "tool_choice", "response_format", "finish_reason")


def calls_writer(out_dir: Path, batch_rows: int) -> TableWriter:
    """A TableWriter for calls.parquet with the record's column types pinned."""
    return TableWriter(out_dir / CALLS_FILE, json_columns=JSON_FIELDS, batch_rows=batch_rows, types=COLUMN_TYPES,
                       dictionary_columns=DICTIONARY_COLUMNS)
