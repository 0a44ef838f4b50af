"""Synthetic entities (people, contact data, cards, ids, secrets) that register every sensitive value.

All values are invented; card numbers pass the Luhn check so detectors treat them as real.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard "
    "Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark "
    "Sandra Donald Ashley Steven Kimberly Andrew Emily Joshua Donna Kevin Michelle Brian Carol Priya "
    "Wei Mohammed Fatima Hiroshi Yuki Carlos Sofia Mateo Valentina Olga Dmitri Aisha Kwame Ngozi "
    "Liam Olivia Noah Emma Ethan Chloe Lucas Mia Oliver Amelia Raj Ananya Diego Camila Hannah Jonas"
).split() + ["José", "Zoë", "Renée", "Søren", "Chloé", "Björn", "Anaïs", "Siobhán"]
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Patel Kim Chen "
    "Okafor Mensah Tanaka Suzuki Kowalski Novak Petrov Ivanova Haddad Khan Singh Cohen Schmidt"
).split() + ["Müller", "O'Brien", "García", "Nuñez", "Dubois", "Fernández", "Løvås", "D'Angelo"]
MAIL_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "icloud.com",
    "hotmail.com",
    "proton.me",
    "aol.com",
    "comcast.net",
    "me.com",
    "fastmail.com",
    "gmx.de",
    "btinternet.com",
)
STREETS = (
    "Main St",
    "Oak Avenue",
    "Maple Dr",
    "Cedar Lane",
    "Elm Street",
    "Washington Blvd",
    "Lakeview Terrace",
    "Park Place",
    "Sunset Blvd",
    "Highland Ave",
    "Pine Ridge Rd",
    "Willow Way",
    "Church Street",
    "Mill Road",
    "Harbor Dr",
    "Chestnut Ct",
    "Broadway",
    "Riverside Dr",
    "Birch Hollow Ln",
    "Magnolia Ave",
    "Frontage Rd",
    "College Ave",
)
CITIES = (
    ("Springfield", "IL", "627"),
    ("Austin", "TX", "787"),
    ("Portland", "OR", "972"),
    ("Columbus", "OH", "432"),
    ("Denver", "CO", "802"),
    ("Raleigh", "NC", "276"),
    ("Sacramento", "CA", "958"),
    ("Tampa", "FL", "336"),
    ("Madison", "WI", "537"),
    ("Boise", "ID", "837"),
    ("Albany", "NY", "122"),
    ("Phoenix", "AZ", "850"),
    ("Nashville", "TN", "372"),
    ("Richmond", "VA", "232"),
    ("Salt Lake City", "UT", "841"),
    ("Ann Arbor", "MI", "481"),
    ("Burlington", "VT", "054"),
    ("Omaha", "NE", "681"),
)
AREA_CODES = (
    "217",
    "512",
    "503",
    "614",
    "303",
    "919",
    "916",
    "813",
    "608",
    "208",
    "518",
    "602",
    "615",
    "804",
    "801",
    "734",
    "802",
    "402",
    "415",
    "646",
    "312",
    "206",
)
ALNUM = string.ascii_letters + string.digits
UPPER_NUM = string.ascii_uppercase + string.digits
B64URL = ALNUM + "-_"


@dataclass
class Person:
    first: str
    last: str
    email: str
    phone: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass
class Address:
    street: str
    city: str
    state: str
    postal_code: str
    country: str = "US"

    def one_line(self) -> str:
        return f"{self.street}, {self.city}, {self.state} {self.postal_code}"


@dataclass
class Ent:
    """Draws entities from one seeded rng and records each sensitive value it hands out."""

    rng: random.Random
    found: list[tuple[str, str]] = field(default_factory=list)

    def rec(self, kind: str, value: str) -> str:
        self.found.append((kind, value))
        return value

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(alphabet[self.rng.randrange(len(alphabet))] for _ in range(n))

    def digits(self, n: int) -> str:
        return self.chars(string.digits, n)

    # --- people and contact data -------------------------------------------------------------
    def person(self) -> Person:
        first, last = self.pick(FIRST), self.pick(LAST)
        self.rec("PERSON", f"{first} {last}")
        return Person(first, last, self.email(first, last), self.phone())

    def email(self, first: str, last: str) -> str:
        f = first.lower().replace("é", "e").replace("ë", "e").replace("ø", "o").replace("ö", "o")
        f = "".join(ch for ch in f if ch.isascii() and ch.isalpha())
        la = "".join(ch for ch in last.lower() if ch.isascii() and ch.isalpha())
        style = self.rng.randrange(6)
        local = (
            f"{f}.{la}",
            f"{f[0]}{la}{self.rng.randrange(10, 99)}",
            f"{f}{la}",
            f"{f}_{la}{self.rng.randrange(1970, 2005)}",
            f"{la}.{f}",
            f"{f}{self.rng.randrange(100, 999)}",
        )[style]
        return self.rec("EMAIL_ADDRESS", f"{local}@{self.pick(MAIL_DOMAINS)}")

    def phone(self) -> str:
        a, b, c = self.pick(AREA_CODES), f"{self.rng.randrange(200, 999)}", self.digits(4)
        style = self.rng.randrange(5)
        value = (
            f"({a}) {b}-{c}",
            f"{a}-{b}-{c}",
            f"+1 {a} {b} {c}",
            f"{a}.{b}.{c}",
            f"+1-{a}-{b}-{c}",
        )[style]
        return self.rec("PHONE_NUMBER", value)

    def address(self) -> Address:
        city, state, zip3 = self.pick(CITIES)
        street = f"{self.rng.randrange(12, 9899)} {self.pick(STREETS)}"
        if self.rng.random() < 0.25:
            street += f" {self.pick(('Apt', 'Unit', 'Suite', '#'))} {self.rng.randrange(1, 40)}{self.pick('ABCD ')}".rstrip()
        addr = Address(street, city, state, zip3 + self.digits(2))
        self.rec("STREET_ADDRESS", addr.street)
        return addr

    def card(self) -> str:
        prefix, length = self.pick((("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16)))
        body = prefix + self.digits(length - len(prefix) - 1)
        number = body + luhn_digit(body)
        sep = self.pick((" ", "-", ""))
        groups = (
            [number[i : i + 4] for i in range(0, len(number), 4)]
            if length == 16
            else [number[:4], number[4:10], number[10:]]
        )
        return self.rec("CREDIT_CARD", sep.join(groups))

    def ip(self) -> str:
        return self.rec(
            "IP_ADDRESS",
            f"{self.rng.randrange(23, 223)}.{self.rng.randrange(256)}."
            f"{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}",
        )

    # --- business identifiers (not sensitive) -------------------------------------------------
    def order_id(self) -> str:
        return f"SR-{self.rng.randrange(1000000, 9999999)}"

    def tracking(self, carrier: str) -> str:
        if carrier == "UPS":
            return "1Z" + self.chars(UPPER_NUM, 16)
        if carrier == "FedEx":
            return self.digits(12)
        return "94" + self.digits(20)

    def money(self, lo: float, hi: float) -> float:
        return round(self.rng.uniform(lo, hi), 2)

    # --- secrets users paste (synthetic, pattern-correct) ------------------------------------
    def secret(self, kind: str | None = None) -> tuple[str, str]:
        """(kind, text as a user would paste it); the secret part(s) of the text are recorded."""
        kind = kind or self.pick(SECRET_KINDS)
        c = self.chars
        if kind == "BEARER_TOKEN":
            return kind, "Authorization: Bearer " + self.rec(kind, c(B64URL, 40))
        if kind == "AWS_ACCESS_KEY":
            key = self.rec(kind, "AKIA" + c(string.ascii_uppercase + "234567", 16))
            secret = self.rec("AWS_SECRET_KEY", c(ALNUM + "/+", 40))
            return kind, f"aws_access_key_id={key} aws_secret_access_key={secret}"
        value = {
            "OPENAI_KEY": lambda: "sk-proj-" + c(B64URL, 74) + "T3BlbkFJ" + c(B64URL, 74),
            "OPENAI_KEY_LEGACY": lambda: "sk-" + c(ALNUM, 20) + "T3BlbkFJ" + c(ALNUM, 20),
            "GITHUB_TOKEN": lambda: "ghp_" + c(ALNUM, 36),
            "SLACK_TOKEN": lambda: f"xoxb-{self.digits(12)}-{self.digits(13)}-{c(ALNUM, 24)}",
            "STRIPE_KEY": lambda: "sk_live_" + c(ALNUM, 99),
            "JWT": lambda: jwt_like(self),
            "DB_URL_PASSWORD": lambda: (
                f"postgres://{self.pick(('wms_admin', 'app', 'reporting', 'svc_orders'))}:"
                f"{c(ALNUM, 6)}{self.pick('!#%*')}{c(ALNUM, 6)}@db-{self.rng.randrange(1, 9)}."
                f"internal.shopright.net:5432/{self.pick(('inventory', 'orders', 'analytics'))}"
            ),
        }[kind]()
        return kind, self.rec(kind, value)


SECRET_KINDS = (
    "OPENAI_KEY",
    "OPENAI_KEY_LEGACY",
    "AWS_ACCESS_KEY",
    "GITHUB_TOKEN",
    "SLACK_TOKEN",
    "STRIPE_KEY",
    "JWT",
    "BEARER_TOKEN",
    "DB_URL_PASSWORD",
)


def luhn_digit(body: str) -> str:
    """Check digit that makes body + digit pass the Luhn test."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def jwt_like(ent: Ent) -> str:
    import base64
    import json

    def b64(obj: dict) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    head = b64({"alg": "HS256", "typ": "JWT"})
    body = b64(
        {"sub": ent.digits(8), "scope": "orders:read", "iat": 1793000000 + ent.rng.randrange(10**6)}
    )
    return f"{head}.{body}.{ent.chars(B64URL, 43)}"
