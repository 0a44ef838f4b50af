"""The one way slmconvert's recognizers report a match to Presidio."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, RecognizerResult


def match_result(recognizer: EntityRecognizer, entity: str, start: int, end: int, score: float) -> RecognizerResult:
    """A RecognizerResult that names the recognizer that made it (Presidio's explanation fields)."""
    return RecognizerResult(
        entity_type=entity, start=start, end=end, score=score,
        recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: recognizer.name,
                              RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id},
    )
