"""Acceptance (issue 12): every input line is accounted for, broken inputs included.

Each line (or JSON-array element) of every input file is a record in calls.parquet, a reject in
rejects.jsonl with file, line and reason, a duplicate counted in stats.json, or blank.
"""

from __future__ import annotations

import pytest

from tests.hostile.accounting import Collected, problems, totals

BROKEN_AND_HOSTILE = (
    "hostile_openai_chat.jsonl", "hostile_anthropic.jsonl", "hostile_finetune.jsonl", "hostile_otel.jsonl",
    "hostile_langfuse.jsonl", "hostile_langsmith.jsonl", "hostile_batch_input.jsonl", "hostile_batch_output.jsonl",
    "hostile_llm_logs.json", "truncated_array.json", "utf16_bom.jsonl", "nul_line.jsonl", "garbage.log",
    "empty.jsonl", "hostile_extra.jsonl.gz", "corrupt.jsonl.gz", "truncated.jsonl.gz",
)


@pytest.fixture(scope="module")
def collected(hostile) -> Collected:
    version = hostile.version_dir("collect")
    assert version is not None, "collect wrote no version: " + (hostile.command("collect").stderr[-2000:])
    return Collected.read(version)


@pytest.mark.parametrize("name", BROKEN_AND_HOSTILE)
def test_every_line_accounted_for(hostile, collected, name):
    assert name in hostile.inputs.expects, f"the builder wrote no {name}"
    found = problems(hostile.inputs.expects[name], collected)
    assert not found, "\n".join(found)


def test_sample_slice_lines_accounted_for(hostile, collected):
    found = [p for name, expect in sorted(hostile.inputs.expects.items()) if name not in BROKEN_AND_HOSTILE
             for p in problems(expect, collected)]
    assert not found, "\n".join(found)


def test_rejects_name_file_line_and_reason(hostile, collected):
    print("accounting totals:", totals(hostile.inputs.expects, collected))
    assert not collected.bad_rejects, "\n".join(collected.bad_rejects[:20])
