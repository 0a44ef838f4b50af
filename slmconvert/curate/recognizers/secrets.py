"""Recognizers for credentials that LLM logs leak and Presidio does not know: vendor API keys,
tokens, JWTs, bearer headers, private key blocks, passwords in URLs and config, and generic
high-entropy strings.

Vendor prefixes are case-sensitive (`sk-` is a key, `SK-` is not), so every pattern here is
compiled without IGNORECASE; keywords that may appear in any case use inline `(?i:...)` groups.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import regex as re
from presidio_analyzer import LocalRecognizer, RecognizerResult

from slmconvert.curate.recognizers.results import match_result

# Case-sensitive on purpose: DOTALL/MULTILINE only.
FLAGS = re.DOTALL | re.MULTILINE
_NOT_TOKEN_BEFORE = r"(?<![A-Za-z0-9_\-])"
_NOT_TOKEN_AFTER = r"(?![A-Za-z0-9_\-])"
_PLACEHOLDER = re.compile(r"^(?:<[^<>]*>|\$\{[^}]*\}|\{\{.*\}\}|\*+|x+|X+|\.{3}|REDACTED|redacted|null|None|changeme)$")


# Provider object ids look random but are identifiers the model must copy (call_..., msg_..., cus_...).
_ID_PREFIX = re.compile(
    r"(?:call|toolu|msg|chatcmpl|req|resp|run|thread|asst|file|batch|cus|pi|ch|evt|in|sub|txn|ord|fp|cs|"
    r"prod|price|seti|src|tok|acct|po|inv)[_\-]"
)


def shannon_entropy(text: str) -> float:
    """Bits per character of the string's own character distribution."""
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def looks_random(token: str) -> bool:
    """A free-standing token that is probably a credential, not an id, hash, word or path.

    Needs mixed case and digits, high entropy and frequent character-class changes; pure hex
    (hashes, UUIDs, commit ids), readable identifiers and paths are left alone.
    """
    core = token.rstrip("=")
    if len(core) < 20 or len(core) > 256 or _ID_PREFIX.match(core):
        return False
    if re.fullmatch(r"[0-9a-fA-F\-]+", core) or re.fullmatch(r"[0-9A-Z_\-]+", core):
        return False
    if core.count("/") * 12 > len(core):
        return False
    uppers = sum(ch.isupper() for ch in core)
    lowers = sum(ch.islower() for ch in core)
    digits = sum(ch.isdigit() for ch in core)
    if uppers < 2 or lowers < 2 or digits < 1:
        return False
    if shannon_entropy(core) < 3.6:
        return False
    classes = ["u" if ch.isupper() else "l" if ch.islower() else "d" if ch.isdigit() else "s" for ch in core]
    changes = sum(a != b for a, b in zip(classes, classes[1:], strict=False))
    return changes / (len(core) - 1) >= 0.3


def plausible_password(value: str) -> bool:
    """A value after `password=` that is a credential rather than prose or a placeholder."""
    if len(value) < 6 or _PLACEHOLDER.match(value) or value.isdigit():
        return False
    has_digit = any(ch.isdigit() for ch in value)
    has_symbol = any(not ch.isalnum() for ch in value)
    mixed_case = any(ch.isupper() for ch in value) and any(ch.islower() for ch in value)
    return has_digit or has_symbol or mixed_case


@dataclass(frozen=True)
class SecretPattern:
    """One credential shape; group `s` (when present) is the part to scrub."""

    entity: str
    regex: str
    score: float = 1.0
    check: Callable[[str], bool] | None = None


_KEYWORD_SECRET = (
    r"(?<![A-Za-z0-9])(?i:(?P<kw>password|passwd|passphrase|pwd|secret|client[_\-]?secret|api[_\-]?key|apikey"
    r"|access[_\-]?token|auth[_\-]?token|refresh[_\-]?token|private[_\-]?key|secret[_\-]?key|token))"
    r"[\"']?\s*[:=]\s*[\"']?(?P<s>[^\s\"',;&<>]{6,200})"
)

PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern("SECRET_PRIVATE_KEY",
                  r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)"),
    SecretPattern("SECRET_ANTHROPIC_KEY", _NOT_TOKEN_BEFORE + r"sk-ant-[A-Za-z0-9_\-]{20,}" + _NOT_TOKEN_AFTER),
    SecretPattern("SECRET_OPENAI_KEY",
                  _NOT_TOKEN_BEFORE + r"sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}" + _NOT_TOKEN_AFTER),
    SecretPattern("SECRET_AWS_ACCESS_KEY",
                  r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Z0-9])"),
    SecretPattern("SECRET_AWS_SECRET_KEY",
                  # "aws_secret_access_key=...", "AWS secret key: ...", "the AWS secret access key is ..."
                  r"(?i:aws[_\-\s]?secret[_\-\s]?(?:access[_\-\s]?)?key|secret[_\-\s]?access[_\-\s]?key)"
                  r"(?:[\"']?\s*[:=]\s*|\s+(?i:is\s+|was\s+|of\s+)?)[\"'`]?"
                  r"(?<![A-Za-z0-9/+])(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"),
    SecretPattern("SECRET_GITHUB_TOKEN",
                  r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])"),
    SecretPattern("SECRET_SLACK_TOKEN", _NOT_TOKEN_BEFORE + r"xox[abprs]-[A-Za-z0-9\-]{10,}" + _NOT_TOKEN_AFTER),
    SecretPattern("SECRET_SLACK_TOKEN", r"https://hooks\.slack\.com/services/(?P<s>[A-Za-z0-9/_\-]{20,})"),
    SecretPattern("SECRET_STRIPE_KEY", r"(?<![A-Za-z0-9_])(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}(?![A-Za-z0-9_])"),
    SecretPattern("SECRET_GOOGLE_API_KEY", r"(?<![A-Za-z0-9_\-])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])"),
    SecretPattern("SECRET_HF_TOKEN", r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])"),
    SecretPattern("SECRET_JWT",
                  r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*(?![A-Za-z0-9_\-])"),
    SecretPattern("SECRET_BEARER_TOKEN",
                  r"(?i:\bbearer\s+)(?P<s>[A-Za-z0-9\-._~+/]{16,}=*)(?![A-Za-z0-9\-._~+/=])"),
    SecretPattern("SECRET_BEARER_TOKEN",
                  r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?i:basic|digest)\s+(?P<s>[A-Za-z0-9+/._\-]{8,}=*)"),
    SecretPattern("SECRET_PASSWORD",
                  r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@\"'<>]*:(?P<s>[^\s@/\"'<>]+)@[A-Za-z0-9.\-\[\]]"),
    SecretPattern("SECRET_PASSWORD", _KEYWORD_SECRET, 0.9, plausible_password),
    SecretPattern("SECRET_GENERIC",
                  r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/_\-]{20,256}={0,2}(?![A-Za-z0-9+/=_\-])", 0.7, looks_random),
)

SECRET_ENTITIES: tuple[str, ...] = tuple(sorted({p.entity for p in PATTERNS}))
_PASSWORD_WORDS = {"password", "passwd", "passphrase", "pwd"}


class SecretRecognizer(LocalRecognizer):
    """All credential patterns in one pass; each hit reports only the secret part of its match."""

    def __init__(self, supported_language: str = "en") -> None:
        self._compiled = [(p, re.compile(p.regex, FLAGS)) for p in PATTERNS]
        super().__init__(supported_entities=list(SECRET_ENTITIES), supported_language=supported_language,
                         name="SecretRecognizer")

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        """Match every pattern; keyword hits name SECRET_PASSWORD only for password-like keys."""
        wanted = set(entities or SECRET_ENTITIES)
        results: list[RecognizerResult] = []
        for pattern, compiled in self._compiled:
            for match in compiled.finditer(text):
                group = "s" if "s" in compiled.groupindex and match.group("s") is not None else 0
                value = match.group(group)
                if pattern.check is not None and not pattern.check(value):
                    continue
                entity = pattern.entity
                if "kw" in compiled.groupindex:
                    keyword = match.group("kw").lower()
                    entity = "SECRET_PASSWORD" if keyword in _PASSWORD_WORDS else "SECRET_GENERIC"
                if entity not in wanted:
                    continue
                results.append(match_result(self, entity, match.start(group), match.end(group), pattern.score))
        return results
