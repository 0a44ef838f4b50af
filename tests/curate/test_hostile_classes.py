"""Classes of miss the hostile suite found (issue 12): logins after prose cues and under login keys,
AWS secret keys named in words, and full names spaCy's small model misses (found by given name).

Every value here is made up for these tests; given names are common ones from Faker's lists,
surnames invented so that no list of real people is involved.
"""

from __future__ import annotations

import json

import pytest

from slmconvert.curate.hints import hint_spans
from slmconvert.curate.recognizers import (
    USERNAME,
    GivenNameRecognizer,
    PersonCueRecognizer,
    SecretRecognizer,
    UsernameRecognizer,
)

LOGINS = UsernameRecognizer()
NAMES = GivenNameRecognizer()
AWS_SECRET = "Qw3rT/yU8iOp+As9dFgHjK2lZxC7vBnM4qWe5rTy"  # 40 base64 characters, invented


def logins(text: str) -> list[str]:
    return [text[r.start:r.end] for r in LOGINS.analyze(text, [USERNAME])]


def people(text: str) -> list[str]:
    return [text[r.start:r.end] for r in NAMES.analyze(text, ["PERSON"])]


@pytest.mark.parametrize(("text", "expected"), [
    ("Hi, my login name tquennell4821 stopped working.", ["tquennell4821"]),
    ("username: marisol_achter07.", ["marisol_achter07"]),
    ("Your username is k.penhallow", ["k.penhallow"]),
    ("user name = opq_vantonger", ["opq_vantonger"]),
    ("escalated for user: ops_kim3 today", ["ops_kim3"]),
    ("Login ID: rd-arcangelo", ["rd-arcangelo"]),
])
def test_logins_after_prose_cues_are_found(text, expected):
    assert logins(text) == expected


@pytest.mark.parametrize("text", [
    "User: Hello, my parcel never arrived",  # a chat line, not a login
    "User: Jane wants a refund",
    "username is required", "Enter your username and password.", "The login name field is empty.",
    "the username enumeration bug", "Login: success", "user: 42", "login name lookup failed",
])
def test_prose_and_chat_lines_are_not_logins(text):
    assert logins(text) == []


@pytest.mark.parametrize("login", ["camila_novak42", "camila.novak07", "cnovak4821", "c.novak93", "m-novak11"])
def test_logins_built_from_names_are_found_with_no_cue(login):
    for text in (login, f"workload {login} ok", f'{{"custom_id": "{login}"}}', f"req-{login}-1"):
        assert logins(text) == [login], text


@pytest.mark.parametrize("text", ["sha256", "gpt4o", "llama31", "claude35", "order_status2", "maxtokens4096",
                                  "model_v12", "utf16", "ticket12345", "cnovak4821@mail.test", "v1.cnovak4821",
                                  "camila_quennell", "cnovak"])
def test_ids_versions_and_names_without_digits_are_not_logins(text):
    assert logins(text) == []


@pytest.mark.parametrize(("key", "value", "entity"), [
    ("customer.username", "marisol_achter07", USERNAME), ("login", "tquennell4821", USERNAME),
    ("user", "k.penhallow", USERNAME), ("user_name", "opq_vantonger", USERNAME),
    ("user_name", "Marisol Achterberg", "PERSON"),  # a display name under user_name stays a name
])
def test_values_under_login_keys_are_scrubbed_whole(key, value, entity):
    assert [(s.start, s.end, s.entity) for s in hint_spans(value, key)] == [(0, len(value), entity)]


@pytest.mark.parametrize(("key", "value"), [("user_id", "U48213"), ("user", "root"), ("username", "42"),
                                            ("role", "user"), ("user", "a b c")])
def test_ids_service_accounts_and_roles_under_login_keys_stay(key, value):
    assert hint_spans(value, key) == []


@pytest.mark.parametrize("text", [
    f"AWS secret key {AWS_SECRET}.", f"the AWS secret access key is \"{AWS_SECRET}\"", f"AWS Secret Key: {AWS_SECRET}",
    f"aws_secret_access_key={AWS_SECRET}",
])
def test_aws_secret_keys_named_in_words_are_found(text):
    found = [(r.entity_type, text[r.start:r.end]) for r in SecretRecognizer().analyze(text, None)]
    assert ("SECRET_AWS_SECRET_KEY", AWS_SECRET) in found


def test_aws_secret_key_needs_forty_characters():
    assert not [r for r in SecretRecognizer().analyze(f"AWS secret key {AWS_SECRET[:30]} rotation", None)
                if r.entity_type == "SECRET_AWS_SECRET_KEY"]


@pytest.mark.parametrize(("text", "name"), [
    ("Please ask for Camila Quennell at the desk.", "Camila Quennell"),
    ('{"error": {"message": "account of Marisol Achterberg is locked"}}', "Marisol Achterberg"),
    ("Let me look that up. Orlaith J. Penhallow placed it.", "Orlaith J. Penhallow"),
    ("handed over to Søren Vantongeren", "Søren Vantongeren"),
    ("Will Novak asked again", "Will Novak"),  # an English-word given name needs a listed surname
])
def test_given_name_and_surname_are_found_anywhere(text, name):
    assert name in people(text)


@pytest.mark.parametrize("text", [
    "Order Status", "Will Ship Tomorrow", "May Update", "Paris Office", "Chase Bank", "Customer Support",
    "camila quennell", "CAMILA QUENNELL", "Quennell Camila",
])
def test_business_words_lowercase_and_unknown_first_words_are_not_names(text):
    assert people(text) == []


@pytest.mark.parametrize(("text", "name"), [
    ("Please ask for Tobiah Quennell at the desk.", "Tobiah Quennell"),  # a given name on no list
    ("Account holder: Tobiah Quennell", "Tobiah Quennell"), ("Cardholder: Tobiah Quennell", "Tobiah Quennell"),
])
def test_names_after_ask_for_and_holder_labels_are_found(text, name):
    assert name in [text[r.start:r.end] for r in PersonCueRecognizer().analyze(text, None)]


@pytest.mark.parametrize("text", ["ask for Help", "please ask for Customer Service", "asked for Order Status today"])
def test_business_words_after_ask_for_are_not_names(text):
    assert PersonCueRecognizer().analyze(text, None) == []


def test_names_missed_by_ner_are_scrubbed_in_json_and_in_very_long_lines(scrubber):
    name, other = "Camila Quennell", "Marisol Achterberg"
    filler = "".join(f"row {i}: sku A-{i} qty {i % 7}; " for i in range(6000))  # one line, > 100,000 chars
    long_line = filler[:60_000] + f" contact {other} " + filler[60_000:]
    record = {"messages": [
        {"role": "user", "content": "where is my parcel"},
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps({"notes": f"Please ask for {name}.",
                                                                       "customer": {"username": "cquennell4821"}})},
        {"role": "tool", "tool_call_id": "c2", "content": long_line},
    ], "output": {"role": "assistant", "content": "ok"}}
    [result] = scrubber.scrub([record])
    assert result.record is not None, result.error
    blob = json.dumps(result.record, ensure_ascii=False)
    for value in (name, other, "cquennell4821"):
        assert value not in blob
