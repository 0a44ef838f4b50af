"""Presidio recognizers adjusted for offline use and for logs: e-mail validation with a bundled
public-suffix snapshot (no network), and IP addresses that are public (not private/loopback)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer, IpRecognizer


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
