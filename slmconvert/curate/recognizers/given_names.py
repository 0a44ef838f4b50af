"""Full names the small spaCy model misses: a known given name, then a surname-like word.

spaCy's small English model drops names in JSON strings, error messages, tool results and very
long single-line texts ("Please ask for Camila Mitchell"). A first-name gazetteer does not depend
on sentence context: a capitalised given name from Faker's international first-name lists (MIT
licensed, about 20,000 Latin-script names over its locales), an optional middle initial, then a
capitalised word that is not a common English word or a business word. A given name that is
itself an English word ("Will", "May", "Grant") needs a surname from Faker's last-name lists.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import regex as re
from presidio_analyzer import LocalRecognizer, RecognizerResult

from slmconvert.curate.recognizers.names import NAME_WORD, NOT_PERSON_WORDS
from slmconvert.curate.recognizers.results import match_result

_FIRST_ATTRS = ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary",
                "first_romanized_names", "first_romanized_names_male", "first_romanized_names_female")
_LAST_ATTRS = ("last_names", "last_romanized_names")
_LATIN_NAME = re.compile(r"\p{Lu}\p{Ll}{2,}", re.V1)
_LATIN = re.compile(r"[\p{Latin}]+")
PATTERN = re.compile(
    rf"(?<![\p{{L}}\d_'’\-@.])(?P<first>{NAME_WORD})(?:[ \t]+\p{{Lu}}\.)?[ \t]+(?P<last>{NAME_WORD})(?![\p{{L}}\d_@])"
)


def _provider_words(attrs: tuple[str, ...]) -> frozenset[str]:
    """Capitalised Latin-script words of the given list attributes of every Faker person locale."""
    import faker.providers.person as person

    words: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        provider = getattr(importlib.import_module(f"{person.__name__}.{module.name}"), "Provider", None)
        for attr in attrs:
            values = vars(provider).get(attr) if provider is not None else None
            if isinstance(values, (dict, list, tuple, set, frozenset)):
                words.update(v for v in values if isinstance(v, str) and _LATIN_NAME.fullmatch(v)
                             and _LATIN.fullmatch(v))
    return frozenset(words)


@cache
def given_names() -> frozenset[str]:
    """Given names of every Faker locale, minus capitalised business words."""
    return _provider_words(_FIRST_ATTRS) - NOT_PERSON_WORDS


@cache
def last_names() -> frozenset[str]:
    """Family names of every Faker locale."""
    return _provider_words(_LAST_ATTRS)


@cache
def common_words() -> frozenset[str]:
    """Lowercase common English words (Faker's en_US lorem list) and the business words."""
    from faker.providers.lorem.en_US import Provider as Lorem

    return frozenset(w.lower() for w in Lorem.word_list) | {w.lower() for w in NOT_PERSON_WORDS}


def is_full_name(first: str, last: str) -> bool:
    """A given name from the list and a surname-like word after it."""
    if first not in given_names() or last in NOT_PERSON_WORDS:
        return False
    common = common_words()
    if last.lower() in common:
        return False
    return first.lower() not in common or last in last_names()


class GivenNameRecognizer(LocalRecognizer):
    """`<given name> [X.] <Surname>` anywhere, whatever surrounds it."""

    ENTITY = "PERSON"
    # Above spaCy's 0.85: Presidio drops a span contained in a higher-scored one of the same type, and
    # NER spans that swallow a name with JSON around it ('s contact Marisol Achterberg ku') are then
    # rejected as implausible names, which took the name with them.
    SCORE = 0.86

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_entities=[self.ENTITY], supported_language=supported_language,
                         name="GivenNameRecognizer")

    def load(self) -> None:
        """The name lists, read once per process."""
        given_names(), last_names(), common_words()

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        """Every given name followed by a surname-like word."""
        return [match_result(self, self.ENTITY, m.start(), m.end(), self.SCORE)
                for m in PATTERN.finditer(text, overlapped=True) if is_full_name(m.group("first"), m.group("last"))]
