"""Card numbers of every issuer (issue 12 item 3): any Luhn-valid 12-19 digit number written as a card
is found, ids and other numbers are not, and the surrogate is a card of the same layout."""

from __future__ import annotations

import json
import random

import pytest

from slmconvert.curate.recognizers import CardNumberRecognizer, luhn_valid
from slmconvert.curate.surrogates import Pseudonymiser, luhn_check_digit

from .conftest import KEY

CARDS = CardNumberRecognizer()
# (issuer number prefix, length, group layout): ranges Presidio's pattern misses, and some it knows.
ISSUERS = [
    ("50", 16, (4, 4, 4, 4)),  # Maestro 50xx
    ("56", 16, (4, 4, 4, 4)),  # Maestro 56xx
    ("58", 19, (4, 4, 4, 4, 3)),  # Maestro 58xx, 19 digits
    ("2221", 16, (4, 4, 4, 4)),  # Mastercard 2-series
    ("62", 19, (4, 4, 4, 4, 3)),  # UnionPay, 19 digits
    ("63", 18, (4, 4, 4, 4, 2)),
    ("6", 17, (4, 4, 4, 4, 1)),
    ("57", 13, (4, 4, 4, 1)),
    ("7", 16, (4, 4, 4, 4)),  # private label
    ("9", 16, (4, 4, 4, 4)),
    ("1", 16, (4, 4, 4, 4)),
    ("0", 16, (4, 4, 4, 4)),
    ("37", 15, (4, 6, 5)),  # Amex layout
    ("36", 14, (4, 6, 4)),  # Diners layout
    ("4", 16, (4, 4, 4, 4)),
    ("6762", 12, (4, 4, 4)),  # 12-digit Maestro grouped 4-4-4: a card with no card word (issue 12)
    ("5", 12, (4, 4, 4)),
]


def make_card(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return body + luhn_check_digit(body)


def grouped(number: str, layout: tuple[int, ...], sep: str) -> str:
    out, i = [], 0
    for size in layout:
        out.append(number[i:i + size])
        i += size
    return sep.join(out)


def cards_in(text: str) -> list[str]:
    return [text[r.start:r.end] for r in CARDS.analyze(text, None)]


def written_cards() -> list[tuple[str, str]]:
    """(layout name, number as written) for every issuer, separator and length."""
    rng = random.Random(12)
    out = []
    for prefix, length, layout in ISSUERS:
        number = make_card(rng, prefix, length)
        out += [(f"{prefix}/{length}/space", grouped(number, layout, " ")),
                (f"{prefix}/{length}/dash", grouped(number, layout, "-"))]
    return out


@pytest.mark.parametrize(("layout", "card"), written_cards())
def test_grouped_cards_of_any_issuer_are_found(layout, card):
    for text in (card, f"Paid with {card} yesterday.", f"my number is {card}, thanks", f'{{"note": "{card}"}}'):
        assert cards_in(text) == [card], (layout, text)


@pytest.mark.parametrize(("prefix", "length"), [("50", 16), ("56", 16), ("58", 19), ("2720", 16), ("62", 19),
                                                ("35", 16), ("6", 13)])
def test_contiguous_cards_in_card_ranges_are_found(prefix, length):
    card = make_card(random.Random(prefix), prefix, length)
    assert cards_in(f"here it is {card} ok") == [card]
    assert cards_in(card) == [card]


def test_other_issuers_and_twelve_digits_need_a_card_word():
    rng = random.Random(5)
    private, short = make_card(rng, "7", 16), make_card(rng, "5", 12)
    assert cards_in(f"ref {private}") == [] and cards_in(short) == []
    assert cards_in(f"card number {private}") == [private]
    assert cards_in(f"Maestro card: {short}") == [short]
    assert cards_in(f"Visa ending in {grouped(short, (4, 4, 4), ' ')}") == [grouped(short, (4, 4, 4), " ")]


def test_card_followed_by_cvv_or_expiry_is_still_found():
    card = grouped(make_card(random.Random(1), "56", 16), (4, 4, 4, 4), " ")
    assert cards_in(f"card {card} 123") == [card]
    assert cards_in(f"{card} 12/27") == [card]


@pytest.mark.parametrize("text", [
    "ORD-12345678", "order ORD-{c}", "SR-{c}", "see v1.{c}", "+{c}",  # identifiers and phones
    "order id {c}", "tracking number {c}", "invoice {c}",  # id words name it
    "ts 1793726541000", "took 1793726541000123 ns",  # timestamps start with 1
    "total {c}.50",  # a decimal amount
    "USPS 9400{c}12",  # part of a longer digit run
    "1234 5678 9012 3456 7890",  # five groups of four: not a card layout
    "4111-1111 1111-1111",  # mixed separators
    "0000 0000 0000 0000",  # one repeated digit
])
def test_ids_and_other_numbers_are_not_cards(text):
    c = make_card(random.Random(2), "5", 16)
    assert cards_in(text.replace("{c}", c)) == []


def test_non_luhn_numbers_are_not_cards():
    card = make_card(random.Random(3), "58", 16)
    broken = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert luhn_valid(card) and not luhn_valid(broken)
    assert cards_in(f"card {broken}") == []


@pytest.mark.parametrize("length", range(12, 20))
@pytest.mark.parametrize("sep", ["", " ", "-"])
def test_surrogate_is_a_card_of_the_same_layout(length, sep):
    number = make_card(random.Random(length), "6", length)
    layout = {12: (4, 4, 4), 13: (4, 4, 4, 1), 14: (4, 6, 4), 15: (4, 6, 5)}.get(length) or \
        (4, 4, 4, 4) + ((length - 16,) if length > 16 else ())
    written = grouped(number, layout, sep) if sep else number
    fake = Pseudonymiser(KEY).surrogate("CREDIT_CARD", written)
    assert fake != written
    assert [len(g) for g in fake.split(sep)] == list(layout) if sep else len(fake) == length
    assert luhn_valid(fake.replace(sep, "") if sep else fake)
    if sep:  # the fake is itself found as a card: a second pass would scrub it again, never leak it
        assert cards_in(f"card {fake}") == [fake]


def test_cards_leave_no_trace_in_text_json_and_tool_arguments(scrubber):
    rng = random.Random(9)
    maestro, unionpay, amex = (grouped(make_card(rng, "58", 16), (4, 4, 4, 4), " "),
                               make_card(rng, "62", 19), grouped(make_card(rng, "3", 15), (4, 6, 5), "-"))
    record = {"messages": [
        {"role": "user", "content": f"Please charge my card {maestro} for order SR-1234567."},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "charge", "arguments": json.dumps({"pan": unionpay, "memo": f"backup {amex}"})}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps({"paid_with": unionpay, "ok": True})},
    ], "output": {"role": "assistant", "content": f"Charged {maestro}."}}
    [result] = scrubber.scrub([record])
    blob = json.dumps(result.record)
    for card in (maestro, unionpay, amex):
        assert card not in blob and card.replace(" ", "").replace("-", "") not in blob
    assert "SR-1234567" in blob
    assert result.counts[("CREDIT_CARD", "user")] >= 1
