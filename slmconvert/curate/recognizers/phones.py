"""Phone numbers that Presidio's PhoneRecognizer drops because `phonenumbers` calls them invalid.

Presidio keeps only numbers valid for the configured regions, and validity follows metadata that
lags reality and typos: an area code not (yet) in service (+1-874-555-0148), a new overlay code, a
misdialled exchange. Such a number still identifies or reaches a person, so this recognizer takes
phone shapes that are unmistakable on their own:

- North American layout: optional +1/1, area code 2-9xx (parenthesised or not), exchange, line,
  with spaces, dots or dashes: (874) 555-0148, 874.555.0148, +1 874 555 0148, 1-874-555-0148;
- international notation: + then 8-15 digits in groups: +44 20 7946 0958, +1-874-555-0148.

Never inside a longer number, an identifier or a decimal.
"""

from __future__ import annotations

import regex as re
from presidio_analyzer import LocalRecognizer, RecognizerResult

from slmconvert.curate.recognizers.results import match_result

PHONE_NUMBER = "PHONE_NUMBER"
_BEFORE = r"(?<![\w+\-.])"
_AFTER = r"(?![\w])(?![\-.]\d)"
NANP = re.compile(
    _BEFORE + r"(?:\+?1[ \-.]?)?(?:\([2-9]\d\d\)[ \-.]?|[2-9]\d\d[ \-.])[2-9]\d\d[ \-.]\d{4}" + _AFTER
)
INTERNATIONAL = re.compile(_BEFORE + r"\+\d{1,3}(?:[ \-.]?\(\d{1,4}\))?(?:[ \-.]?\d{1,5}){2,6}" + _AFTER)
SCORE = 0.5


class LenientPhoneRecognizer(LocalRecognizer):
    """Phone-shaped numbers whatever `phonenumbers` thinks of their area code."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_entities=[PHONE_NUMBER], supported_language=supported_language,
                         name="LenientPhoneRecognizer")

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        """Every North American or +international phone shape with a plausible digit count."""
        found = {match.span() for match in NANP.finditer(text)}
        found |= {match.span() for match in INTERNATIONAL.finditer(text)
                  if 8 <= sum(ch.isdigit() for ch in match.group()) <= 15}
        return [match_result(self, PHONE_NUMBER, start, end, SCORE) for start, end in sorted(found)]
