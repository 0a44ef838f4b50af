"""JSON keys as evidence: a value under `customer_name`, `phone` or `api_key` is scrubbed as a
whole even when it is too short for NER or a regex to recognise on its own. Keys are read only,
never changed."""

from __future__ import annotations

import regex as re

from slmconvert.curate.recognizers.accounts import LOGIN_VALUE, is_login
from slmconvert.curate.recognizers.network import is_public_ip
from slmconvert.curate.spans import Span

_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])")
_NAME_VALUE = re.compile(r"\p{Lu}[\p{L}'’\-]*\.?(?:\s+\p{Lu}[\p{L}'’\-]*\.?){0,3}")
_PHONE_VALUE = re.compile(r"\+?[\d\s().\-]{7,20}(?:\s*(?:x|ext\.?)\s*\d{1,5})?")
_NAME_QUALIFIERS = {"customer", "full", "first", "last", "given", "family", "middle", "contact", "recipient",
                    "user", "sender", "requester", "passenger", "patient", "employee", "holder", "cardholder",
                    "owner", "person", "client", "buyer", "shipping", "billing", "account", "member", "guest",
                    "driver", "signer", "reviewer", "author", "display"}
_NAME_KEYS = {"firstname", "lastname", "fullname", "surname", "forename", "givenname", "familyname"}
_PASSWORD_WORDS = {"password", "passwd", "pwd", "passphrase"}
# Keys whose value is a login (`username`, `login`, `user_name`, a lone `user`), never `user_id`.
_LOGIN_KEYS = ({"username"}, {"user"}, {"login"}, {"user", "name"}, {"login", "name"}, {"uname"}, {"logname"},
               {"loginname"}, {"screen", "name"}, {"screenname"})
_SECRET_WORDS = {"secret", "token", "credential", "credentials", "apikey", "passcode"}
_SECRET_PAIRS = ({"api", "key"}, {"access", "key"}, {"private", "key"}, {"secret", "key"}, {"auth", "key"})
_NOT_SECRET = {"type", "count", "max", "min", "limit", "usage", "expires", "expiry", "url", "name", "id",
               "length", "budget", "total", "prompt", "completion", "ttl", "kind", "hint", "set", "used"}
_ADDRESS_WORDS = {"address", "street", "addr", "address1", "address2", "line1", "line2"}
_NOT_ADDRESS = {"email", "ip", "mac", "web", "url", "wallet", "billing_email", "remote", "server", "host"}


# Keys whose values are places, products or codes: a "PERSON" found there is NER noise.
_NOT_PERSON_KEYS = {"city", "state", "country", "region", "province", "county", "carrier", "status", "sku",
                    "product", "category", "brand", "title", "warehouse", "store", "team", "department", "tool"}


_ID_WORDS = {"id", "ids", "uuid", "guid", "fingerprint", "sku", "hash", "digest", "etag", "cursor"}
_PRODUCT_PARENTS = {"items", "item", "products", "product", "lines", "line_items", "catalog", "sku", "skus", "variants"}


def suppressed_entities(key: str | None) -> set[str]:
    """Entity types not to trust under this key: entropy "secrets" and names in ids, NER names
    in place, product and status fields."""
    words, parent = key_words(key)
    if words & _ID_WORDS:
        return {"SECRET_GENERIC", "PERSON"}
    if words & _NOT_PERSON_KEYS and "name" not in words:
        return {"PERSON"}
    if words & _PRODUCT_PARENTS or parent.rsplit(".", 1)[-1] in _PRODUCT_PARENTS and \
            words & {"name", "title", "description"}:
        return {"PERSON"}
    return set()


def key_words(key: str | None) -> tuple[set[str], str]:
    """Lowercase words of the last key of a path (`customer.fullName` -> {full, name}) and of its parent."""
    if not key:
        return set(), ""
    parent, _, last = key.rpartition(".")
    words = {w.lower() for w in _SPLIT.split(last) if w}
    return words, parent.lower()


def hint_spans(text: str, key: str | None) -> list[Span]:
    """Whole-value spans implied by the key the value sits under (empty when nothing applies)."""
    words, parent = key_words(key)
    if not words:
        return []
    value = text.strip()
    start = text.index(value) if value else 0
    whole = [Span(start, start + len(value), "", 0.9)]
    if not value or value.startswith("<") and value.endswith(">"):
        return []
    if words & _PASSWORD_WORDS and not words & _NOT_SECRET and len(value) >= 4 and " " not in value:
        return [whole[0]._replace(entity="SECRET_PASSWORD")]
    if (words & _SECRET_WORDS or any(pair <= words for pair in _SECRET_PAIRS)) and not words & _NOT_SECRET \
            and len(value) >= 8 and " " not in value and not value.isdigit():
        return [whole[0]._replace(entity="SECRET_GENERIC")]
    if _is_name_key(words, parent) and _NAME_VALUE.fullmatch(value) and len(value) <= 60:
        return [whole[0]._replace(entity="PERSON")]
    if words in _LOGIN_KEYS and re.fullmatch(LOGIN_VALUE, value) and is_login(value):
        return [whole[0]._replace(entity="USERNAME")]
    if words & {"phone", "mobile", "tel", "telephone", "cell", "fax", "phonenumber"} and \
            _PHONE_VALUE.fullmatch(value) and sum(ch.isdigit() for ch in value) >= 7:
        return [whole[0]._replace(entity="PHONE_NUMBER")]
    if words & {"ssn", "social"} and re.fullmatch(r"\d{3}-?\d{2}-?\d{4}", value):
        return [whole[0]._replace(entity="US_SSN")]
    if words & {"card", "cc", "pan", "creditcard"} and _card_digits(value):
        return [whole[0]._replace(entity="CREDIT_CARD")]
    if words & {"ip", "ipaddress", "ipv4", "ipv6"} and is_public_ip(value):
        return [whole[0]._replace(entity="IP_ADDRESS")]
    if (words & _ADDRESS_WORDS or parent.endswith("address")) and not words & _NOT_ADDRESS and \
            any(ch.isdigit() for ch in value) and len(value) >= 5:
        return [whole[0]._replace(entity="STREET_ADDRESS")]
    return []


def _is_name_key(words: set[str], parent: str) -> bool:
    if words & _NAME_KEYS:
        return True
    if "name" in words:
        if words & _NAME_QUALIFIERS:
            return True
        return words == {"name"} and any(q in parent for q in _NAME_QUALIFIERS)
    return bool(words & {"customer", "recipient", "cardholder", "passenger", "patient", "contact", "requester",
                          "assignee"}) and len(words) == 1


def _card_digits(value: str) -> bool:
    """12-19 digits (spaces/dashes allowed); under a card key, even a mistyped number is a card."""
    digits = re.sub(r"[\s\-]", "", value)
    return digits.isdigit() and 12 <= len(digits) <= 19
