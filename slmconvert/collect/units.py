"""Raw input units -> outcomes (call, reject, batch half, blank), with no shared state.

This is the CPU-heavy, embarrassingly parallel part of collect (parse, detect, normalise,
canonicalise, hash). It runs in-process or in worker processes; outcomes are small tuples of
bytes and plain values so they cross process boundaries cheaply, and the collector consumes
them in input order.
"""

from __future__ import annotations

import json

import orjson

from slmconvert.collect import formats
from slmconvert.collect.formats import openai_batch
from slmconvert.collect.formats.common import RecordRejected
from slmconvert.collect.formats.openai_chat import NAME as OPENAI_CHAT
from slmconvert.collect.identity import SMALL_FIELDS, encode_identity, tool_names
from slmconvert.collect.rejects import excerpt
from slmconvert.collect.toolcache import TOOLS

# Outcome tags (first element of each outcome tuple).
BLANK, REJECT, HALF, CALL = 0, 1, 2, 3
# Raw unit as it travels: (line, data, problem, index)
RawUnit = tuple[int, bytes, "tuple[str, str] | None", "int | None"]
NORMALISE_ERRORS = (KeyError, TypeError, AttributeError, IndexError, ValueError)


BOM = b"\xef\xbb\xbf"


def parse_record(data: bytes) -> object:
    """Parse one record's JSON; failures become rejects with a precise reason."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        error = exc
    if data.startswith(BOM):  # files concatenated with their byte-order marks
        return parse_record(data[len(BOM):])
    if b"\x00" in data:  # only on the failure path: the hot path pays nothing for it
        raise RecordRejected("NUL bytes", f"{data.count(0)} NUL byte(s) from offset {data.index(0)} "
                                          "(binary data or a torn write in a text log)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordRejected("invalid UTF-8", f"undecodable byte at offset {exc.start}") from None
    if "depth" in error.msg:
        raise RecordRejected("JSON nested too deep", "more than 1024 levels of nesting") from None
    try:  # the stdlib parser accepts what orjson refuses on purpose (huge ints, NaN)
        return json.loads(text)
    except RecursionError:
        raise RecordRejected("JSON nested too deep", "nesting exceeds the parser's limit") from None
    except json.JSONDecodeError as exc:
        raise RecordRejected("invalid JSON", f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def guarded(fn, *args):
    """Call a normaliser; unexpected shapes become rejects instead of crashes."""
    try:
        return fn(*args)
    except RecordRejected:
        raise
    except RecursionError:
        raise RecordRejected("JSON nested too deep", "record too deeply nested to normalise") from None
    except NORMALISE_ERRORS as exc:
        raise RecordRejected("malformed record", f"{type(exc).__name__}: {exc}"[:300]) from None
    except Exception as exc:  # noqa: BLE001 - one odd record must never stop a multi-GB run
        raise RecordRejected("internal error", f"{type(exc).__name__}: {exc}"[:300]) from None


def call_outcome(partial: dict, line: int, index: int | None, fmt: str) -> tuple:
    """(CALL, line, format, digest, canonical content parts, small fields, tool names)."""
    digest, parts = encode_identity(partial)
    small = {k: partial[k] for k in SMALL_FIELDS}
    if index is not None:
        small["metadata"]["array_index"] = index
    return (CALL, line, fmt, digest, parts, small, tool_names(partial["output"]))


def _reject(line: int, index: int | None, fmt: str | None, exc: RecordRejected, data: bytes) -> tuple:
    """(REJECT, line, index, format guess or None = the file's running guess, reason, detail, excerpt)."""
    return (REJECT, line, index, fmt, exc.reason, exc.detail, excerpt(data))


def process_unit(line: int, data: bytes, problem: tuple[str, str] | None, index: int | None) -> list[tuple]:
    """Every outcome of one raw unit (OTLP or trace payloads can hold many calls)."""
    if problem is not None:
        return [_reject(line, index, None, RecordRejected(*problem), data)]
    if not data or data.isspace():
        return [(BLANK,)]
    fmt = None
    try:
        record = TOOLS.parse(data)
        learn = record is None
        if learn:
            record = parse_record(data)
        if type(record) is not dict:
            raise RecordRejected("not a JSON object", f"top-level JSON {type(record).__name__}")
        fmt = formats.detect(record)
        if fmt is None:
            fmt = formats.UNKNOWN
            raise RecordRejected("unknown format", f"no known log format has keys {sorted(record)[:12]}")
        if fmt == formats.BATCH:
            return [(HALF, line, fmt, *openai_batch.half(record), data)]
        out = []
        for item in guarded(formats.NORMALISERS[fmt], record):
            try:
                if isinstance(item, RecordRejected):
                    raise item
                outcome = call_outcome(item, line, index, fmt)
                if learn and fmt == OPENAI_CHAT:
                    TOOLS.learn(data, record, item["tools"], outcome[4]["tools"])
                out.append(outcome)
            except RecordRejected as exc:
                out.append(_reject(line, index, fmt, exc, data))
        return out
    except RecordRejected as exc:
        return [_reject(line, index, fmt, exc, data)]


def process_units(units: list[RawUnit]) -> list[list[tuple]]:
    """Outcomes of a chunk of units (the unit of work sent to a worker process)."""
    return [process_unit(*unit) for unit in units]
