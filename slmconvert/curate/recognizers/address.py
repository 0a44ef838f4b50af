"""US-style street addresses and PO boxes, which Presidio has no recognizer for."""

from __future__ import annotations

import regex as re
from presidio_analyzer import LocalRecognizer, RecognizerResult

from slmconvert.curate.recognizers.results import match_result

SUFFIXES = (
    "Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter"
    "|Parkway|Pkwy|Circle|Cir|Highway|Hwy|Square|Sq|Trail|Trl|Loop|Alley|Aly|Plaza|Plz|Row|Crescent|Cres"
    "|Close|Pike|Run|Path|Walk|Expressway|Expy|Freeway|Fwy|Turnpike|Tpke|Hollow|Holw|Ridge|Rdg|Point|Pt"
    "|Crossing|Xing|Landing|Lndg|Commons|Cmns|Center|Ctr|Grove|Grv|Heights|Hts|Park|Pass|View|Vw"
)
_DIRECTION = r"(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?"
_NAME_WORD = r"(?:\p{Lu}[\p{L}'\-]*|\d{1,3}(?:st|nd|rd|th))"
_UNIT = r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|Rm|Room|Bldg|Building|\#)\.?\s*\#?[A-Za-z0-9\-]{1,8})"
_CITY_STATE_ZIP = (
    r"(?:(?:,\s*|\s*\n\s*)\p{Lu}[\p{L}.'\-]*(?:\s+\p{Lu}[\p{L}.'\-]*){0,3},?\s+[A-Z]{2}(?:\s+\d{5}(?:-\d{4})?)?(?![\w]))"
)
STREET = (
    r"(?<![\w\-/.])\d{1,6}[A-Za-z]?(?:\s+" + _DIRECTION + r")?"
    r"(?:(?:\s+" + _NAME_WORD + r"){1,4}\s+(?:" + SUFFIXES + r")\b\.?(?:\s+" + _DIRECTION + r"(?!\w))?"
    r"|\s+(?:Broadway|Bowery|Embarcadero)\b)"
    + _UNIT + r"?" + _CITY_STATE_ZIP + r"?"
)
PO_BOX = r"\b(?:P\.?\s?O\.?\s?Box|Post\s+Office\s+Box)\s+\d{1,6}\b" + _CITY_STATE_ZIP + r"?"


class StreetAddressRecognizer(LocalRecognizer):
    """House number + capitalised street name + suffix, with optional unit and city/state/ZIP."""

    ENTITY = "STREET_ADDRESS"
    SCORE = 0.75

    def __init__(self, supported_language: str = "en") -> None:
        self._patterns = [re.compile(STREET), re.compile(PO_BOX, re.IGNORECASE)]
        super().__init__(supported_entities=[self.ENTITY], supported_language=supported_language,
                         name="StreetAddressRecognizer")

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        """Every address-shaped match, widest first."""
        results = []
        for pattern in self._patterns:
            for match in pattern.finditer(text):
                results.append(match_result(self, self.ENTITY, match.start(), match.end(), self.SCORE))
        return results
