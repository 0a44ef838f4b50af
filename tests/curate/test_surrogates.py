"""Pseudonyms: deterministic under a key, shape-preserving, never the original or a real value."""

from __future__ import annotations

import re

import jsonschema
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, IbanRecognizer

from slmconvert.curate.labelled import FIRST, LAST, labelled_set, labelled_values
from slmconvert.curate.surrogates import Pseudonymiser, RecordReplacer

from .conftest import KEY

P = Pseudonymiser(KEY)


def test_deterministic_per_key():
    other = Pseudonymiser(b"another key of thirty-two bytes!")
    assert P.surrogate("PERSON", "Jane Doe") == Pseudonymiser(KEY).surrogate("PERSON", "Jane Doe")
    assert P.surrogate("PERSON", "Jane Doe") != other.surrogate("PERSON", "Jane Doe")


def test_names_are_consistent_token_by_token():
    full = P.surrogate("PERSON", "Jane Doe")
    first, last = full.split()
    assert P.surrogate("PERSON", "Jane") == first
    assert P.surrogate("PERSON", "Mr. Doe") == f"Mr. {last}"
    assert P.surrogate("EMAIL_ADDRESS", "jane.doe@gmail.com") == f"{first.lower()}.{last.lower()}@" + \
        P.surrogate("EMAIL_ADDRESS", "jane.doe@gmail.com").split("@")[1]


def test_shapes_survive():
    checker = jsonschema.Draft202012Validator({"type": "string", "format": "email"},
                                              format_checker=jsonschema.FormatChecker())
    assert checker.is_valid(P.surrogate("EMAIL_ADDRESS", "o.brien+orders@mail.acme-corp.io"))
    phone = P.surrogate("PHONE_NUMBER", "(415) 555-0132")
    assert re.fullmatch(r"\(\d{3}\) 555-01\d\d", phone)
    assert P.surrogate("PHONE_NUMBER", "+1-415-555-0132").endswith(phone[-8:])  # same number, other format
    card = P.surrogate("CREDIT_CARD", "4111-1111-1111-1111")
    assert re.fullmatch(r"4\d{3}-\d{4}-\d{4}-\d{4}", card) and CreditCardRecognizer().validate_result(card)
    assert re.fullmatch(r"9\d\d-\d\d-\d{4}", P.surrogate("US_SSN", "536-22-8741"))
    assert IbanRecognizer().validate_result(P.surrogate("IBAN_CODE", "DE89 3704 0044 0532 0130 00"))
    assert P.surrogate("IP_ADDRESS", "73.162.45.10").startswith(("192.0.2.", "198.51.100.", "203.0.113."))
    assert P.surrogate("STREET_ADDRESS", "1234 Oak Street, Springfield, IL 62704").endswith(" IL " +
        P.surrogate("STREET_ADDRESS", "1234 Oak Street, Springfield, IL 62704")[-5:])
    assert P.surrogate("US_PASSPORT", "912803456").isdigit()


def test_addresses_lose_their_street_name():
    """Type words and states stay, every street name is replaced: "3562 Park Place" must not come
    out as "<other number> Park Place", nor "3971 Broadway, Raleigh, NC" as "<other number> Broadway,
    <other city>, NC" (the street survives, and the surrogate of one address can equal another real one)."""
    for value in ("3562 Park Place", "12 Broadway", "77 North Park Drive", "1200 Lakeview Terrace Apt 4B",
                  "3971 Broadway, Raleigh, NC 27615", "3971 Broadway Raleigh NC", "8 Pine Ridge Rd, Austin, TX"):
        out = P.surrogate("STREET_ADDRESS", value)
        kept = set(re.findall(r"[A-Za-z]{2,}", value)) & set(re.findall(r"[A-Za-z]{2,}", out))
        assert kept <= {"Place", "Drive", "Terrace", "Apt", "NC", "Rd", "TX"}, (value, out)
    assert P.surrogate("STREET_ADDRESS", "3562 Park Place").endswith(" Place")
    assert P.surrogate("STREET_ADDRESS", "77 Elm Ridge Road, Austin, TX").endswith(" Road, " +
                                                                                 P.surrogate("LOCATION", "Austin") + ", TX")
    assert P.surrogate("STREET_ADDRESS", "PO Box 4410") != "PO Box 4410"


def test_secrets_only_become_placeholders():
    assert P.surrogate("SECRET_OPENAI_KEY", "sk-proj-abc") == "<SECRET_OPENAI_KEY>"
    typed = RecordReplacer(P, "typed")
    assert typed.replace("SECRET_JWT", "eyJ...") == "<SECRET_JWT>"


def test_surrogates_never_equal_real_test_values():
    samples = labelled_set(200, seed=5)
    originals = labelled_values(samples) | set(FIRST) | set(LAST)
    produced = {P.surrogate(e, s.text[a:b]) for s in samples for a, b, e in s.spans}
    produced |= {w for value in produced for w in value.split()}
    assert not produced & originals


def test_typed_placeholders_number_per_record():
    replacer = RecordReplacer(P, "typed")
    assert replacer.replace("EMAIL_ADDRESS", "a@x.com") == "<EMAIL_1>"
    assert replacer.replace("EMAIL_ADDRESS", "b@x.com") == "<EMAIL_2>"
    assert replacer.replace("EMAIL_ADDRESS", "A@x.com ") == "<EMAIL_1>"
    assert replacer.replace("PHONE_NUMBER", "(415) 555-0132") == replacer.replace("PHONE_NUMBER", "415.555.0132")
