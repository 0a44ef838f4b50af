"""Login names in log lines and JSON: found, pseudonymised consistently, service accounts and chat left alone."""

from __future__ import annotations

import json

import pytest

from slmconvert.curate.recognizers import USERNAME, UsernameRecognizer
from slmconvert.curate.surrogates import Pseudonymiser

RECOGNIZER = UsernameRecognizer()


def logins(text: str) -> list[str]:
    return [text[r.start:r.end] for r in RECOGNIZER.analyze(text, [USERNAME]) if r.entity_type == USERNAME]


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-02 WMS[12] INFO scanner=SC-4 user=tnguyen event=RECEIVE qty=3", ["tnguyen"]),
    ('{"source": "wms", "user": "tnguyen", "event": "RECEIVE"}', ["tnguyen"]),
    ('{"Username":"j.smith42"}', ["j.smith42"]),
    ("sshd: login=maria-k from 10.0.0.4; USER=ops_kim", ["maria-k", "ops_kim"]),
])
def test_key_value_and_json_logins_are_found(text, expected):
    assert logins(text) == expected


@pytest.mark.parametrize("text", [
    "User: Hello, my parcel never arrived",           # a chat transcript line, not a key/value pair
    '{"role": "user", "content": "hi"}',              # the chat role
    "cron[1] user=root job=backup; user=www-data",    # service accounts
    "superuser=tnguyen user_id=U48213 user=42",       # other keys, opaque ids and numbers stay
])
def test_chat_roles_service_accounts_and_ids_are_left_alone(text):
    assert logins(text) == []


def test_a_login_gets_the_same_lowercase_pseudonym_everywhere():
    pseudonymiser = Pseudonymiser(b"k" * 32)
    first, again = pseudonymiser.surrogate(USERNAME, "tnguyen"), pseudonymiser.surrogate(USERNAME, "tnguyen")
    assert first == again != "tnguyen" and first.islower() and first.isalpha()
    numbered = pseudonymiser.surrogate(USERNAME, "j.smith42")
    assert sum(ch.isdigit() for ch in numbered) == 2 and "smith" not in numbered


def test_curate_scrubs_a_login_in_the_log_line_and_in_the_extracted_json(scrubber):
    record = {
        "call_id": "sha256:" + "0" * 64, "model": "gpt-4o",
        "messages": [{"role": "system", "content": "Parse the log line into JSON."},
                     {"role": "user", "content": "2026-11-02T10:00:00Z WMS[7] INFO user=tnguyen event=PICK sku=A-1"}],
        "output": {"role": "assistant", "content": json.dumps({"user": "tnguyen", "event": "PICK", "sku": "A-1"})},
    }
    [result] = scrubber.scrub([record])
    text = json.dumps(result.record)
    assert "tnguyen" not in text
    login = json.loads(result.record["output"]["content"])["user"]
    assert f"user={login} " in result.record["messages"][1]["content"]
