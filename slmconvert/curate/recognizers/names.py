"""Names introduced by a cue ("my name is", "Hi", "Dear", "Thanks,", "Mr."), which a small spaCy
model misses when a first name stands alone in a chat message."""

from __future__ import annotations

import regex as re
from presidio_analyzer import LocalRecognizer, RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS

from slmconvert.curate.recognizers.results import match_result

_CUE = (
    r"(?i:\bmy\s+name\s+is|\bmy\s+name's|\bi\s+am|\bi'm|\bthis\s+is|\bname\s*:|\bdear|\bhi|\bhello|\bhey"
    r"|\bthanks|\bthank\s+you|\bregards|\bsincerely|\bcheers|\bbest|\bmr\.?|\bmrs\.?|\bms\.?|\bmiss|\bdr\.?"
    r"|\bcustomer\s*:|\bcontact\s*:|\bsigned\s*:?|\bspeaking\s+with|\bfrom\s*:|\bcontacted"
    r"|\b(?:spoke|spoken|speaking|talked|talking|chatted)\s+(?:to|with)"
    # Role labels of memos, tickets and mail headers: "Author: Siobhán Dubois", "approved by Kenji".
    r"|\b(?:author|owner|assignee|requester|reporter|agent|rep|attn|to|cc|holder|cardholder)\s*:|\battn\.?"
    r"|\b(?:requested|prepared|written|submitted|reported|created|approved|signed|sent)\s+by"
    r"|\b(?:the\s+)?(?:user|customer|caller|requester|contact|agent|owner|assignee|name)\s+is"
    r"|\bon\s+behalf\s+of)"
)
NAME_WORD = r"\p{Lu}(?:\p{Ll}|['’]\p{Lu})[\p{L}'’\-]*"
# One to three capitalised words, a middle initial allowed: Anaïs Dubois, Mary J. O'Brien.
NAME_WORDS = rf"{NAME_WORD}(?:[ \t]+(?:{NAME_WORD}|\p{{Lu}}\.))?(?:[ \t]+{NAME_WORD})?"
_NAME = rf"(?P<name>{NAME_WORDS})"
_LINE = re.compile(r"[^\n]+")
_LETTERS = re.compile(r"\p{L}+")
PATTERN = _CUE + r"[,:]?[ \t]*\n?[ \t]*" + _NAME + r"(?![\p{L}\d_@])"
# Two or three capitalised words right before a verb of contact: "Marcus Petrova called about ...".
BEFORE_VERB = (
    rf"(?<![\p{{L}}'’\-])(?P<name>{NAME_WORD}(?:[ \t]+{NAME_WORD}){{1,2}})[ \t]+(?:called|phoned|rang|e-?mailed"
    r"|wrote|texted|messaged|asked|said|reported|replied|complained|requested|mentioned|confirmed|contacted"
    r"|opened|submitted|placed|ordered|paid|returned|cancell?ed)\b"
)
# Two or three capitalised words right after "ask for": "Please ask for Ananya Young at the desk".
AFTER_ASK = (
    rf"(?i:\b(?:ask|asks|asked|asking)\s+for)[ \t]+(?P<name>{NAME_WORD}(?:[ \t]+{NAME_WORD}){{1,2}})(?![\p{{L}}\d_@])"
)
# Capitalised words that follow a cue but are not names.
NOT_NAMES = frozenset(
    "I The A An All Team Everyone There Here Support Customer Customers Sir Madam Regards Wishes Sorry "
    "Again Thanks Thank Welcome Good Great Happy Just Please Yes No Ok Okay Sure Agent Assistant Bot "
    "Friend Friends Folks Guys Hello Hi Dear Best Kind Warm Morning Afternoon Evening Today Tomorrow "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday Order Your Our We You This That It "
    "Mr Mrs Ms Dr Miss Prof Mx Unfortunately Certainly Absolutely Glad Looking Writing Following Checking Calling "
    "Yesterday Earlier Later Then Also And But So When After Before Since Because If Meanwhile Someone".split()
)
# Capitalised business words that a small NER model tags as a person when they stand alone.
NOT_PERSON_WORDS = NOT_NAMES | frozenset(
    "Cheers Gold Silver Platinum Bronze Premium Basic Standard Draft Ignore Item Items Order Orders Tracking Shipped "
    "Delivered Refund Refunds Return Returns Loyalty Note Notes Summary Subject Status Total Paid Priority "
    "Urgent Customer Agent Support Escalation Warehouse Carrier Shipping Billing Invoice Account Product "
    "Products Review Reply Answer Question Request Response Ticket Tickets Update Updated Done Pending "
    "Contact Email Call Ask Ping Message Text Phone Mobile Owner Author Lead Assignee Requester".split()
)


_SENTENCE_GOES_ON = re.compile(r"(?:['’]s)?[ \t]+\p{Ll}")  # after the word or its "'s"


def opens_a_sentence(text: str, start: int, end: int) -> bool:
    """True when the capitalised word text[start:end] is an English function word (spaCy's stop
    words: "Can", "How", "My", "What's") with a lowercase word after it: a sentence starting
    ("hi Can you ship ...", "Hello, How many ..."), not a name ("Hi Will," and "Will Smith" stay names)."""
    word = text[start:end].removesuffix("'s").removesuffix("’s")
    return word.lower() in STOP_WORDS and _SENTENCE_GOES_ON.match(text, end) is not None


def person_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The parts of an NER PERSON span worth checking as names, in order.

    spaCy often runs a name on into the next line ("Hannah Lee\\n+1-813-327-"); such a span, checked
    whole, is rejected and the name leaks. So a span over several lines is checked line by line;
    a line then needs two words or more (a lone "Write" below a heading is no name).
    """
    lines = [(m.start(), m.end()) for m in _LINE.finditer(text, start, end)]
    if len(lines) <= 1:
        return [(start, end)]
    return [(s, e) for s, e in lines if len(_LETTERS.findall(text, s, e)) >= 2]


class PersonCueRecognizer(LocalRecognizer):
    """Capitalised one-to-three-word names right after a greeting, sign-off, title, role label or
    intro, and two-to-three-word names right before a verb of contact ("... called about") or
    after "ask for"."""

    ENTITY = "PERSON"
    SCORE = 0.7

    def __init__(self, supported_language: str = "en") -> None:
        self._pattern = re.compile(PATTERN)
        self._before_verb = re.compile(BEFORE_VERB)
        self._after_ask = re.compile(AFTER_ASK)
        super().__init__(supported_entities=[self.ENTITY], supported_language=supported_language,
                         name="PersonCueRecognizer")

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        """Cue-introduced names, trimmed of trailing words that are not names."""
        results = []
        for match in self._pattern.finditer(text):
            words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", match.group("name"))]
            while words and words[-1][2].strip(".") in NOT_NAMES:
                words.pop()
            if not words or words[0][2] in NOT_NAMES:
                continue
            start, end = match.start("name"), match.start("name") + words[-1][1]
            results.append(match_result(self, self.ENTITY, start, end, self.SCORE))
        for match in (*self._before_verb.finditer(text), *self._after_ask.finditer(text)):
            # A sentence may start with a business word ("Support Ananya Rivera called"): drop those.
            words = [m.span() for m in re.finditer(r"\S+", text[:match.end("name")]) if m.start() >= match.start("name")]
            while words and text[words[0][0]:words[0][1]] in NOT_PERSON_WORDS:
                words.pop(0)
            if len(words) >= 2 and not any(text[a:b] in NOT_PERSON_WORDS for a, b in words):
                results.append(match_result(self, self.ENTITY, words[0][0], words[-1][1], self.SCORE))
        return results
