"""Detected entity spans and how overlapping detections are settled into one replacement plan."""

from __future__ import annotations

from typing import NamedTuple

SECRET_PREFIX = "SECRET_"

# Higher wins when two detections overlap; secrets first so a key is never half-replaced.
_PRIORITY = {
    "EMAIL_ADDRESS": 80,
    "CREDIT_CARD": 70,
    "IBAN_CODE": 70,
    "US_SSN": 70,
    "US_ITIN": 68,
    "PHONE_NUMBER": 60,
    "STREET_ADDRESS": 55,
    "IP_ADDRESS": 50,
    "CRYPTO": 50,
    "MAC_ADDRESS": 50,
    "US_PASSPORT": 45,
    "US_DRIVER_LICENSE": 44,
    "US_BANK_NUMBER": 43,
    "MEDICAL_LICENSE": 42,
    "PERSON": 40,
    "URL": 35,
    "LOCATION": 30,
}


class Span(NamedTuple):
    """One detection: [start, end) in the analysed text, its entity type and score."""

    start: int
    end: int
    entity: str
    score: float = 1.0


def is_secret(entity: str) -> bool:
    """Secrets are never pseudonymised with a look-alike, only replaced by a placeholder."""
    return entity.startswith(SECRET_PREFIX)


def priority(entity: str) -> int:
    """Rank of an entity type when detections collide."""
    return 100 if is_secret(entity) else _PRIORITY.get(entity, 20)


def resolve_overlaps(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans sorted by start; the strongest detection wins and swallows overlaps.

    A span that only partly overlaps the winner widens the winner, so no character that any
    detector flagged is ever left in the output.
    """
    ranked = sorted(spans, key=lambda s: (-priority(s.entity), -s.score, -(s.end - s.start), s.start))
    accepted: list[Span] = []
    for span in ranked:
        merged = False
        for i, kept in enumerate(accepted):
            if span.start < kept.end and kept.start < span.end:
                if span.start < kept.start or span.end > kept.end:
                    accepted[i] = kept._replace(start=min(kept.start, span.start), end=max(kept.end, span.end))
                merged = True
                break
        if not merged:
            accepted.append(span)
    # Widening can make two accepted spans touch; repeat until stable.
    accepted.sort()
    out: list[Span] = []
    for span in accepted:
        if out and span.start < out[-1].end:
            prev = out[-1]
            winner = prev if priority(prev.entity) >= priority(span.entity) else span
            out[-1] = winner._replace(start=prev.start, end=max(prev.end, span.end))
        else:
            out.append(span)
    return out


def shift(spans: list[Span], offset: int) -> list[Span]:
    """Spans moved by offset characters (leaf analysis mapped back into its container text)."""
    return [s._replace(start=s.start + offset, end=s.end + offset) for s in spans]
