"""The hostile data itself: canaries valid and unique, straddles really across the cuts (fast, no pipeline)."""

from __future__ import annotations

import json

from slmconvert.curate.surrogates import luhn_check_digit
from tests.hostile.canaries import KINDS, CanaryFactory
from tests.hostile.long_texts import PIECE, json_dump, plain_dump
from tests.hostile.plant import Planter


def test_every_kind_is_unique_and_well_formed():
    factory = CanaryFactory(5)
    drawn = [factory.make(kind) for kind in KINDS for _ in range(40)]
    assert len({c.value for c in drawn}) == len(drawn)
    for canary in drawn:
        assert canary.value in canary.needles and all(len(n) >= 8 for n in canary.needles)
        digits = "".join(ch for ch in canary.value if ch.isdigit())
        if canary.kind == "credit_card":
            assert 12 <= len(digits) <= 19 and luhn_check_digit(digits[:-1]) == digits[-1], canary.value
        if canary.kind == "iban":
            compact = canary.value.replace(" ", "")
            moved = compact[4:] + compact[:4]
            assert int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1, canary.value


def test_plain_dump_puts_a_canary_across_every_cut():
    planter = Planter(CanaryFactory(6))
    for kind in ("credit_card", "pem_private_key", "person"):
        text = plain_dump(planter, "t", kind)
        assert "\n" not in text and len(text) > 2 * PIECE
        spans = [(text.index(c.value.replace("\n", " ")), len(c.value)) for c, _, _ in planter.pending]
        for cut in (PIECE, 2 * PIECE):
            assert any(start < cut < start + n for start, n in spans), (kind, cut, spans)
        planter.pending.clear()


def test_json_dump_straddles_the_document_and_its_long_leaf():
    planter = Planter(CanaryFactory(7))
    text = json_dump(planter, "t", "aws_key_id")
    leaf = json.loads(text)["log_dump"]
    first, *leaf_canaries = [c for c, _, _ in planter.pending]
    start = text.index(first.value)
    assert start < PIECE < start + len(first.value)
    for cut in (PIECE, 2 * PIECE):
        assert any(leaf.index(c.value) < cut < leaf.index(c.value) + len(c.value) for c in leaf_canaries), cut
