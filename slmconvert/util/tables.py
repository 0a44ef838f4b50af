"""Parquet tables of records whose nested values (dicts, lists) are stored as JSON text.

Nested call records (messages, tool calls with free-form arguments) have no fixed Arrow type,
so every dict/list column is written as JSON text and listed in the file's metadata; readers
decode those columns back, and plain columns keep their native Arrow types.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

_JSON_COLUMNS_KEY = b"slmconvert.json_columns"
DEFAULT_BATCH_ROWS = 2000


def _is_nested(value: Any) -> bool:
    return isinstance(value, (dict, list, tuple))


class TableWriter:
    """Streams rows (dicts) into a Parquet file in row batches; columns fixed by the first batch.

    A column is JSON-encoded when any value in the first batch is a dict or list (or when named
    in `json_columns`); in such a column a `bytes` value is taken as JSON text the caller has
    already encoded (UTF-8, e.g. canonical JSON it also hashed) and stored as is, so nothing is
    serialised twice. `types` pins Arrow types the first batch cannot show (e.g. float columns
    whose first values are ints). `dictionary_columns` limits Parquet dictionary encoding to
    the columns named (few distinct values); by default every column tries it. Use as a context
    manager; the file only appears on close.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        json_columns: Iterable[str] = (),
        batch_rows: int = DEFAULT_BATCH_ROWS,
        types: dict[str, pa.DataType] | None = None,
        dictionary_columns: Iterable[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.partial")
        self._json_columns = set(json_columns)
        self._types = dict(types or {})
        self._batch_rows = batch_rows
        self._use_dictionary: bool | list[str] = True if dictionary_columns is None else list(dictionary_columns)
        self._buffer: list[dict[str, Any]] = []
        self._columns: list[str] | None = None
        self._schema: pa.Schema | None = None
        self._writer: pq.ParquetWriter | None = None
        self.rows_written = 0

    def write(self, row: dict[str, Any]) -> None:
        """Queue one row; flushes a batch when full."""
        self._buffer.append(row)
        if len(self._buffer) >= self._batch_rows:
            self._flush()

    def _encode_column(self, name: str, values: list[Any]) -> list[Any] | pa.Array:
        if name not in self._json_columns:
            return values
        encoded = [v if v is None or type(v) is bytes else orjson.dumps(v, option=orjson.OPT_SORT_KEYS) for v in values]
        try:  # bytes -> Arrow strings in one pass; the cast checks that pre-encoded values are UTF-8
            return pa.array(encoded, type=pa.binary()).cast(pa.string())
        except pa.ArrowInvalid as exc:
            raise ValueError(f"{self.path.name}: column {name!r} holds bytes that are not UTF-8 JSON text: {exc}") from exc

    def _flush(self) -> None:
        if not self._buffer:
            return
        if self._columns is None:
            self._columns = list(dict.fromkeys(k for row in self._buffer for k in row))
            for name in self._columns:
                if any(_is_nested(row.get(name)) for row in self._buffer):
                    self._json_columns.add(name)
        arrays = {name: self._encode_column(name, values) for name, values in zip(self._columns, self._column_values())}
        try:
            if self._schema is None:
                table = pa.table(arrays)
                for name, dtype in self._types.items():
                    if name in self._columns:
                        index = table.schema.get_field_index(name)
                        table = table.set_column(index, name, table.column(name).cast(dtype))
            else:
                table = pa.table(arrays, schema=self._schema)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise ValueError(f"{self.path.name}: a row does not fit the table's columns: {exc}") from exc
        if self._writer is None:
            metadata = {_JSON_COLUMNS_KEY: orjson.dumps(sorted(self._json_columns))}
            self._schema = _nullable_schema(table.schema).with_metadata(metadata)
            table = table.cast(self._schema)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, self._schema, compression="zstd",
                                            use_dictionary=self._use_dictionary)
        self._writer.write_table(table)
        self.rows_written += len(self._buffer)
        self._buffer = []

    def _column_values(self) -> list[list[Any]]:
        """The buffered rows transposed into one list per column (missing keys are None)."""
        columns = self._columns or []
        if not columns:
            return []
        present = set().union(*self._buffer)
        unknown = present - set(columns)
        if unknown:
            raise ValueError(f"rows gained columns after the first batch: {sorted(unknown)}")
        if len(columns) == 1:
            return [[row.get(columns[0]) for row in self._buffer]]
        width = len(columns)
        if len(present) == width and all(len(row) == width for row in self._buffer):  # every row complete
            return [list(values) for values in zip(*map(itemgetter(*columns), self._buffer))]
        return [[row.get(name) for row in self._buffer] for name in columns]

    def close(self) -> None:
        """Flush, finish the file and move it into place (an empty table still gets a file)."""
        self._flush()
        if self._writer is None:
            schema = pa.schema([]).with_metadata({_JSON_COLUMNS_KEY: b"[]"})
            pq.write_table(pa.table({}, schema=schema), self._tmp)
        else:
            self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop a partly written file."""
        if self._writer is not None:
            self._writer.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _nullable_schema(schema: pa.Schema) -> pa.Schema:
    """All-null first batches get type null; widen those to string so later values fit."""
    fields = [
        pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type, nullable=True)
        for f in schema
    ]
    return pa.schema(fields)


def write_table(
    path: str | os.PathLike[str], rows: Iterable[dict[str, Any]], json_columns: Iterable[str] = ()
) -> int:
    """Write all rows to a Parquet file; returns the number of rows."""
    with TableWriter(path, json_columns=json_columns) as writer:
        for row in rows:
            writer.write(row)
    return writer.rows_written


def json_columns_of(schema: pa.Schema) -> set[str]:
    """Names of the columns stored as JSON text."""
    raw = (schema.metadata or {}).get(_JSON_COLUMNS_KEY)
    return set(orjson.loads(raw)) if raw else set()


def _decode_batch(batch: pa.RecordBatch, json_cols: set[str]) -> Iterator[dict[str, Any]]:
    columns = {}
    for name in batch.schema.names:
        values = batch.column(name).to_pylist()
        if name in json_cols:
            values = [None if v is None else orjson.loads(v) for v in values]
        columns[name] = values
    names = list(columns)
    for i in range(batch.num_rows):
        yield {name: columns[name][i] for name in names}


def decode_rows(batch: pa.RecordBatch | pa.Table, json_cols: set[str]) -> list[dict[str, Any]]:
    """Rows of a batch read from a TableWriter file (by any reader), JSON columns decoded."""
    return list(_decode_batch(batch, json_cols))


def iter_table(
    path: str | os.PathLike[str], columns: list[str] | None = None, batch_rows: int = DEFAULT_BATCH_ROWS
) -> Iterator[dict[str, Any]]:
    """Stream rows of a table written by TableWriter, decoding JSON columns."""
    parquet = pq.ParquetFile(path)
    json_cols = json_columns_of(parquet.schema_arrow)
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
        yield from _decode_batch(batch, json_cols)


def read_table(path: str | os.PathLike[str], columns: list[str] | None = None) -> list[dict[str, Any]]:
    """All rows of a table as decoded dicts."""
    return list(iter_table(path, columns=columns))


def count_rows(path: str | os.PathLike[str]) -> int:
    """Row count from the Parquet footer, without reading data."""
    return pq.ParquetFile(path).metadata.num_rows
