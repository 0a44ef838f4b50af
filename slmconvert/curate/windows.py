"""Long texts are analysed in overlapping windows: spaCy's memory stays bounded, and no value is
lost where a window is cut.

Consecutive windows overlap by `max_entity + context` characters. So a value of at most
`max_entity` characters lies whole inside the last window that starts at least `context`
characters before it, together with the words before it that Presidio's context enhancer reads.
What a window sees through one of its cuts (a card number cut in two, an e-mail's first half, a
word that only looks like a boundary) is therefore never needed, and is dropped; a view through a
cut that is longer than `max_entity` could be part of a longer value no window saw whole, so the
analysis of that text fails closed.

Recognizers whose matches have no length bound (private-key blocks, tokens, JWTs, addresses) are
plain regular expressions that need no spaCy tokens; they scan the whole text in one pass
instead (see `analyzer.WHOLE_TEXT_RECOGNIZERS`), so no window length limits them.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex as re

from slmconvert.curate.spans import Span

WINDOW_CHARS = 50_000
# The longest value each windowed entity type can take (generous: a bound here is a promise that
# such a value crossing a cut is still seen whole). MAX_ENTITY_CHARS, their maximum, sizes the
# overlap; tests/curate/test_windows.py fails when a windowed recognizer is added without an
# entry or a bounded Presidio pattern can match longer than its entry.
ENTITY_MAX_CHARS = {
    "URL": 2_048,  # what browsers and servers commonly accept
    "EMAIL_ADDRESS": 254,  # RFC 5321 path limit
    "PERSON": 128, "LOCATION": 128, "NRP": 64, "DATE_TIME": 128,  # NER: a few words
    "PHONE_NUMBER": 64, "IP_ADDRESS": 72, "CRYPTO": 64, "IBAN_CODE": 48, "UUID": 36,
    "CREDIT_CARD": 32, "US_DRIVER_LICENSE": 24, "US_BANK_NUMBER": 24, "MEDICAL_LICENSE": 16,
    "MAC_ADDRESS": 17, "US_SSN": 16, "US_ITIN": 16, "US_PASSPORT": 16,
}
MAX_ENTITY_CHARS = max(ENTITY_MAX_CHARS.values())
# Presidio reads up to five words before a match for context ("ssn", "card", "passport").
CONTEXT_CHARS = 256

_LAST_SPACE = re.compile(r"(?r)\s")


class ValueAcrossCut(Exception):
    """A window saw, through its cut, a value longer than any window is sure to see whole."""


@dataclass(frozen=True)
class Windowing:
    """How long texts are cut: window size, longest value seen whole, context kept before it."""

    size: int = WINDOW_CHARS
    max_entity: int = MAX_ENTITY_CHARS
    context: int = CONTEXT_CHARS

    def __post_init__(self) -> None:
        if self.overlap * 3 >= self.size:
            raise ValueError(f"windows of {self.size} characters cannot overlap by {self.overlap}")

    @property
    def overlap(self) -> int:
        """Characters shared by consecutive windows."""
        return self.max_entity + self.context

    def cuts(self, text: str) -> list[tuple[int, int]]:
        """[start, end) of each window; consecutive windows share at least `overlap` characters.

        Cuts fall after a line break, else after whitespace, where there is one in the second half
        of the window; correctness does not depend on it (minified JSON has neither)."""
        n = len(text)
        windows: list[tuple[int, int]] = []
        start = 0
        while start + self.size < n:
            end = _boundary(text, start + self.size // 2, start + self.size)
            windows.append((start, end))
            # Never later than end - overlap; after whitespace when there is some shortly before.
            start = _boundary(text, max(start + 1, end - self.overlap * 3 // 2), end - self.overlap)
        windows.append((start, n))
        return windows

    def keep(self, span: Span, window: tuple[int, int], text_length: int) -> bool:
        """False for a view through an inner cut of the window (another window saw the value
        whole); raises ValueAcrossCut when that view is too long for any window to be sure."""
        start, end = window
        at_cut = (span.start == start and start > 0) or (span.end == end and end < text_length)
        if not at_cut:
            return True
        if span.end - span.start > self.max_entity:
            raise ValueAcrossCut(f"a {span.entity} value longer than {self.max_entity} characters crosses "
                                 "a window cut; its call is filtered rather than half scrubbed")
        return False


def _boundary(text: str, low: int, high: int) -> int:
    """The position after the last line break in text[low:high], else after its last whitespace,
    else high."""
    newline = text.rfind("\n", low, high)
    if newline >= 0:
        return newline + 1
    space = _LAST_SPACE.search(text, low, high)
    return space.end() if space else high


def merge_window_spans(spans: list[Span]) -> list[Span]:
    """One span per value seen by several windows: identical spans once, overlapping spans of the
    same entity as their union (the highest score), sorted."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.entity, s.start, -s.end)):
        last = merged[-1] if merged else None
        if last is not None and last.entity == span.entity and span.start < last.end:
            merged[-1] = last._replace(end=max(last.end, span.end), score=max(last.score, span.score))
        else:
            merged.append(span)
    return sorted(merged)
