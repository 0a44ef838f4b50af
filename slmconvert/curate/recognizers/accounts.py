"""Login names in log lines and tool results: `user=tnguyen`, `"username": "j.smith"`.

A login name identifies a person as surely as an e-mail address, and machine logs carry them in
`key=value` pairs and JSON fields that NER never sees as names. Only those two unambiguous forms
are matched (a chat line "User: Hello" is not a key/value pair), and service accounts (root,
admin, system, ...) are left alone.
"""

from __future__ import annotations

import regex as re
from presidio_analyzer import LocalRecognizer, RecognizerResult

from slmconvert.curate.recognizers.results import match_result

USERNAME = "USERNAME"
_KEY = r"(?:user|username|user_name|login|login_name|uname|logname)"  # not user_id: opaque ids stay
_VALUE = r"[A-Za-z][A-Za-z0-9._\-]{1,63}"
PATTERN = re.compile(
    rf"(?i:(?<![A-Za-z0-9_.\-]){_KEY})=(?P<value>{_VALUE})(?![A-Za-z0-9_@])"  # user=tnguyen
    rf"|\"(?i:{_KEY})\"\s*:\s*\"(?P<quoted>{_VALUE})\""  # "user": "tnguyen"
)
SERVICE_ACCOUNTS = frozenset(
    "root admin administrator system sys daemon nobody anonymous guest service svc null none unknown "
    "true false www-data postgres mysql nginx apache jenkins ci bot automation scheduler cron".split()
)


class UsernameRecognizer(LocalRecognizer):
    """Personal login names given as `user=...` or a JSON `"user": "..."` field."""

    SCORE = 0.8

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_entities=[USERNAME], supported_language=supported_language,
                         name="UsernameRecognizer")

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        """Every login name in key/value or JSON form that is not a service account."""
        results = []
        for match in PATTERN.finditer(text):
            group = "value" if match.group("value") else "quoted"
            value = match.group(group)
            if value.lower() in SERVICE_ACCOUNTS:
                continue
            results.append(match_result(self, USERNAME, match.start(group), match.end(group), self.SCORE))
        return results
