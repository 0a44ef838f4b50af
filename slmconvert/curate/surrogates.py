"""Consistent pseudonyms: the same original value always maps to the same surrogate.

Surrogates come from an HMAC of the normalised value under the workspace's curate key, so they
are stable across records and reruns yet cannot be reversed without the key. They keep the
shape that tools and schemas rely on (an e-mail stays an e-mail, a phone keeps its punctuation,
a card keeps its length and passes Luhn). Name-like words are built from syllables in code, so
they are plausible but not taken from any list of real names.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import string
from collections.abc import Iterator

import regex as re

from slmconvert.curate.spans import is_secret

_ONSETS = ("B", "Br", "C", "Cr", "D", "Dr", "F", "G", "Gr", "H", "J", "K", "L", "M", "N", "P", "Qu",
           "R", "S", "Sh", "St", "T", "Th", "V", "W", "Z")
_VOWELS = ("a", "e", "i", "o", "u", "ae", "ei", "ou")
_CLUSTERS = ("lq", "rv", "nd", "sk", "lv", "rn", "th", "mb", "ld", "rk", "zr", "lth", "nv", "sm", "rq", "dw")
_ENDINGS = ("n", "r", "x", "th", "s", "l", "ck", "ne", "ra", "va", "rin", "lis", "mar", "dor", "wen", "vik")
_TITLES = {"mr", "mrs", "ms", "mx", "dr", "prof", "miss", "sir", "madam", "jr", "sr", "ii", "iii"}
# Words of an address that say what kind of place it is (kept as they are).
_ADDRESS_TYPES = {
    "street", "st", "avenue", "ave", "av", "road", "rd", "boulevard", "blvd", "lane", "ln", "drive", "dr",
    "court", "ct", "way", "place", "pl", "terrace", "ter", "parkway", "pkwy", "circle", "cir", "highway",
    "hwy", "square", "sq", "trail", "trl", "loop", "alley", "plaza", "row", "crescent", "close", "pike",
    "run", "path", "walk", "apt", "apartment", "suite", "ste", "unit", "fl", "floor", "rm", "room", "bldg",
    "building", "po", "p", "o", "box", "post", "office",
}
_US_STATES = set(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
    "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR".split()
)
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
_TYPED_LABELS = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "STREET_ADDRESS": "ADDRESS",
                 "IP_ADDRESS": "IP", "IBAN_CODE": "IBAN"}
_TOKEN = re.compile(r"\p{L}[\p{L}\p{M}'’]*|\d+|[^\p{L}\d]+")


def typed_label(entity: str) -> str:
    """Short label of an entity type for `<LABEL_n>` placeholders."""
    return _TYPED_LABELS.get(entity, entity)


def secret_placeholder(entity: str) -> str:
    """The fixed placeholder a secret is replaced with, e.g. <SECRET_OPENAI_KEY>."""
    return f"<{entity}>"


def luhn_check_digit(body: str) -> str:
    """Digit that makes body + digit pass the Luhn test."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like.islower():
        return word.lower()
    return word[:1].upper() + word[1:].lower()


