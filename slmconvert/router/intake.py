"""Getting calls into the router: raw logs in any collect format (or normalised records) are
normalised by collect and scrubbed by curate's scrubber before anything else sees them."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from slmconvert.workspace import Workspace

MB = 1 << 20


@dataclass
class Intake:
    """Scrubbed call records ready to route, plus what could not be read."""

    records: list[dict[str, Any]]
    rejects: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    already_curated: int = 0


def _is_record(value: Any) -> bool:
    return isinstance(value, dict) and "call_id" in value and ("messages" in value or "prompt" in value)


def _is_curated(value: dict[str, Any]) -> bool:
    return "status" in value and "prompt" in value


def read_calls(data: bytes, workspace: Workspace, collect_params: Any = None, curate_params: Any = None) -> Intake:
    """Normalise (collect) and scrub (curate) the calls in `data` (JSON lines, or a JSON document)."""
    from slmconvert.collect.params import CollectParams

    normalised, curated, other = [], [], []
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            other.append(line)
            continue
        if _is_record(value):
            (curated if _is_curated(value) else normalised).append(value)
        else:
            other.append(line)
    rejects, reasons = 0, {}
    if other:
        collected, rejects, reasons = _collect(b"\n".join(other) + b"\n", collect_params or CollectParams())
        normalised += collected
    scrubbed = scrub(normalised, workspace, curate_params) if normalised else []
    return Intake(curated + scrubbed, rejects, reasons, len(curated))


def _collect(data: bytes, params: Any) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
    from slmconvert.collect.pipeline import CollectOptions, collect
    from slmconvert.collect.pricing import PriceTable
    from slmconvert.util.tables import iter_table

    options = CollectOptions(prices=PriceTable.load(params.prices), dedupe=False,
                             max_line_bytes=int(params.max_line_mb * MB), batch_rows=params.batch_rows)
    with tempfile.TemporaryDirectory(prefix="slmconvert-route-") as tmp:
        source = Path(tmp) / "calls.jsonl"
        source.write_bytes(data)
        out = Path(tmp) / "out"
        out.mkdir()
        summary = collect([], out, options, files=[source])
        calls = out / "calls.parquet"
        records = list(iter_table(calls)) if calls.is_file() else []
    reasons = {g["reason"]: g["count"] for g in summary.get("reject_reasons", [])}
    return records, int(summary.get("rejects", 0)), reasons


def scrub(records: list[dict[str, Any]], workspace: Workspace, curate_params: Any = None) -> list[dict[str, Any]]:
    """Curate's scrubber (same params and workspace key as the data the router was built on)."""
    from slmconvert.curate.params import CurateParams
    from slmconvert.curate.pipeline import Curator

    curator = Curator(curate_params or CurateParams(), workspace.secret_key("curate"))
    return list(curator.curate(records))
