"""The recognizers slmconvert adds: secrets (case-sensitive), addresses, public IPs, offline e-mail."""

from __future__ import annotations

import pytest

from slmconvert.curate.recognizers import (
    OfflineEmailRecognizer,
    PersonCueRecognizer,
    PublicIpRecognizer,
    SecretRecognizer,
    StreetAddressRecognizer,
    is_public_ip,
)
from slmconvert.curate.recognizers.secrets import looks_random

SECRETS = SecretRecognizer()


def secrets_in(text: str) -> list[tuple[str, str]]:
    return [(r.entity_type, text[r.start:r.end]) for r in SECRETS.analyze(text, None)]


@pytest.mark.parametrize(("text", "entity", "value"), [
    ("key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv", "SECRET_OPENAI_KEY", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv"),
    ("sk-ant-api03-Xy7Zw9Vu2Ts4Rq6Po8Nm1Lk3Ji5Hg", "SECRET_ANTHROPIC_KEY", "sk-ant-api03-Xy7Zw9Vu2Ts4Rq6Po8Nm1Lk3Ji5Hg"),
    ("id AKIAQ3EGRT5ZWYXB7NQA ok", "SECRET_AWS_ACCESS_KEY", "AKIAQ3EGRT5ZWYXB7NQA"),
    ("aws_secret_access_key = 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", "SECRET_AWS_SECRET_KEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8vB2nM4k"),
    ("ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "SECRET_GITHUB_TOKEN", "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
    ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "SECRET_SLACK_TOKEN",
     "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "SECRET_STRIPE_KEY", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("AIzaSyD3k2J8x9Lm4Np6Qr7St8Uv9Wx0Yz1Ab2C", "SECRET_GOOGLE_API_KEY", "AIzaSyD3k2J8x9Lm4Np6Qr7St8Uv9Wx0Yz1Ab2C"),
    ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", "SECRET_HF_TOKEN", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk",
     "SECRET_JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    ("Authorization: Bearer abc123DEF456ghi789JKL0", "SECRET_BEARER_TOKEN", "abc123DEF456ghi789JKL0"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
     "SECRET_PRIVATE_KEY",
     "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"),
    ("password=hunter2!", "SECRET_PASSWORD", "hunter2!"),
    ("webhook secret 9fQ2xL7pZk3Wm8Rt5Yb1Nc4Vd6Hs0Ja2", "SECRET_GENERIC", "9fQ2xL7pZk3Wm8Rt5Yb1Nc4Vd6Hs0Ja2"),
])
def test_each_secret_kind_is_found(text, entity, value):
    assert (entity, value) in secrets_in(text)


def test_password_in_url_scrubs_only_the_password():
    text = "DATABASE_URL=postgres://svc_orders:Tr0ub4dor&3@db-1.internal:5432/orders"
    assert secrets_in(text) == [("SECRET_PASSWORD", "Tr0ub4dor&3")]


@pytest.mark.parametrize("text", [
    "SK-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv",  # vendor prefixes are case-sensitive
    "akiaq3egrt5zwyxb7nqa",
    "GHP_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "XOXB-123456789012-1234567890123-AbCdEfGhIjKl",
    "SK_LIVE_4EC39HQLYJWDARJTT1ZDP7DC",
    "HF_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
])
def test_prefixes_are_case_sensitive(text):
    # The entropy detector may still flag a random body as SECRET_GENERIC; no vendor type may match.
    assert [entity for entity, _ in secrets_in(text) if entity != "SECRET_GENERIC"] == []


@pytest.mark.parametrize("token", [
    "sha256:" + "ab12" * 16,  # hashes
    "3f2b8c1e-9a4d-4e6f-b1c2-d3e4f5a6b7c8",  # uuid
    "getCustomerOrderHistoryById",  # identifiers
    "SR-4829301", "1Z999AA10123456784", "ORD-2026-000123",  # order and tracking ids
    "/api/v1/orders/123456/items/789",
])
def test_ids_and_hashes_are_not_generic_secrets(token):
    assert not looks_random(token)
    assert secrets_in(f"see {token} for details") == []


def test_street_addresses():
    rec = StreetAddressRecognizer()
    text = "Ship to 1234 Oak Street, Springfield, IL 62704 or 42 Broadway Apt 5. Also PO Box 771."
    values = [text[r.start:r.end] for r in rec.analyze(text, None)]
    assert values == ["1234 Oak Street, Springfield, IL 62704", "42 Broadway Apt 5", "PO Box 771"]
    assert rec.analyze("we sold 12 units today, 3 returned", None) == []


def test_person_cues_skip_words_that_are_not_names():
    rec = PersonCueRecognizer()
    text = "Hi Priya, thanks! Dear Customer, I'm Looking into it. Regards,\nAnaïs Dubois"
    values = [text[r.start:r.end] for r in rec.analyze(text, None)]
    assert values == ["Priya", "Anaïs Dubois"]


def test_public_ip_only():
    assert is_public_ip("73.162.45.10") and is_public_ip("2607:f8b0:4005:80a::200e")
    for private in ("10.0.0.1", "192.168.1.20", "172.16.4.4", "127.0.0.1", "::1", "169.254.1.1", "192.0.2.7"):
        assert not is_public_ip(private)


def test_versions_in_user_agents_are_no_addresses():
    text = '"Mozilla/5.0 AppleWebKit/537.36 Chrome/130.0.0.0 Safari/537.36" from 73.162.45.10 via http://8.8.4.4/x'
    values = [text[r.start:r.end] for r in PublicIpRecognizer().analyze(text, ["IP_ADDRESS"])]
    assert values == ["73.162.45.10", "8.8.4.4"]


def test_email_validation_uses_bundled_suffixes():
    rec = OfflineEmailRecognizer()
    assert rec.validate_result("jane@gmail.com") is True
    assert rec.validate_result("jane@localhost.invalidtld") is False