class Pseudonymiser:
    """Deterministic, keyed surrogates per entity type."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes")
        self._key = key

    # ---- keyed randomness ---------------------------------------------------------------------
    def _stream(self, domain: str, value: str) -> Iterator[int]:
        """An endless byte stream derived from (domain, value) under the key."""
        counter = 0
        while True:
            block = hmac.new(self._key, f"{domain}\x00{counter}\x00{value}".encode("utf-8", "surrogatepass"),
                             hashlib.sha256).digest()
            yield from block
            counter += 1

    def _digits(self, domain: str, value: str, n: int) -> str:
        stream = self._stream(domain, value)
        return "".join(str(next(stream) % 10) for _ in range(n))

    def word(self, value: str) -> str:
        """A name-like word for a word (case-insensitive), e.g. Jane -> Dalquen."""
        b = self._stream("word", value.lower())
        pick = lambda seq: seq[next(b) % len(seq)]  # noqa: E731
        return pick(_ONSETS) + pick(_VOWELS) + pick(_CLUSTERS) + pick(_VOWELS)[:1] + pick(_ENDINGS)

    # ---- per entity type ----------------------------------------------------------------------
    def surrogate(self, entity: str, value: str) -> str:
        """The surrogate for value; never equal to value, secrets only as placeholders."""
        if is_secret(entity):
            return secret_placeholder(entity)
        maker = {
            "PERSON": self._person, "EMAIL_ADDRESS": self._email, "PHONE_NUMBER": self._phone,
            "CREDIT_CARD": self._card, "US_SSN": self._ssn, "US_ITIN": self._ssn, "IBAN_CODE": self._iban,
            "IP_ADDRESS": self._ip, "STREET_ADDRESS": self._address, "LOCATION": self._words,
            "NRP": self._words, "URL": self._url, "USERNAME": self._login,
        }.get(entity, self._shape)
        out = maker(value)
        if out == value:  # astronomically rare; re-derive rather than leak
            out = maker(value + "\x00")
        return out

    def _words(self, value: str) -> str:
        return "".join(_match_case(self.word(t), t) if t[0].isalpha() else t for t in _TOKEN.findall(value))

    def _person(self, value: str) -> str:
        parts = []
        for token in _TOKEN.findall(value):
            if token[0].isalpha() and token.lower() not in _TITLES:
                parts.append(_match_case(self.word(token), token) if len(token) > 1 else
                             string.ascii_uppercase[next(self._stream("initial", token)) % 26])
            else:
                parts.append(token)
        return "".join(parts)

    def _login(self, value: str) -> str:
        """A login name: tnguyen -> dalquen, j.smith42 -> dalquen83 (same digit count)."""
        digits = sum(ch.isdigit() for ch in value)
        return self.word(value).lower() + (self._digits("login", value, digits) if digits else "")

    def _email(self, value: str) -> str:
        local, _, domain = value.rpartition("@")
        pieces = []
        for token in _TOKEN.findall(local):
            if token[0].isalpha():
                pieces.append(self.word(token).lower())
            elif token.isdigit():
                pieces.append(self._digits("emaildigits", token, len(token)))
            else:
                pieces.append(token)
        domain_pick = _EMAIL_DOMAINS[next(self._stream("domain", domain.lower())) % len(_EMAIL_DOMAINS)]
        return "".join(pieces) + "@" + domain_pick

    def _phone(self, value: str) -> str:
        digits = re.sub(r"\D", "", value)
        country = ""
        national = digits
        if value.strip().startswith("+") or (len(digits) == 11 and digits.startswith("1")):
            cc = 1 if digits.startswith("1") else min(3, max(1, len(digits) - 10))
            country, national = digits[:cc], digits[cc:]
        if len(national) == 10 and (country in ("", "1")):
            # NANP: a valid-looking area code, then the 555-01XX range reserved for fiction.
            area = str(2 + next(self._stream("area", national)) % 8) + self._digits("area2", national, 2)
            new = area + "55501" + self._digits("line", national, 2)
        else:
            new = str(1 + next(self._stream("phone1", national)) % 9) + self._digits("phone", national, len(national) - 1)
        return _refill_digits(value, country + new)

    def _card(self, value: str) -> str:
        digits = re.sub(r"\D", "", value)
        if len(digits) < 12:
            return self._shape(value)
        body = digits[0] + self._digits("card", digits, len(digits) - 2)
        return _refill_digits(value, body + luhn_check_digit(body))

    def _ssn(self, value: str) -> str:
        digits = re.sub(r"\D", "", value)
        if len(digits) != 9:
            return self._shape(value)
        # Area 9xx is never issued as an SSN; group and serial avoid the all-zero blocks.
        new = "9" + self._digits("ssn", digits, 2) + str(1 + next(self._stream("g", digits)) % 9) + \
            self._digits("ssn2", digits, 1) + str(1 + next(self._stream("s", digits)) % 9) + \
            self._digits("ssn3", digits, 3)
        return _refill_digits(value, new)

    def _iban(self, value: str) -> str:
        compact = re.sub(r"\s", "", value).upper()
        if len(compact) < 8 or not compact[:2].isalpha():
            return self._shape(value)
        bban = self._shape(compact[4:])
        rearranged = bban + compact[:2] + "00"
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
        check = f"{98 - number % 97:02d}"
        new = compact[:2] + check + bban
        out, i = [], 0
        for ch in value:
            if ch.isspace():
                out.append(ch)
            else:
                out.append(new[i])
                i += 1
        return "".join(out)

    def _ip(self, value: str) -> str:
        stream = self._stream("ip", value.lower())
        try:
            address = ipaddress.ip_address(value.split("/")[0].split("%")[0])
        except ValueError:
            return self._shape(value)
        if address.version == 4:
            net = ("192.0.2", "198.51.100", "203.0.113")[next(stream) % 3]
            return f"{net}.{1 + next(stream) % 254}"
        return "2001:db8::" + ":".join(f"{next(stream) << 8 | next(stream):x}" for _ in range(4))

    def _address(self, value: str) -> str:
        """House numbers redrawn digit for digit, every street and place name pseudonymised (common
        ones too: "3971 Broadway, Raleigh" must not become "<other number> Broadway, <other city>",
        which keeps the street and can equal another real address); type words (Street, Apt, PO Box),
        state codes and single letters (N, 4B's B) kept."""
        out = []
        for token in _TOKEN.findall(value):
            if token.isdigit():
                lead = str(1 + next(self._stream("addr1", token)) % 9)
                out.append(lead + self._digits("addr", token, len(token) - 1))
            elif token[0].isalpha() and len(token) > 1 and token not in _US_STATES \
                    and token.lower().strip(".") not in _ADDRESS_TYPES:
                out.append(_match_case(self.word(token), token))
            else:
                out.append(token)
        return "".join(out)

    def _url(self, value: str) -> str:
        return f"https://www.example.com/{self._digits('url', value, 8)}"

    def _shape(self, value: str) -> str:
        """Same length and character classes: digit for digit, letter for letter."""
        stream = self._stream("shape", value)
        out = []
        for ch in value:
            if ch.isdigit():
                out.append(str(next(stream) % 10))
            elif ch.isupper():
                out.append(string.ascii_uppercase[next(stream) % 26])
            elif ch.islower():
                out.append(string.ascii_lowercase[next(stream) % 26])
            else:
                out.append(ch)
        return "".join(out)


def _refill_digits(template: str, digits: str) -> str:
    """template with its digits replaced, in order, by digits (punctuation and spaces kept)."""
    it = iter(digits)
    return "".join(next(it, "0") if ch.isdigit() else ch for ch in template)


def normalise(entity: str, value: str) -> str:
    """The identity of a value for consistency: a phone written two ways is one phone."""
    if entity in ("PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "US_ITIN", "US_BANK_NUMBER"):
        digits = re.sub(r"\D", "", value)
        return digits[-10:] if entity == "PHONE_NUMBER" else digits
    if entity in ("EMAIL_ADDRESS", "PERSON", "STREET_ADDRESS", "LOCATION", "IBAN_CODE"):
        return " ".join(value.lower().split())
    return value


class RecordReplacer:
    """Replacement texts for one record: consistent within it, and <LABEL_n> numbering in
    typed mode (numbers restart per record)."""

    def __init__(self, pseudonymiser: Pseudonymiser, style: str = "surrogate") -> None:
        self._pseudonymiser = pseudonymiser
        self._style = style
        self._memo: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}

    def replace(self, entity: str, value: str) -> str:
        """Replacement for one detected value."""
        ident = (entity, normalise(entity, value))
        if self._style == "typed" and not is_secret(entity):
            found = self._memo.get(ident)
            if found is None:
                label = typed_label(entity)
                self._counts[label] = self._counts.get(label, 0) + 1
                found = self._memo[ident] = f"<{label}_{self._counts[label]}>"
            return found
        key = (entity, value)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._pseudonymiser.surrogate(entity, value)
        return found
