"""Login names in log lines, tool results and prose: `user=tnguyen`, `"username": "j.smith"`,
"login name adubois3557", "username: aisha_nelson63".

A login name identifies a person as surely as an e-mail address, and machine logs carry them in
`key=value` pairs, JSON fields and sentences that NER never sees as names. Three forms are matched:

- `key=value` and JSON `"key": "value"` with a login key (user, username, login, ...);
- a login noun ("username", "user name", "login name", "login id") then `:`, `=` or "is" and a
  value, or right before a value shaped like a login ("login name adubois3557");
- `user:` / `login:` then a value shaped like a login (a digit, or `.`, `_` or `-` inside), so a
  chat line "User: Hello" stays.

Service accounts (root, admin, system, ...) and words that follow such nouns in prose
("username is required", "login name field") are left alone.

Logins with no cue at all (a workload id, a batch custom_id, a trace name) are found by shape when
they are built from a person's name the way login schemes build them, with two to four digits:
`hannah_hill97`, `h.hill97` (given name, separator, family name) or `athomas6447` (initial and
family name); the names come from the given-name recognizer's lists.
"""

from __future__ import annotations

from functools import cache

import regex as re
from presidio_analyzer import LocalRecognizer, RecognizerResult

from slmconvert.curate.recognizers.given_names import given_names, last_names
from slmconvert.curate.recognizers.results import match_result

USERNAME = "USERNAME"
LOGIN_KEYS = ("user", "username", "user_name", "login", "login_name", "uname", "logname")  # not user_id: opaque ids stay
_KEY = "(?:" + "|".join(LOGIN_KEYS) + ")"
# A login: starts with a letter, ends with a letter or digit (a sentence's full stop is no part of it).
LOGIN_VALUE = _VALUE = r"[A-Za-z](?:[A-Za-z0-9._\-]{0,62}[A-Za-z0-9])?"
_NOUN = r"(?:user\s?name|login\s?name|login\s?id|logon\s?name|screen\s?name)"
_SHAPED = r"(?=[A-Za-z0-9._\-]*(?:\d|[A-Za-z0-9][._\-][A-Za-z0-9]))"  # a digit or an inner separator
_END = r"(?![A-Za-z0-9_@]|[.\-][A-Za-z0-9])"
PATTERN = re.compile(
    rf"(?i:(?<![A-Za-z0-9_.\-]){_KEY})=(?P<value>{_VALUE}){_END}"  # user=tnguyen
    rf"|\"(?i:{_KEY})\"\s*:\s*\"(?P<quoted>{_VALUE})\""  # "user": "tnguyen"
    rf"|(?i:(?<![A-Za-z0-9_]){_NOUN})(?:\s*[:=]\s*|\s+(?i:is)\s+)[\"'`]?(?P<noun>{_VALUE}){_END}"  # username: jdoe
    rf"|(?i:(?<![A-Za-z0-9_]){_NOUN})\s+[\"'`]?(?P<bare>{_SHAPED}{_VALUE}){_END}"  # login name adubois3557
    rf"|(?i:(?<![A-Za-z0-9_.\-])(?:user|login))\s*:\s*(?P<shaped>{_SHAPED}{_VALUE}){_END}"  # user: ops_kim
)
SERVICE_ACCOUNTS = frozenset(
    "root admin administrator system sys daemon nobody anonymous guest service svc null none unknown "
    "true false www-data postgres mysql nginx apache jenkins ci bot automation scheduler cron".split()
)
# Words that follow a login noun in prose rather than a login: "username is required", "login name field".
_PROSE = frozenset(
    "a an the and or is are was were be been must should will can cannot may not no of for to in on at by with "
    "from as if it this that these those field fields required missing invalid empty blank taken available "
    "already changed change reset here there and/or please you your my our their his her its which what "
    "password passwords format length box input value values exists unknown wrong incorrect".split()
)
_GROUPS = ("value", "quoted", "noun", "bare", "shaped")
# A lowercase login made of name parts and 2-4 digits, alone or a dash-joined part of an id (req-hhill97-1).
NAME_LOGIN = re.compile(
    r"(?<![A-Za-z0-9_.@/])(?P<head>[a-z]+)(?:(?P<sep>[._\-])(?P<tail>[a-z]{2,}))?"
    r"\d{2,4}(?![A-Za-z0-9_@]|\.[A-Za-z0-9])"
)



class UsernameRecognizer(LocalRecognizer):
    """Personal login names after a login key, a login noun or a `user:` label."""

    SCORE = 0.8

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_entities=[USERNAME], supported_language=supported_language,
                         name="UsernameRecognizer")

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        """Every login name in one of the three forms that is not a service account or a prose word."""
        results = []
        for match in PATTERN.finditer(text):
            group = next(g for g in _GROUPS if match.group(g))
            value = match.group(group)
            if not is_login(value):
                continue
            results.append(match_result(self, USERNAME, match.start(group), match.end(group), self.SCORE))
        found = {(r.start, r.end) for r in results}
        results += [match_result(self, USERNAME, m.start(), m.end(), self.SCORE)
                    for m in NAME_LOGIN.finditer(text, overlapped=True) if m.span() not in found and name_login(m)]
        return results


def is_login(value: str) -> bool:
    """A value that can be a person's login: not a service account, not a word of prose."""
    lowered = value.lower()
    return lowered not in SERVICE_ACCOUNTS and lowered not in _PROSE and not value.isdigit()


@cache
def _lower_names() -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(n.lower() for n in given_names()), frozenset(n.lower() for n in last_names())


def name_login(match: re.Match) -> bool:
    """A NAME_LOGIN candidate made of a given and a family name (`hannah_hill97`), an initial and a
    family name (`h.hill97`, `hhill97`); a given name alone or glued to another word is no login."""
    given, family = _lower_names()
    head, tail = match.group("head"), match.group("tail")
    if tail is not None:
        return (len(head) == 1 or head in given) and (tail in family or tail in given)
    return len(head) >= 5 and head[1:] in family
