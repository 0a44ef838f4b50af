"""Names in the signature block of a message, which a small NER model misses or runs on into the
next line: a name line right above a phone or e-mail line ("Hannah Lee\\n+1-813-327-8473"), a name
line or a name followed by contact data on one line, a name below a sign-off ("thx\\n\\nHannah Lee"),
a dash signature closing the message ("great service, thank you!! - Michelle"), and anywhere a name
with its e-mail or phone in brackets ("Ananya Rivera (a.rivera@mail.com)").

Only whole lines (or the end of the text) count, and no word may be a business word such as Order or
Support, so headings and status lines are not taken for names.
"""

from __future__ import annotations

import regex as re
from presidio_analyzer import LocalRecognizer, RecognizerResult

from slmconvert.curate.recognizers.names import NAME_WORDS, NOT_PERSON_WORDS
from slmconvert.curate.recognizers.results import match_result

_NAME = rf"(?P<name>{NAME_WORDS})(?![\p{{L}}'’\-])"
_PHONE = r"\+?\(?\d[\d \t().\-]{6,}\d"
_EMAIL = r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"
_CONTACT = rf"(?:{_PHONE}|{_EMAIL}|(?i:tel|phone|mobile|cell|e-?mail)[ \t]*[:.][ \t]*[+(\d\w])"
_SIGN_OFF = (
    r"(?i:thanks|thank\s+you|thx|thnx|tks|ty|cheers|best|regards|best\s+regards|kind\s+regards|warm\s+regards"
    r"|all\s+the\s+best|sincerely|yours\s+truly|rgds|br|appreciate\s+it|many\s+thanks|take\s+care|talk\s+soon)"
)
PATTERNS = (
    # Name line above a contact line, or a name followed by contact data on its line.
    rf"^[ \t]*(?:[-–—~][ \t]*)?{_NAME}[ \t]*(?:[,|/–—\-][ \t]*)?(?:\r?\n[ \t]*)?(?={_CONTACT})",
    # Name line below a line that starts or ends with a sign-off (a blank line between allowed).
    rf"(?:^[ \t]*{_SIGN_OFF}(?![\p{{L}}])[^\n]{{0,60}}|(?<![\p{{L}}]){_SIGN_OFF}[ \t]*[,.!:]*[ \t]*)\r?\n"
    rf"(?:[ \t]*\r?\n)?[ \t]*{_NAME}[ \t]*[,.]?[ \t]*$",
    # Dash signature closing the text.
    rf"(?:[.!?,)]|\s)[ \t]*[-–—~][ \t]*{_NAME}[ \t]*[.!]?\s*\Z",
)
# Anywhere: a name with its e-mail or phone in brackets, "Ananya Rivera (a.rivera@mail.com) is lead".
BRACKETED = rf"(?<![\p{{L}}'’\-]){_NAME}[ \t]*[(<\[][ \t]*(?={_EMAIL}|{_PHONE})"
SCORE = 0.65
_WORD = re.compile(r"\S+")


class SignatureNameRecognizer(LocalRecognizer):
    """Names signing a message: above its contact lines, below its sign-off, or after a closing dash."""

    ENTITY = "PERSON"

    def __init__(self, supported_language: str = "en") -> None:
        self._patterns = [re.compile(p, re.MULTILINE) for p in PATTERNS]
        self._bracketed = re.compile(BRACKETED)
        super().__init__(supported_entities=[self.ENTITY], supported_language=supported_language,
                         name="SignatureNameRecognizer")

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        """Signature names whose words are none of the business words NER mistakes for names."""
        results = []
        for pattern in self._patterns:
            for match in pattern.finditer(text):
                if any(word.strip(".") in NOT_PERSON_WORDS for word in match.group("name").split()):
                    continue
                results.append(match_result(self, self.ENTITY, match.start("name"), match.end("name"), SCORE))
        for match in self._bracketed.finditer(text):
            # Sentence words before the name ("Contact Ananya Rivera (...)") are dropped; two words must stay.
            words = [(m.start(), m.end()) for m in _WORD.finditer(text, match.start("name"), match.end("name"))]
            while words and text[words[0][0]:words[0][1]].strip(".") in NOT_PERSON_WORDS:
                words.pop(0)
            if len(words) >= 2 and not any(text[s:e].strip(".") in NOT_PERSON_WORDS for s, e in words):
                results.append(match_result(self, self.ENTITY, words[0][0], words[-1][1], SCORE))
        return results
