"""Recognizers slmconvert adds to Presidio for LLM logs."""

from slmconvert.curate.recognizers.accounts import USERNAME, UsernameRecognizer
from slmconvert.curate.recognizers.address import StreetAddressRecognizer
from slmconvert.curate.recognizers.names import NOT_PERSON_WORDS, PersonCueRecognizer
from slmconvert.curate.recognizers.network import (
    OfflineEmailRecognizer,
    PublicIpRecognizer,
    is_public_ip,
    offline_tld_extractor,
)
from slmconvert.curate.recognizers.secrets import SECRET_ENTITIES, SecretRecognizer

__all__ = [
    "NOT_PERSON_WORDS",
    "SECRET_ENTITIES",
    "OfflineEmailRecognizer",
    "PersonCueRecognizer",
    "PublicIpRecognizer",
    "SecretRecognizer",
    "StreetAddressRecognizer",
    "USERNAME",
    "UsernameRecognizer",
    "is_public_ip",
    "offline_tld_extractor",
]
