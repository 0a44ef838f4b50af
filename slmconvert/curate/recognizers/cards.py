"""Payment card numbers of every issuer: Luhn-valid 12-19 digit numbers written the way cards are.

Presidio's CreditCardRecognizer knows only some leading digits (1, 3, 4, 5[0-5], 6) and 13-17
digits, so Mastercard's 2-series, Maestro 56-58, 18-19 digit UnionPay or Maestro and private-label
cards pass it. This recognizer accepts any issuer number and asks for card structure instead:

- grouped like a card (4-4-4, 4-4-4-4, 4-4-4-4-3, 4-4-4-1..4, 4-6-4, 4-6-5; one separator, space or
  dash): a card whatever its first digit, with no card word needed;
- contiguous 13-19 digits starting 2-6 (the card ranges; millisecond timestamps and snowflake ids
  start with 1): a card unless an id word (order, tracking, invoice ...) names it;
- anything else 12-19 digits long (contiguous 12, other first digits): a card only after a card word.

Never part of a longer digit run or of an identifier such as SR-4111..., v1.4111... or +4411...
"""

from __future__ import annotations

import regex as re
from presidio_analyzer import LocalRecognizer, RecognizerResult

from slmconvert.curate.recognizers.results import match_result

CREDIT_CARD = "CREDIT_CARD"
# Digit groups joined by single spaces or dashes; not glued to a word, an identifier or a phone's +.
_RUN = re.compile(r"(?<![\w+])(?<![\w][\-./])\d+(?:[ \-]\d+)*(?![\w])(?![\-./][\p{L}\d])")
# Group lengths of card layouts (contiguous numbers are handled apart).
_LAYOUTS = {(4, 4, 4), (4, 4, 4, 1), (4, 4, 4, 2), (4, 4, 4, 3), (4, 4, 4, 4), (4, 4, 4, 4, 1), (4, 4, 4, 4, 2),
            (4, 4, 4, 4, 3), (4, 6, 4), (4, 6, 5)}
_CARD_WORDS = re.compile(
    r"(?i:(?<![a-z])(?:(?:credit\s?|debit\s?)?card(?:s|\s?holder)?|credit|debit|visa|master\s?card|maestro|amex|american\s+express|discover|diners|jcb"
    r"|union\s?pay|rupay|cc|pan|cvv|cvc|payment|pay(?:ing)?\s+with|paid\s+with|charged?\s+to|ending\s+in)(?![a-z]))"
)
_ID_WORDS = re.compile(
    r"(?i:(?<![a-z])(?:order|tracking|track|shipment|invoice|ticket|ref|reference|account|acct|customer|user|transaction"
    r"|txn|trace|request|session|sku|upc|ean|gtin|isbn|imei|serial|id|no|number|timestamp|ts)(?![a-z]))"
)
_CONTEXT_CHARS = 32
SCORE_GROUPED, SCORE_CONTIGUOUS, SCORE_CONTEXT = 0.8, 0.6, 0.95


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_score(groups: list[str], before: str) -> float | None:
    """Score of one candidate (its digit groups, the text before it), None when it is no card."""
    digits = "".join(groups)
    if not 12 <= len(digits) <= 19 or not luhn_valid(digits) or len(set(digits)) == 1:
        return None
    card_word = _CARD_WORDS.search(before) is not None
    if card_word:
        return SCORE_CONTEXT
    lengths = tuple(len(g) for g in groups)
    if lengths in _LAYOUTS:  # 12-digit 4-4-4 too: Maestro and private-label cards are that short
        return SCORE_GROUPED
    if len(groups) == 1 and len(digits) >= 13 and digits[0] in "23456" and not _ID_WORDS.search(before):
        return SCORE_CONTIGUOUS
    return None


def _candidates(groups: list[str]) -> list[tuple[int, int]]:
    """(first, last+1) group ranges worth testing, longest first: the whole run, else card-shaped
    sub-runs (a card followed by its CVV, or preceded by a quantity)."""
    whole = [(0, len(groups))]
    if len(groups) == 1:
        return whole
    # A 12-digit 4-4-4 counts only as a whole run: inside longer runs of fours it is any three groups.
    subs = [(i, j) for i in range(len(groups)) for j in range(len(groups), i, -1)
            if (i, j) != (0, len(groups)) and (j - i == 1 or tuple(len(g) for g in groups[i:j]) in _LAYOUTS
                                               and sum(len(g) for g in groups[i:j]) > 12)]
    return whole + sorted(subs, key=lambda r: r[0] - r[1])


class CardNumberRecognizer(LocalRecognizer):
    """Luhn-valid card numbers of any issuer in card layouts, with card or id words as context."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_entities=[CREDIT_CARD], supported_language=supported_language,
                         name="CardNumberRecognizer")

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        """Every digit run, or card-shaped part of one, that passes as a card."""
        results = []
        for run in _RUN.finditer(text):
            pieces = list(re.finditer(r"\d+", run.group()))
            seps = set(re.findall(r"[ \-]", run.group()))
            if len(seps) > 1:  # 4111-1111 1111-1111 is not how anyone writes one number
                continue
            for first, last in _candidates([p.group() for p in pieces]):
                start, end = run.start() + pieces[first].start(), run.start() + pieces[last - 1].end()
                line_start = text.rfind("\n", 0, start) + 1
                before = text[max(line_start, start - _CONTEXT_CHARS):start]
                score = card_score([p.group() for p in pieces[first:last]], before)
                if score is not None:
                    results.append(match_result(self, CREDIT_CARD, start, end, score))
                    break
        return results
