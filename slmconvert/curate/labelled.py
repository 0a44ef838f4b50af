"""A seeded, labelled PII/secret test set of synthetic LLM-log messages, and span scoring.

Every sensitive value is placed by the generator, so its exact character span is known. Texts
mix chat turns, tool results as JSON and tool-call arguments, plus business identifiers that
must NOT be flagged (order ids, hashes, UUIDs, private IPs, SKUs, tracking numbers). All values
are invented here; none comes from a public dataset.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from slmconvert.curate.surrogates import luhn_check_digit

FIRST = ("Jane", "Marcus", "Priya", "Wei", "Fatima", "Carlos", "Olga", "Kwame", "Hannah", "Diego",
         "Aisha", "Tomas", "Yuki", "Liam", "Sofia", "Rahul", "Elena", "Noah", "Chloé", "José", "Zoë",
         "Søren", "Anaïs", "Mateo", "Grace", "Ibrahim", "Lucia", "Oliver", "Mei", "Daniel")
LAST = ("Doe", "Whitaker", "Raman", "Zhang", "Haddad", "Mendoza", "Petrova", "Mensah", "Keller",
        "Alvarez", "Okafor", "Novak", "Tanaka", "Brennan", "Rossi", "Gupta", "Vasquez", "Fischer",
        "O'Brien", "Müller", "Nuñez", "Lindqvist", "Dubois", "Castillo", "Moreau", "Sato", "Kowalski")
STREETS = ("Oak Street", "Maple Avenue", "Cedar Lane", "Harbor Dr", "Lakeview Terrace", "Pine Ridge Rd",
           "Washington Blvd", "Willow Way", "Chestnut Ct", "Birch Hollow Ln", "Broadway", "Mill Road")
CITIES = (("Springfield", "IL"), ("Austin", "TX"), ("Portland", "OR"), ("Columbus", "OH"), ("Denver", "CO"),
          ("Raleigh", "NC"), ("Boise", "ID"), ("Ann Arbor", "MI"), ("Salt Lake City", "UT"))
MAIL = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me", "fastmail.com", "acme-corp.io")
AREA = ("212", "312", "415", "503", "512", "617", "646", "702", "801", "919")
ALNUM = string.ascii_letters + string.digits


@dataclass
class Sample:
    """One message text with its gold spans (start, end, entity)."""

    text: str
    spans: list[tuple[int, int, str]]
    kind: str  # system | user | assistant | tool | output | tool_arguments


class _Values:
    """Seeded generators for every entity type (and for non-sensitive look-alikes)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, seq: Sequence):
        return seq[self.rng.randrange(len(seq))]

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.pick(alphabet) for _ in range(n))

    def digits(self, n: int) -> str:
        return str(self.rng.randrange(1, 10)) + self.chars(string.digits, n - 1)

    # sensitive
    def first(self) -> str:
        return self.pick(FIRST)

    def person(self) -> str:
        return f"{self.pick(FIRST)} {self.pick(LAST)}"

    def email(self) -> str:
        first, last = self.pick(FIRST).lower(), self.pick(LAST).lower()
        first = "".join(c for c in first if c.isascii() and c.isalpha())
        last = "".join(c for c in last if c.isascii() and c.isalpha())
        local = self.pick((f"{first}.{last}", f"{first[0]}{last}{self.rng.randrange(10, 99)}", f"{last}_{first}"))
        return f"{local}@{self.pick(MAIL)}"

    def phone(self) -> str:
        a, b, c = self.pick(AREA), str(self.rng.randrange(201, 989)), self.chars(string.digits, 4)
        return self.pick((f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a} {b} {c}", f"{a}.{b}.{c}"))

    def street(self) -> str:
        unit = self.pick(("", "", "", f" Apt {self.rng.randrange(1, 40)}", f" Suite {self.rng.randrange(100, 900)}"))
        return f"{self.rng.randrange(12, 9899)} {self.pick(STREETS)}{unit}"

    def address(self) -> str:
        city, state = self.pick(CITIES)
        return f"{self.street()}, {city}, {state} {self.digits(5)}"

    def card(self) -> str:
        prefix, length = self.pick((("4", 16), ("51", 16), ("37", 15), ("6011", 16)))
        body = prefix + self.chars(string.digits, length - len(prefix) - 1)
        number = body + luhn_check_digit(body)
        sep = self.pick((" ", "-", ""))
        if length == 15:
            return sep.join((number[:4], number[4:10], number[10:]))
        return sep.join(number[i:i + 4] for i in range(0, 16, 4))

    def ssn(self) -> str:
        return f"{self.rng.randrange(101, 665)}-{self.rng.randrange(10, 99)}-{self.rng.randrange(1001, 9999)}"

    def iban(self) -> str:
        bban = self.chars(string.digits, 18)
        number = int(bban + "131400")  # "DE00" rearranged: D=13, E=14
        return f"DE{98 - number % 97:02d}{bban}"

    def public_ip(self) -> str:
        return f"{self.pick((23, 45, 68, 73, 98, 104, 142, 185))}.{self.rng.randrange(0, 256)}." \
               f"{self.rng.randrange(0, 256)}.{self.rng.randrange(1, 255)}"

    def passport(self) -> str:
        return self.digits(9)

    def licence(self) -> str:
        return self.pick(string.ascii_uppercase) + self.chars(string.digits, 7)

    def bank(self) -> str:
        return self.digits(self.rng.randrange(10, 13))

    # secrets
    def secret(self, entity: str) -> tuple[str, str, str]:
        """(prefix text, secret value, suffix text) — the gold span is the value only."""
        c, d = self.chars, self.digits
        if entity == "SECRET_OPENAI_KEY":
            return "", self.pick(("sk-proj-" + c(ALNUM + "_-", 60), "sk-" + c(ALNUM, 48))), ""
        if entity == "SECRET_ANTHROPIC_KEY":
            return "", "sk-ant-api03-" + c(ALNUM + "_-", 80) + "AA", ""
        if entity == "SECRET_AWS_ACCESS_KEY":
            return "", self.pick(("AKIA", "ASIA")) + c(string.ascii_uppercase + "234567", 16), ""
        if entity == "SECRET_AWS_SECRET_KEY":
            return "aws_secret_access_key = ", c(ALNUM + "/+", 40), ""
        if entity == "SECRET_GITHUB_TOKEN":
            return "", self.pick(("ghp_" + c(ALNUM, 36), "github_pat_" + c(ALNUM, 22) + "_" + c(ALNUM, 59))), ""
        if entity == "SECRET_SLACK_TOKEN":
            return "", f"xoxb-{d(12)}-{d(13)}-{c(ALNUM, 24)}", ""
        if entity == "SECRET_STRIPE_KEY":
            return "", self.pick(("sk_live_", "rk_live_", "pk_live_")) + c(ALNUM, 40), ""
        if entity == "SECRET_GOOGLE_API_KEY":
            return "", "AIza" + c(ALNUM + "_-", 35), ""
        if entity == "SECRET_HF_TOKEN":
            return "", "hf_" + c(ALNUM, 34), ""
        if entity == "SECRET_JWT":
            head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
            body = base64.urlsafe_b64encode(json.dumps({"sub": d(8), "iat": 1790000000}).encode()).decode().rstrip("=")
            return "", f"{head}.{body}.{c(ALNUM + '_-', 43)}", ""
        if entity == "SECRET_BEARER_TOKEN":
            return "Authorization: Bearer ", c(ALNUM + "-._", 40), ""
        if entity == "SECRET_PRIVATE_KEY":
            lines = "\n".join(c(ALNUM + "+/", 64) for _ in range(4))
            return "", f"-----BEGIN RSA PRIVATE KEY-----\n{lines}\n-----END RSA PRIVATE KEY-----", ""
        if entity == "SECRET_PASSWORD":
            pw = c(ALNUM, 5) + self.pick("!#%*") + c(ALNUM, 5)
            return self.pick((("postgres://app_user:", pw, "@db-3.internal.example:5432/orders"),
                              ("password: ", pw, ""), ("DB_PASSWORD=", pw, "")))
        if entity == "SECRET_GENERIC":
            value = c(string.ascii_uppercase, 4) + c(string.digits, 3) + c(ALNUM, 26) + c(string.ascii_lowercase, 2)
            return self.pick((("webhook signing secret ", value, " (rotate monthly)"), ("client_secret=", value, "")))
        raise ValueError(entity)

    # not sensitive
    def order(self) -> str:
        return self.pick((f"SR-{self.digits(7)}", f"ORD-{self.digits(6)}", f"#{self.digits(8)}"))

    def noise(self) -> str:
        return self.pick((
            f"SKU-{self.digits(5)}-BLK", f"1Z{self.chars(string.ascii_uppercase + string.digits, 16)}",
            "sha256:" + self.chars("0123456789abcdef", 64),
            f"{self.chars('0123456789abcdef', 8)}-{self.chars('0123456789abcdef', 4)}-4{self.chars('0123456789abcdef', 3)}"
            f"-a{self.chars('0123456789abcdef', 3)}-{self.chars('0123456789abcdef', 12)}",
            f"10.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}",
            f"${self.rng.randrange(5, 900)}.{self.rng.randrange(10, 99)}", "2026-11-02T10:11:12Z",
            f"TCK-{self.digits(5)}", f"v{self.rng.randrange(1, 9)}.{self.rng.randrange(0, 20)}.{self.rng.randrange(0, 9)}",
        ))


SECRET_TYPES = ("SECRET_OPENAI_KEY", "SECRET_ANTHROPIC_KEY", "SECRET_AWS_ACCESS_KEY", "SECRET_AWS_SECRET_KEY",
                "SECRET_GITHUB_TOKEN", "SECRET_SLACK_TOKEN", "SECRET_STRIPE_KEY", "SECRET_GOOGLE_API_KEY",
                "SECRET_HF_TOKEN", "SECRET_JWT", "SECRET_BEARER_TOKEN", "SECRET_PRIVATE_KEY", "SECRET_PASSWORD",
                "SECRET_GENERIC")


class _Builder:
    """Concatenates literal text and labelled values, recording spans."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[tuple[int, int, str]] = []
        self.size = 0

    def lit(self, text: str) -> _Builder:
        self.parts.append(text)
        self.size += len(text)
        return self

    def val(self, value: str, entity: str) -> _Builder:
        self.spans.append((self.size, self.size + len(value), entity))
        return self.lit(value)

    def json_value(self, value: str, entity: str | None) -> _Builder:
        """A JSON string token whose inner text is the labelled value (no escapes needed)."""
        self.lit('"')
        if entity:
            self.val(value, entity)
        else:
            self.lit(value)
        return self.lit('"')

    def build(self, kind: str) -> Sample:
        return Sample("".join(self.parts), self.spans, kind)


def _chat_templates(v: _Values) -> list[Callable[[], Sample]]:
    def intro() -> Sample:
        return (_Builder().lit("Hi, I'm ").val(v.person(), "PERSON").lit(". My order ").lit(v.order())
                .lit(" hasn't arrived. You can reach me at ").val(v.email(), "EMAIL_ADDRESS").lit(" or ")
                .val(v.phone(), "PHONE_NUMBER").lit(".").build("user"))

    def address() -> Sample:
        return (_Builder().lit("Please change the delivery address for ").lit(v.order()).lit(" to ")
                .val(v.address(), "STREET_ADDRESS").lit(". Thanks, ").val(v.first(), "PERSON").build("user"))

    def reply() -> Sample:
        return (_Builder().lit("Hello ").val(v.first(), "PERSON").lit(", I've issued a refund of ").lit(v.noise())
                .lit(" for order ").lit(v.order()).lit(". A confirmation was sent to ").val(v.email(), "EMAIL_ADDRESS")
                .lit(".").build("output"))

    def card() -> Sample:
        return (_Builder().lit("My card ").val(v.card(), "CREDIT_CARD").lit(" was charged twice for ").lit(v.order())
                .lit(", tracking ").lit(v.noise()).lit(".").build("user"))

    def ids() -> Sample:
        return (_Builder().lit("For the claim: my SSN is ").val(v.ssn(), "US_SSN").lit(", passport number ")
                .val(v.passport(), "US_PASSPORT").lit(" and driver's license ").val(v.licence(), "US_DRIVER_LICENSE")
                .lit(".").build("user"))

    def bank() -> Sample:
        return (_Builder().lit("Send the refund to IBAN ").val(v.iban(), "IBAN_CODE").lit(" (account holder ")
                .val(v.person(), "PERSON").lit(") or to my checking account number ").val(v.bank(), "US_BANK_NUMBER")
                .lit(".").build("user"))

    def network() -> Sample:
        return (_Builder().lit("Login blocked from ").val(v.public_ip(), "IP_ADDRESS").lit(" via gateway ")
                .lit(v.noise()).lit("; user ").val(v.person(), "PERSON").lit(" opened ticket ").lit(v.order())
                .lit(".").build("tool"))

    def plain_name() -> Sample:
        return (_Builder().val(v.person(), "PERSON").lit(" called about ").lit(v.order())
                .lit(" and asked us to ship to ").val(v.street(), "STREET_ADDRESS").lit(" instead.").build("user"))

    def clean() -> Sample:
        return (_Builder().lit("Order ").lit(v.order()).lit(" shipped with tracking ").lit(v.noise()).lit(", ref ")
                .lit(v.noise()).lit(", total ").lit(v.noise()).lit(".").build("assistant"))

    return [intro, address, reply, card, ids, bank, network, plain_name, clean]


def _json_templates(v: _Values) -> list[Callable[[], Sample]]:
    def customer() -> Sample:
        city, state = v.pick(CITIES)
        b = _Builder().lit('{"customer": {"id": ').json_value("CUS-" + v.digits(6), None).lit(', "name": ')
        b.json_value(v.person(), "PERSON").lit(', "email": ').json_value(v.email(), "EMAIL_ADDRESS")
        b.lit(', "phone": ').json_value(v.phone(), "PHONE_NUMBER").lit(', "address": {"line1": ')
        b.json_value(v.street(), "STREET_ADDRESS").lit(', "city": ').json_value(city, None)
        b.lit(', "state": ').json_value(state, None).lit('}}, "last_order": ').json_value(v.order(), None)
        return b.lit(', "status": "delivered"}').build("tool")

    def arguments() -> Sample:
        b = _Builder().lit('{"order_id": ').json_value(v.order(), None).lit(', "customer_name": ')
        b.json_value(v.first(), "PERSON").lit(', "notify_email": ').json_value(v.email(), "EMAIL_ADDRESS")
        return b.lit(', "expedite": true}').build("tool_arguments")

    def payment() -> Sample:
        b = _Builder().lit('{"cardholder_name": ').json_value(v.person(), "PERSON").lit(', "card_number": ')
        b.json_value(v.card(), "CREDIT_CARD").lit(', "amount": 42.5, "client_ip": ').json_value(v.public_ip(), "IP_ADDRESS")
        return b.lit("}").build("tool_arguments")

    return [customer, arguments, payment]


def _secret_sample(v: _Values, entity: str) -> Sample:
    prefix, value, suffix = v.secret(entity)
    lead = v.pick(("Here is the config I'm using:\n", "Still failing with ", "Can you check this? ",
                   "The deploy log says: "))
    return (_Builder().lit(lead).lit(prefix).val(value, entity).lit(suffix)
            .lit(v.pick(("", " — what am I doing wrong?", f" (ticket {v.order()})"))).build("user"))


def labelled_set(n: int = 300, seed: int = 0) -> list[Sample]:
    """n samples (chat, JSON tool data, arguments) plus one sample per secret type per 30."""
    rng = random.Random(seed)
    values = _Values(rng)
    templates = _chat_templates(values) + _json_templates(values)
    samples = [templates[i % len(templates)]() for i in range(n)]
    samples += [_secret_sample(values, SECRET_TYPES[i % len(SECRET_TYPES)])
                for i in range(max(len(SECRET_TYPES), n // 30 * len(SECRET_TYPES) // 3))]
    return samples


def labelled_values(samples: Sequence[Sample]) -> set[str]:
    """Every sensitive value in the set (for leak checks)."""
    return {s.text[a:b] for s in samples for a, b, _ in s.spans}


def _covered(start: int, end: int, text: str, predicted: Sequence[tuple[int, int]]) -> bool:
    for i in range(start, end):
        if text[i].isalnum() and not any(a <= i < b for a, b in predicted):
            return False
    return True


def score(samples: Sequence[Sample], predictions: Sequence[Sequence[tuple[int, int, str]]]) -> dict:
    """Span recall per gold type (every alphanumeric character of the value covered by some
    detection) and precision per predicted type (detection overlaps a gold value)."""
    gold_n, gold_hit, pred_n, pred_hit = Counter(), Counter(), Counter(), Counter()
    for sample, predicted in zip(samples, predictions, strict=True):
        ranges = [(a, b) for a, b, _ in predicted]
        for a, b, entity in sample.spans:
            gold_n[entity] += 1
            gold_hit[entity] += _covered(a, b, sample.text, ranges)
        for a, b, entity in predicted:
            pred_n[entity] += 1
            pred_hit[entity] += any(a < gb and ga < b for ga, gb, _ in sample.spans)
    secret_n = sum(n for e, n in gold_n.items() if e.startswith("SECRET_"))
    secret_hit = sum(n for e, n in gold_hit.items() if e.startswith("SECRET_"))
    return {
        "recall": sum(gold_hit.values()) / max(1, sum(gold_n.values())),
        "precision": sum(pred_hit.values()) / max(1, sum(pred_n.values())),
        "secret_recall": secret_hit / max(1, secret_n),
        "recall_by_type": {e: round(gold_hit[e] / gold_n[e], 4) for e in sorted(gold_n)},
        "precision_by_type": {e: round(pred_hit[e] / pred_n[e], 4) for e in sorted(pred_n)},
        "gold_spans": sum(gold_n.values()),
        "predicted_spans": sum(pred_n.values()),
    }
