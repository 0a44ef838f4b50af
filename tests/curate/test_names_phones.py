"""Names and phones that used to survive curate (issue 12 item 7), by class of miss:

- spaCy runs a name on into the next line ("Hannah Lee\\n+1-813-..."), and the whole span was dropped;
- signature names spaCy does not see at all (above a phone line, below "thx", after a closing dash);
- names after role labels ("Author: ...") and under contact-like JSON keys;
- phones `phonenumbers` calls invalid for the region (area codes not in its metadata, fictional 555s).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from slmconvert.collect.formats import NORMALISERS, detect
from slmconvert.curate.analyzer import _trim_person
from slmconvert.curate.recognizers import (
    LenientPhoneRecognizer,
    PersonCueRecognizer,
    SignatureNameRecognizer,
    person_pieces,
)
from slmconvert.curate.spans import Span

from .conftest import found

# Made up for these tests (no list of real people): first/last names with accents and apostrophes.
NAMES = ["Orlaith Penhallow", "Tobiah Quennell", "Marisol Achterberg", "Søren Vantongeren", "Siobhán O'Faolain",
         "Kwabena Ostrowska", "Renée D'Arcangelo"]
# North American numbers whose area code phonenumbers rejects, fictional 555s, E.164 with dashes.
PHONES = ["+1-874-555-0148", "(874) 555-0172", "874.555.0193", "+1 874 555 0110", "1-742-555-0166",
          "+1-813-555-0148", "+44-20-7946-0958"]


def people_and_phones(scrubber, text: str) -> tuple[set[str], set[str]]:
    spans = scrubber.text_spans(text, "user")
    pick = lambda entity: {text[s.start:s.end] for s in spans if s.entity == entity}  # noqa: E731
    return pick("PERSON"), pick("PHONE_NUMBER")


def test_ner_span_running_into_the_next_line_keeps_the_name():
    text = "it won't turn on. thx\n\nHannah Lee\n+1-813-327-8473"
    start = text.index("Hannah")
    span = Span(start, text.index("8473"), "PERSON", 0.85)  # what spaCy returns for this text
    trimmed = _trim_person(text, span)
    assert trimmed is not None and text[trimmed.start:trimmed.end] == "Hannah Lee"
    # A lone word on a line of a multi-line span is no name; one-line spans are checked whole.
    heading = "# Style\n- Write like a human"
    assert _trim_person(heading, Span(2, heading.index(" like"), "PERSON", 0.85)) is None
    assert person_pieces("Room 101", 0, 8) == [(0, 8)]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("template", [
    "one of the items in SR-8440117 is defective, it won't turn on. thx\n\n{name}\n{phone}",
    "where's my order SR-2455378 Appreciate it.\n\n{name}\n{phone}",
    "Please cancel it.\n\n{name} | {phone}",
    "Thanks for the quick help.\n\n{name}",
    "great service, thank you!! - {name}",
    "Draft the weekly ops review memo. Author: {name}.",
    "Plan the outage comms. {name} ({email}) is incident lead.",
    "{name} called about #62619219 and asked us to check the refund.",
    "Yesterday {name} emailed us twice.",
    "I spoke to {name} yesterday, she said it shipped.",
    "Today is 2026-11-02; the user is {name} (receiving lead) at EWR1.",
])
def test_signature_and_label_names_in_free_text(scrubber, name, template):
    text = template.format(name=name, phone="+1-874-555-0148", email="ops.lead@example-mail.net")
    people, phones = people_and_phones(scrubber, text)
    assert name in people, text
    if "{phone}" in template:
        assert "+1-874-555-0148" in phones


@pytest.mark.parametrize("phone", PHONES)
def test_phones_phonenumbers_rejects_are_found(analyzer, phone):
    for text in (f"call me at {phone} after 5", f"{phone}", f"Contact: {phone}."):
        assert ("PHONE_NUMBER", phone) in found(analyzer, text), text


@pytest.mark.parametrize("text", [
    "order SR-874-555-0148", "2026-11-02 10:30", "v874.555.0148", "total 874.55", "sku 123-456-7890",
    "ticket 8745550148999", "ip 203.0.113.7",
])
def test_lenient_phones_skip_ids_dates_and_numbers(text):
    assert LenientPhoneRecognizer().analyze(text, None) == []


@pytest.mark.parametrize("text", [
    "Order Status\n+1-874-555-0148", "Subject: Re: STEM Robotics Kit\nDate: Mon, 02 Nov 2026",
    "Bin, e.g. A-12-03.", "Thanks!\n\nShopRight Support", "# Returns\n\nCustomer Service",
])
def test_signature_recognizer_skips_headers_and_business_words(text):
    assert SignatureNameRecognizer().analyze(text, None) == []


@pytest.mark.parametrize("text", [
    "See the User Guide.", "Customer Support replied within the hour.", "Escalated to Tier 2 today.",
    "ShopRight Support confirmed the refund.", "Then Warehouse Team placed the order.",
    "Contact (support@shopright.com) for help.",
])
def test_person_cues_skip_business_words(text):
    assert PersonCueRecognizer().analyze(text, None) == []
    assert SignatureNameRecognizer().analyze(text, None) == []


@pytest.mark.parametrize(("text", "names"), [
    ("hi Can you ship SR-1558452 to my work address instead?", set()),
    ("Hello, How many loyalty points do I have?", set()),
    ("Hey there. Where are my two orders?", set()),
    ("Hello, What's the status of my refund?", set()),
    ("Hi Will, the parcel came today.", {"Will"}),
    ("Dear May, thanks for the update.", {"May"}),
    ("Hi Will Okonkwo here, where is my parcel?", {"Will Okonkwo"}),
])
def test_a_function_word_opening_a_sentence_is_no_name(scrubber, text, names):
    """After a greeting, "Can you ..." starts a question; the same word before a comma or a surname is a name."""
    assert people_and_phones(scrubber, text)[0] == names


def test_names_and_phones_in_tool_arguments_and_results(scrubber):
    name, other, phone = NAMES[0], NAMES[3], PHONES[0]
    record = {"messages": [
        {"role": "user", "content": "please update my contact details"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "update_contact", "arguments": json.dumps({"contact": name, "phone": phone,
                                                               "note": f"signed off as\n{name}\n{phone}"})}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps(
            {"requester": other, "callback": f"{other}\n{PHONES[2]}", "message": f"thx\n\n{other}\n{PHONES[1]}"})},
    ], "output": {"role": "assistant", "content": f"Done. Thanks!\n\n{name}"}}
    [result] = scrubber.scrub([record])
    blob = json.dumps(result.record, ensure_ascii=False)
    for value in (name, other, phone, PHONES[1], PHONES[2]):
        assert value not in blob and json.dumps(value)[1:-1] not in json.dumps(result.record)


# ---- the sample-log generator's own people and phones --------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _strings(value) -> list[str]:
    """Every string in a record, and in JSON documents held in its strings."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if not isinstance(value, str):
        return []
    out = [value]
    if value.lstrip()[:1] in ("{", "["):
        try:
            out += _strings(json.loads(value))
        except ValueError:
            pass
    return out


