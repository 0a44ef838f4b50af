"""Presidio recognizers adjusted for offline use and for logs: e-mail validation with a bundled
public-suffix snapshot (no network), and IP addresses that are public (not private/loopback)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import regex as re
import tldextract
from presidio_analyzer import RecognizerResult
from presidio_analyzer.predefined_recognizers import EmailRecognizer, IpRecognizer

# A dotted number right after a word and a slash is a version ("Chrome/130.0.0.0" in a user agent),
# not an address; "http://203.0.113.7/" has a slash before its slash and stays an address.
_VERSION_PREFIX = re.compile(r"\p{L}/$")


@lru_cache(maxsize=1)
def offline_tld_extractor() -> tldextract.TLDExtract:
    """A TLDExtract that never fetches: no suffix-list URLs, no cache dir, the bundled snapshot."""
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer, validating domains against the bundled suffix snapshot."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language, name="OfflineEmailRecognizer")

    def validate_result(self, pattern_text: str) -> bool:  # noqa: D102
        return offline_tld_extractor()(pattern_text).fqdn != ""


def is_public_ip(text: str) -> bool:
    """True for a globally routable address; private, loopback, link-local, reserved and
    documentation ranges are not personal data."""
    try:
        address = ipaddress.ip_interface(text.split("%")[0]).ip
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class PublicIpRecognizer(IpRecognizer):
    """Presidio's IP patterns, keeping only addresses that can identify a person or host."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language, name="PublicIpRecognizer")

    def invalidate_result(self, pattern_text: str) -> bool:  # noqa: D102
        return not is_public_ip(pattern_text)

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None, regex_flags=None) -> list[RecognizerResult]:
        """Presidio's matches, less product versions ("Chrome/130.0.0.0")."""
        found = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return [r for r in found if not _VERSION_PREFIX.search(text, max(0, r.start - 2), r.start)]
