"""Helpers for collect tests: write log files into tmp_path and run the collect library on them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from slmconvert.collect.pipeline import CollectOptions, collect
from slmconvert.collect.pricing import PriceTable
from slmconvert.collect.records import CALLS_FILE
from slmconvert.collect.rejects import REJECTS_FILE
from slmconvert.util.tables import read_table


@dataclass
class Outcome:
    summary: dict[str, Any]
    calls: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    out_dir: Path


def jsonl(*records: Any) -> bytes:
    """JSON Lines bytes of the given records."""
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


@pytest.fixture
def run_collect(tmp_path: Path) -> Callable[..., Outcome]:
    """run_collect({"a.jsonl": bytes|str|records list}, paths=None, **options) -> Outcome."""
    counter = {"n": 0}

    def run(files: dict[str, Any], paths: list[str] | None = None, carried=None, **options: Any) -> Outcome:
        counter["n"] += 1
        inputs = tmp_path / "in"
        inputs.mkdir(exist_ok=True)
        for name, content in files.items():
            target = inputs / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, list):
                content = jsonl(*content)
            target.write_bytes(content.encode() if isinstance(content, str) else content)
        out = tmp_path / f"out{counter['n']}"
        out.mkdir()
        prices = options.pop("prices", None)
        opts = CollectOptions(prices=PriceTable.load(prices), **options)
        specs = [str(inputs / p) for p in (paths or list(files))]
        summary = collect(specs, out, opts, carried=carried)
        rejects = [orjson.loads(line) for line in (out / REJECTS_FILE).read_bytes().splitlines()]
        return Outcome(summary, read_table(out / CALLS_FILE), rejects, out)

    return run