@pytest.fixture(scope="module")
def sample_calls(tmp_path_factory) -> list[tuple[dict, list[tuple[str, str]]]]:
    """A slice of freshly generated sample logs with the raw values of each call (truth_values)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from sample_logs.generate import generate

    out = tmp_path_factory.mktemp("sample")
    generate(out, seed=4, n_calls=150, compress=False, formats=("openai_chat", "anthropic", "finetune"),
             days=1, with_faults=False, with_malformed=False, truth_values=True)
    truth = {}
    for line in (out / "_truth.jsonl").read_text().splitlines():
        row = json.loads(line)
        truth[(row["file"], row["line"])] = [tuple(kv) for kv in row.get("sensitive", [])]
    calls = []
    for path in sorted(out.glob("*.jsonl")):
        if path.name.startswith("_"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            record = json.loads(line)
            calls += [(call, truth[(path.name, number)]) for call in NORMALISERS[detect(record)](record)
                      if isinstance(call, dict)]
    return calls


def test_no_generated_name_phone_email_or_card_survives(scrubber, sample_calls):
    kinds = {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "CREDIT_CARD"}
    values = [(kind, value) for _, sensitive in sample_calls for kind, value in sensitive if kind in kinds]
    assert {kind for kind, _ in values} >= {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS"}  # the slice has them
    results = scrubber.scrub([call for call, _ in sample_calls])
    leaks = []
    for (_, sensitive), result in zip(sample_calls, results, strict=True):
        assert result.record is not None, result.error
        texts = _strings(result.record)
        leaks += [(kind, value) for kind, value in sensitive if kind in kinds and any(value in t for t in texts)]
    assert leaks == []
