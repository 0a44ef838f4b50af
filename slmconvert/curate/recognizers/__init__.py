"""Recognizers slmconvert adds to Presidio for LLM logs."""

from slmconvert.curate.recognizers.accounts import USERNAME, UsernameRecognizer
from slmconvert.curate.recognizers.address import StreetAddressRecognizer
from slmconvert.curate.recognizers.cards import CREDIT_CARD, CardNumberRecognizer, luhn_valid
from slmconvert.curate.recognizers.given_names import GivenNameRecognizer
from slmconvert.curate.recognizers.names import (
    NOT_PERSON_WORDS,
    PersonCueRecognizer,
    opens_a_sentence,
    person_pieces,
)
from slmconvert.curate.recognizers.network import (
    OfflineEmailRecognizer,
    PublicIpRecognizer,
    is_public_ip,
    offline_tld_extractor,
)
from slmconvert.curate.recognizers.phones import LenientPhoneRecognizer
from slmconvert.curate.recognizers.secrets import SECRET_ENTITIES, SecretRecognizer
from slmconvert.curate.recognizers.signatures import SignatureNameRecognizer

__all__ = [
    "CREDIT_CARD",
    "CardNumberRecognizer",
    "GivenNameRecognizer",
    "LenientPhoneRecognizer",
    "NOT_PERSON_WORDS",
    "SECRET_ENTITIES",
    "OfflineEmailRecognizer",
    "PersonCueRecognizer",
    "PublicIpRecognizer",
    "SecretRecognizer",
    "SignatureNameRecognizer",
    "StreetAddressRecognizer",
    "USERNAME",
    "UsernameRecognizer",
    "is_public_ip",
    "luhn_valid",
    "offline_tld_extractor",
    "opens_a_sentence",
    "person_pieces",
]
