"""Every string of a call record that reaches curated.parquet is scanned or dropped: a canary
secret, e-mail or name in any one field, alone in its record, is absent from the curated row."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from slmconvert.curate.fields import DROPPED_FIELDS, SCANNED_FIELDS, RecordFields
from slmconvert.curate.params import CurateParams
from slmconvert.curate.pipeline import Curator
from slmconvert.curate.synthetic import synthetic_calls

from .conftest import KEY

TOKEN = "ghp_Zq9Xw8Vu7Ts6Rr5Qp4On3Mm2Ll1Kk0Jj9Hh8"
EMAIL = "emily.carter77@fastmail.com"
NAME = "Emily Carter"
BASE = synthetic_calls(1, seed=2)[1]  # system, user, assistant tool call, tool result -> output tool call


def _schema(text: str) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "reply", "description": text, "schema": {
        "type": "object", "properties": {"answer": {"type": "string", "description": text}}}}}


def _set(path: str) -> Callable[[dict[str, Any], str], None]:
    """A setter for a dotted path into the record (integers index lists)."""
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]

    def setter(record: dict[str, Any], value: Any) -> None:
        target: Any = record
        for part in parents:
            target = target[part]
        target[last] = value
    return setter


# Field -> (setter, whether NER reads it: a bare name is only findable by NER).
FIELDS: dict[str, tuple[Callable[[dict[str, Any], str], None], bool]] = {
    "workload_id": (_set("workload_id"), True),
    "client_id": (_set("client_id"), True),
    "metadata value (request.user)": (_set("metadata.user"), True),
    "nested metadata value": (lambda r, v: r["metadata"].update(trace={"owner": [v]}), True),
    "metadata key": (lambda r, v: r["metadata"].update({v: {"seen": 1}}), True),
    "nested metadata key": (lambda r, v: r["metadata"].update(notes={"parts": {v: 2}}), True),
    "usage key": (lambda r, v: r["usage"].update({v: 3}), False),
    "tool name": (_set("tools.0.function.name"), True),
    "tool description": (_set("tools.0.function.description"), True),
    "tool parameter description": (_set("tools.0.function.parameters.properties.order_id.description"), True),
    "tool parameter enum": (_set("tools.0.function.parameters.properties.order_id.enum"), True),
    "tool_choice function name": (lambda r, v: r.update(tool_choice={"type": "function", "function": {"name": v}}),
                                  True),
    "response_format description and schema": (lambda r, v: r.update(response_format=_schema(v)), True),
    "response_format as text": (_set("response_format"), True),
    "request tool-call id": (_set("messages.2.tool_calls.0.id"), False),
    "request tool-call name": (_set("messages.2.tool_calls.0.function.name"), True),
    "tool_call_id": (_set("messages.3.tool_call_id"), False),
    "tool message name": (_set("messages.3.name"), True),
    "user message name": (_set("messages.1.name"), True),
    "output tool-call id": (_set("output.tool_calls.0.id"), False),
    "output tool-call name": (_set("output.tool_calls.0.function.name"), True),
    "content parts": (lambda r, v: r["messages"][1].update(content=[{"type": "text", "text": f"Hi. {v}"}]), True),
    "source file directory": (lambda r, v: r["source"].update(file=f"/home/{v}/logs/agent.jsonl"), True),
    "source file name": (lambda r, v: r["source"].update(file=f"/srv/logs/{v}.jsonl"), True),
    "model": (_set("model"), False),
    "finish_reason": (_set("finish_reason"), False),
    "usage string": (_set("usage.note"), False),
    "timestamp": (_set("timestamp"), True),
    "unknown column": (_set("request_user"), True),
    "unknown message key": (_set("messages.1.user"), True),
    "unknown output key": (_set("output.refusal"), True),
    "message that is not an object": (lambda r, v: r["messages"].append(v), True),
    "tools that are not a list": (_set("tools"), True),
}


def _cases() -> list[tuple[str, str]]:
    return [(field, canary) for field, (_, ner) in FIELDS.items()
            for canary in ([TOKEN, EMAIL, NAME] if ner else [TOKEN, EMAIL])]


def _variant(field: str, canary: str) -> dict[str, Any]:
    record = copy.deepcopy(BASE)
    FIELDS[field][0](record, canary)
    return record


@pytest.fixture(scope="module")
def curated(analyzer) -> dict[tuple[str, str], dict[str, Any]]:
    cases = _cases()
    curator = Curator(CurateParams(), KEY, analyzer=analyzer)
    rows = list(curator.curate([_variant(field, canary) for field, canary in cases]))
    return dict(zip(cases, rows, strict=True)) | {("audit", ""): curator.summary()}


@pytest.mark.parametrize(("field", "canary"), _cases())
def test_a_canary_in_any_field_is_absent_from_the_curated_row(curated, field, canary):
    assert canary in json.dumps(_variant(field, canary))  # it really went in
    row = curated[(field, canary)]
    assert row["reason"] != "scrub_error"
    text = json.dumps(row, ensure_ascii=False, default=str).lower()
    leaked = [part for part in {canary, *canary.split()} if part.lower() in text]
    assert leaked == [], f"{field}: {leaked} reached the curated row"


def test_audit_lists_fields_scanned_and_dropped_by_name_only(curated):
    audit = curated[("audit", "")]
    assert audit["fields_scanned"] == list(SCANNED_FIELDS) and audit["fields_dropped"] == list(DROPPED_FIELDS)
    assert {"workload_id", "tools[].function.name", "response_format", "metadata"} <= set(audit["fields_scanned"])
    dropped = audit["dropped_values_by_field"]
    assert dropped["messages[].name (participant name)"] >= 3 and dropped["record.<other keys>"] >= 3
    assert dropped["client_id"] == audit["records"] and dropped["source.file directories"] >= 3
    text = json.dumps(audit).lower()
    assert not any(c.lower() in text for c in (TOKEN, EMAIL, NAME, "request_user", "refusal"))


def test_the_walk_produces_only_listed_paths():
    for field, canary in _cases():
        assert {u.path for u in RecordFields(_variant(field, canary)).units} <= set(SCANNED_FIELDS), field


def test_metadata_is_dropped_when_not_scanned(analyzer):
    record = copy.deepcopy(BASE)
    record["metadata"]["user"] = EMAIL
    fields = RecordFields(copy.deepcopy(record), scan_metadata=False)
    assert fields.record["metadata"] is None and fields.dropped["metadata (scan_metadata off)"] == 1
    assert not any(u.path.startswith("metadata") for u in fields.units)
    curator = Curator(CurateParams(scan_metadata=False), KEY, analyzer=analyzer)
    [row] = curator.curate([record])
    assert row["metadata"] is None
    assert not [f for f in curator.summary()["fields_scanned"] if f.startswith("metadata")]


def test_ids_and_tool_names_stay_consistent_after_scrubbing(analyzer):
    record = copy.deepcopy(BASE)
    call_id = f"call_{EMAIL}"
    record["messages"][2]["tool_calls"][0]["id"] = record["messages"][3]["tool_call_id"] = call_id
    [row] = Curator(CurateParams(), KEY, analyzer=analyzer).curate([record])
    assert row["messages"][2]["tool_calls"][0]["id"] == row["messages"][3]["tool_call_id"] != call_id
    assert row["output"]["tool_calls"][0]["function"]["name"] == "update_address"  # plain names untouched
    assert row["status"] == "kept"


def test_a_scrubbed_metadata_key_keeps_its_value(analyzer):
    record = copy.deepcopy(BASE)
    record["metadata"] = {EMAIL: {"seen": 1, "by": EMAIL}, "session": "42"}
    [row] = Curator(CurateParams(), KEY, analyzer=analyzer).curate([record])
    [(key, value)] = [(k, v) for k, v in row["metadata"].items() if k != "session"]
    assert key != EMAIL and value == {"seen": 1, "by": key}  # one surrogate for the address, key and value
    assert row["metadata"]["session"] == "42"
