"""Seeded canaries: synthetic but realistic PII and secrets, each unique per run, and where each was put.

A canary carries the value as placed plus needles: the exact value and distinctive pieces of it
(the digits of a card without separators, the last 8 characters of a key, an e-mail's local
part), so that a grep of an artifact also finds half-scrubbed or reformatted leaks. Every value
is drawn from one seeded rng and never handed out twice; nothing comes from a public data set.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass, field

from sample_logs.gen.entities import (
    AREA_CODES,
    CITIES,
    FIRST,
    LAST,
    MAIL_DOMAINS,
    STREETS,
    luhn_digit,
)

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
KINDS = (
    "person", "email", "phone", "credit_card", "ssn", "iban", "aws_key_id", "aws_secret_key",
    "openai_key", "github_token", "jwt", "bearer_token", "pem_private_key", "url_password",
    "public_ip", "street_address", "username",
)
# Kinds that fit an id-like field (workload_id, client_id, request.user, a message name, ...).
TAG_KINDS = tuple(k for k in KINDS if k not in ("pem_private_key", "street_address"))
# Kinds placed across the analysis cut of long texts (values a cut would break).
STRADDLE_KINDS = ("credit_card", "aws_key_id", "ssn", "email", "github_token", "jwt", "iban", "phone",
                  "openai_key", "person", "pem_private_key")
MIN_NEEDLE = 8


@dataclass(frozen=True)
class Placement:
    """Where one canary was put: log format, field, input file and line (or array element)."""

    fmt: str
    field: str
    file: str = ""
    line: int | None = None  # 1-based line, element index for a JSON array, None when not tracked

    def label(self) -> str:
        at = f" ({self.file}:{self.line})" if self.line is not None else f" ({self.file})" if self.file else ""
        return f"{self.fmt} · {self.field}{at}"


@dataclass
class Canary:
    """One synthetic sensitive value: kind, the value as placed, needles to grep for, placements."""

    kind: str
    value: str
    needles: tuple[str, ...]
    context: str  # words a person or service writes right before such a value
    key: str  # the JSON key a service would store it under
    placements: list[Placement] = field(default_factory=list)

    def sentence(self) -> str:
        """The value in a short realistic sentence (free-text placement)."""
        glue = "" if self.context.endswith("=") else " "  # user=jdoe, not "user= jdoe"
        return f"{self.context}{glue}{self.value}"

    def json_value(self) -> str:
        """The value as a JSON leaf stores it (a bearer token keeps its scheme)."""
        return f"Bearer {self.value}" if self.kind == "bearer_token" else self.value


CONTEXT = {
    "person": ("customer_name", ("My name is", "Please ask for", "Account holder:", "Signed,")),
    "email": ("email", ("you can email me at", "reply to", "contact:")),
    "phone": ("phone", ("call me on", "my cell is", "phone:")),
    "credit_card": ("card_number", ("I paid with card", "card number", "charge the card")),
    "ssn": ("ssn", ("my SSN is", "SSN:", "social security number")),
    "iban": ("iban", ("refund to IBAN", "IBAN:", "bank account IBAN")),
    "aws_key_id": ("aws_access_key_id", ("aws_access_key_id=", "AWS key id")),
    "aws_secret_key": ("aws_secret_access_key", ("aws_secret_access_key=", "AWS secret key")),
    "openai_key": ("api_key", ("OPENAI_API_KEY=", "my OpenAI key is")),
    "github_token": ("github_token", ("GITHUB_TOKEN=", "the deploy token is")),
    "jwt": ("id_token", ("session token:", "jwt=")),
    "bearer_token": ("authorization", ("Authorization: Bearer",)),
    "pem_private_key": ("private_key", ("here is the key file:", "deploy key:")),
    "url_password": ("dsn", ("connect with", "DATABASE_URL=")),
    "public_ip": ("client_ip", ("login from", "source ip", "remote_addr=")),
    "street_address": ("address_line1", ("ship it to", "my address is", "deliver to")),
    "username": ("username", ("user=", "login name", "username:")),
}


class CanaryFactory:
    """Draws unique canaries from one seed and remembers every one it handed out."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"hostile-canaries:{seed}")
        self.canaries: list[Canary] = []
        self._values: set[str] = set()

    # -- public ---------------------------------------------------------------------------
    def make(self, kind: str) -> Canary:
        """A new canary of kind, never issued before in this run."""
        for _ in range(1000):
            value, needles = getattr(self, f"_{kind}")()
            if value not in self._values and len(value) >= MIN_NEEDLE:
                break
        else:  # pragma: no cover - the value spaces are huge
            raise RuntimeError(f"cannot draw a fresh {kind}")
        self._values.add(value)
        key, contexts = CONTEXT[kind]
        wanted = (value, *needles)
        unique = tuple(dict.fromkeys(n for n in wanted if len(n) >= MIN_NEEDLE))
        canary = Canary(kind, value, unique or (value,), self.rng.choice(contexts), key)
        self.canaries.append(canary)
        return canary

    # -- one generator per kind: (value, extra needles) ---------------------------------------
    def _chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def _digits(self, n: int) -> str:
        return self._chars(string.digits, n)

    def _ascii(self, word: str) -> str:
        return "".join(ch for ch in word.lower() if ch.isascii() and ch.isalpha())

    def _person(self) -> tuple[str, tuple]:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}", ()

    def _email(self) -> tuple[str, tuple]:
        first, last = self._ascii(self.rng.choice(FIRST)), self._ascii(self.rng.choice(LAST))
        local = self.rng.choice((f"{first}.{last}{self._digits(3)}", f"{first[0]}{last}{self._digits(4)}",
                                 f"{last}_{first}{self._digits(2)}"))
        value = f"{local}@{self.rng.choice(MAIL_DOMAINS)}"
        return value, (local,)

    def _phone(self) -> tuple[str, tuple]:
        a, b, c = self.rng.choice(AREA_CODES), str(self.rng.randrange(200, 999)), self._digits(4)
        value = self.rng.choice((f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a} {b} {c}", f"{a}.{b}.{c}",
                                 f"+1-{a}-{b}-{c}", f"+1{a}{b}{c}", f"+44 20 7946 {self._digits(4)}",
                                 f"+49 30 {self._digits(4)} {self._digits(4)}"))
        digits = "".join(ch for ch in value if ch.isdigit())
        return value, (digits, digits.removeprefix("1") if value.startswith("+1") else digits)

    def _credit_card(self) -> tuple[str, tuple]:
        prefix, length = self.rng.choice((
            ("4", 16), ("51", 16), ("55", 16), (str(self.rng.randrange(2221, 2721)), 16), ("34", 15), ("37", 15),
            ("5018", 16), ("5020", 16), ("5038", 16), ("5612", 16), ("5893", 16), ("6304", 16), ("6759", 16),
            ("6761", 19), ("6011", 16), ("65", 16), ("6220", 19), ("6762", 12), ("5890", 18),
        ))
        body = prefix + self._digits(length - len(prefix) - 1)
        number = body + luhn_digit(body)
        if length == 15:
            groups = [number[:4], number[4:10], number[10:]]
        else:
            groups = [number[i:i + 4] for i in range(0, len(number), 4)]
        sep = self.rng.choice((" ", "-", ""))
        value = sep.join(groups)
        tail = sep.join(groups[-2:]) if sep else number[-8:]
        return value, (number, tail)

    def _ssn(self) -> tuple[str, tuple]:
        area = self.rng.choice([a for a in range(1, 900) if a != 666])
        value = f"{area:03d}-{self.rng.randrange(1, 100):02d}-{self.rng.randrange(1, 10000):04d}"
        return value, (value.replace("-", ""),)

    def _iban(self) -> tuple[str, tuple]:
        country, bban = self.rng.choice((
            ("DE", self._digits(18)),
            ("GB", self._chars(string.ascii_uppercase, 4) + self._digits(14)),
            ("FR", self._digits(23)),
            ("NL", self._chars(string.ascii_uppercase, 4) + self._digits(10)),
        ))
        numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
        check = f"{98 - int(numeric) % 97:02d}"
        compact = country + check + bban
        grouped = " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
        value = self.rng.choice((compact, grouped))
        return value, (compact, grouped, compact[-10:])

    def _aws_key_id(self) -> tuple[str, tuple]:
        value = "AKIA" + self._chars(string.ascii_uppercase + "234567", 16)
        return value, (value[-8:],)

    def _aws_secret_key(self) -> tuple[str, tuple]:
        value = self._chars(B64, 40)
        return value, (value[:12], value[-10:])

    def _openai_key(self) -> tuple[str, tuple]:
        value = self.rng.choice(("sk-proj-" + self._chars(B64URL, 56), "sk-" + self._chars(ALNUM, 48)))
        return value, (value[-10:], value[-30:-20])

    def _github_token(self) -> tuple[str, tuple]:
        value = self.rng.choice(("ghp_", "gho_", "ghs_")) + self._chars(ALNUM, 36)
        return value, (value[-10:], value[4:14])

    def _jwt(self) -> tuple[str, tuple]:
        def b64(obj: dict) -> str:
            raw = json.dumps(obj, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        head = b64({"alg": "HS256", "typ": "JWT"})
        body = b64({"sub": self._digits(9), "name": f"u{self._digits(6)}", "iat": 1790000000 + self.rng.randrange(10**7)})
        sig = self._chars(B64URL, 43)
        return f"{head}.{body}.{sig}", (body, sig[-12:])

    def _bearer_token(self) -> tuple[str, tuple]:
        value = self._chars(B64URL, 40)
        return value, (value[-10:],)

    def _pem_private_key(self) -> tuple[str, tuple]:
        lines = [self._chars(B64, 64) for _ in range(6)] + [self._chars(B64, 24) + "=="]
        value = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----"
        return value, (lines[0][:20], lines[3][20:40], lines[-1][:16])

    def _url_password(self) -> tuple[str, tuple]:
        password = self._chars(ALNUM, 6) + self.rng.choice("!*%$") + self._chars(ALNUM, 6)
        user = self.rng.choice(("wms_admin", "app", "reporting", "svc_orders"))
        value = (f"postgres://{user}:{password}@db-{self.rng.randrange(1, 9)}.internal.shopright.net:5432/"
                 f"{self.rng.choice(('orders', 'inventory', 'billing'))}")
        return value, (password,)

    def _public_ip(self) -> tuple[str, tuple]:
        private = (10, 100, 127, 169, 172, 192, 198, 203)
        first = self.rng.choice([o for o in range(11, 224) if o not in private])
        return f"{first}.{self.rng.randrange(11, 255)}.{self.rng.randrange(11, 255)}.{self.rng.randrange(11, 255)}", ()

    def _street_address(self) -> tuple[str, tuple]:
        return f"{self.rng.randrange(1000, 9899)} {self.rng.choice(STREETS)}", ()

    def _username(self) -> tuple[str, tuple]:
        first, last = self._ascii(self.rng.choice(FIRST)), self._ascii(self.rng.choice(LAST))
        return self.rng.choice((f"{first[0]}{last}{self._digits(4)}", f"{first}_{last}{self._digits(2)}")), ()

    def city_line(self) -> str:
        """City, state and ZIP to follow a street address (not a canary by itself)."""
        city, state, zip3 = self.rng.choice(CITIES)
        return f"{city}, {state} {zip3}{self._digits(2)}"
